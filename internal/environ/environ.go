// Package environ reads an environment given as a list in os.Environ form
// ("NAME=value"). rowform never reads the process's environment below
// main: every command, configuration load, tunnel and test gets its
// environment as such a list, and reads it through this package, so that
// a name set twice means the same everywhere — the last setting wins, as in
// a shell.
package environ

import "strings"

// Lookup returns the value of the variable name in env and whether it is
// set (possibly to ""). When name is set more than once, the last wins.
func Lookup(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Get is Lookup's value: "" when name is not set.
func Get(env []string, name string) string {
	v, _ := Lookup(env, name)
	return v
}

// Map returns env as a map, the last setting of a name winning. Entries
// without "=" or with an empty name are left out.
func Map(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
