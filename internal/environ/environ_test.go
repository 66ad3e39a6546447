package environ

import (
	"maps"
	"testing"
)

func TestLookup(t *testing.T) {
	env := []string{"A=1", "B=", "A=3", "C", "=x", "D=a=b"}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{{"A", "3", true}, {"B", "", true}, {"C", "", false}, {"D", "a=b", true}, {"E", "", false}, {"", "x", true}} {
		if v, ok := Lookup(env, tc.name); v != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.name, v, ok, tc.want, tc.ok)
		}
	}
	if Get(env, "A") != "3" || Get(env, "E") != "" {
		t.Errorf("Get: A=%q E=%q", Get(env, "A"), Get(env, "E"))
	}
	if got, want := Map(env), map[string]string{"A": "3", "B": "", "D": "a=b"}; !maps.Equal(got, want) {
		t.Errorf("Map = %v, want %v", got, want)
	}
}
