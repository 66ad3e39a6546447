package cli

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
)

// TestSensitiveValuesNotInServerErrors: a server error that quotes a value
// of a sensitive column — a source query that fails on it (a cast, json), a
// write refused at apply with the row or the key in its detail — is shown
// with the value masked, at plan and at apply, in every format.
func TestSensitiveValuesNotInServerErrors(t *testing.T) {
	const value = "Zqxv.Secret@Example.Com"
	setup := func(t *testing.T, query string) *synctest.Env {
		e := synctest.New(t)
		e.Src(`CREATE TABLE users (id int, email text, doc text)`)
		e.Src(`INSERT INTO users VALUES (1, $1, $1), (2, 'zqxv2@x', '{}')`, value)
		e.Dst(`CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, doc jsonb)`)
		e.WriteFile("main.hcl", e.Servers()+`
sync "users" {
  source            = source.postgres.src
  query             = "`+query+`"
  destination       = destination.postgres.dst
  table             = "users"
  behavior          = "mirror"
  key               = ["id"]
  sensitive_columns = ["email", "doc"]
}
`)
		return e
	}
	noValue := func(t *testing.T, e *synctest.Env, code int, want string, args ...string) {
		t.Helper()
		r := runCLIWith(t, e.Environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		out := r.stdout + r.stderr
		if r.code != code {
			t.Errorf("%s: exit code %d, want %d\n%s", strings.Join(args, " "), r.code, code, out)
		}
		if strings.Contains(strings.ToLower(out), strings.ToLower(value)) || strings.Contains(strings.ToLower(out), "zqxv") {
			t.Errorf("%s shows the sensitive value:\n%s", strings.Join(args, " "), out)
		}
		if testing.Verbose() {
			t.Logf("%s:\n%s", strings.Join(args, " "), out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s does not say %q:\n%s", strings.Join(args, " "), want, out)
		}
	}
	t.Run("source_query_cast", func(t *testing.T) {
		e := setup(t, "SELECT id, email, doc::jsonb AS doc FROM users WHERE id = 2 OR email::int > 0")
		for _, args := range [][]string{{"plan"}, {"plan", "-json"}, {"plan", "-format=markdown"}, {"apply", "-auto-approve"}, {"apply", "-json", "-auto-approve"}} {
			noValue(t, e, exitError, "invalid input syntax for type integer", args...)
		}
	})
	t.Run("source_query_json", func(t *testing.T) {
		e := setup(t, "SELECT id, email, doc::jsonb AS doc FROM users")
		for _, args := range [][]string{{"plan"}, {"plan", "-json"}, {"apply", "-auto-approve"}} {
			noValue(t, e, exitError, "invalid input syntax for type json", args...)
		}
	})
	t.Run("apply_failing_row", func(t *testing.T) {
		e := setup(t, "SELECT id, email FROM users")
		// The plan's checks see the rows as sent; a trigger upper-cases the
		// email and the CHECK refuses the row at apply.
		e.Dst(`ALTER TABLE users ADD CHECK (email = lower(email))`)
		e.Dst(`CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.email := upper(NEW.email); RETURN NEW; END$$`)
		e.Dst(`CREATE TRIGGER shout BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION shout()`)
		e.Src(`UPDATE users SET email = lower(email)`)
		noValue(t, e, exitError, "check constraint", "apply", "-auto-approve")
		noValue(t, e, exitError, "check constraint", "apply", "-json", "-auto-approve")
	})
	t.Run("apply_duplicate_key", func(t *testing.T) {
		e := setup(t, "SELECT id, email FROM users")
		// A trigger writes the email into a table where it already exists.
		e.Dst(`CREATE TABLE seen (email text UNIQUE)`)
		e.Dst(`INSERT INTO seen VALUES ($1)`, value)
		e.Dst(`CREATE FUNCTION remember() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO seen VALUES (NEW.email); RETURN NEW; END$$`)
		e.Dst(`CREATE TRIGGER remember AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION remember()`)
		noValue(t, e, exitError, "already exists", "apply", "-auto-approve")
	})
}
