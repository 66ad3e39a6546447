package history

import (
	"slices"
	"testing"
)

func TestInt2Array(t *testing.T) {
	for _, ps := range [][]int{nil, {0}, {2, 5, 7}} {
		got, err := DecodeInt2Array(Int2Array(ps))
		if err != nil || !slices.Equal(got, ps) {
			t.Errorf("%v: got %v, %v", ps, got, err)
		}
	}
}

func TestWrittenHash(t *testing.T) {
	a := WrittenHash([][]byte{[]byte("k"), nil, []byte("")}, []int{1, 2})
	b := WrittenHash([][]byte{[]byte("k"), []byte(""), nil}, []int{1, 2})
	c := WrittenHash([][]byte{[]byte("x"), nil, []byte("")}, []int{1, 2})
	if a == b {
		t.Error("NULL and the empty value hash alike")
	}
	if a != c {
		t.Error("the key, not written, changes the hash")
	}
	if WrittenHash([][]byte{nil, []byte("a"), []byte("b")}, []int{1}) == WrittenHash([][]byte{nil, []byte("a"), []byte("b")}, []int{2}) {
		t.Error("positions are not hashed")
	}
}

func TestActor(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"ROWFORM_ACTOR=ada", "GITHUB_ACTIONS=true", "GITHUB_ACTOR=octo"}, "ada"},
		{[]string{"GITHUB_ACTIONS=true", "GITHUB_ACTOR=octo", "USER=u"}, "octo (GitHub Actions)"},
		{[]string{"GITLAB_CI=true", "GITLAB_USER_LOGIN=gl"}, "gl (GitLab CI)"},
		{[]string{"CIRCLECI=true"}, "CircleCI"},
	} {
		if got := Actor(c.env); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
	if got := Actor([]string{"USER=someone"}); len(got) < len("someone@") || got[:8] != "someone@" {
		t.Errorf("OS user: %q", got)
	}
}
