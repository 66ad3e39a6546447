package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 syncs"}, {1, "1 sync"}, {2, "2 syncs"}, {-1, "-1 syncs"}} {
		if got := Count(tc.n, "sync"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if S(1) != "" || S(int64(2)) != "s" || VerbS(1) != "s" || VerbS(3) != "" {
		t.Errorf("S(1)=%q S(2)=%q VerbS(1)=%q VerbS(3)=%q", S(1), S(int64(2)), VerbS(1), VerbS(3))
	}
}
