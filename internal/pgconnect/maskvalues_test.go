package pgconnect_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/pgtest"
)

// TestMaskValues: on a connection opened with MaskValues, every server error
// that quotes a value which may be a sensitive column's shows it masked —
// with its SQLSTATE, constraint and the rest of the message intact — and a
// key whose columns are not sensitive is still shown. Without sensitive
// columns nothing changes.
func TestMaskValues(t *testing.T) {
	c := pgtest.Start(t)
	pgtest.Exec(t, c, "", `CREATE TYPE mood AS ENUM ('happy');
		CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE CHECK (email <> 'Zqxv-check'), n int NOT NULL DEFAULT 0, EXCLUDE (n WITH =) WHERE (n > 100));
		CREATE TABLE child (id int, email text REFERENCES u (email));
		CREATE TABLE ex (email text, EXCLUDE USING btree (email WITH =));
		CREATE TABLE vals (tsv text, tsq text, reg text);
		INSERT INTO vals VALUES ('Zqxv q:x', 'Zqxv & & q', 'Zqxv.nothing');
		INSERT INTO u VALUES (1, 'Zqxv-dup', 0)`)
	s := server(c, "disable", "")
	open := func(sensitive ...string) *pgx.Conn {
		cfg, err := pgconnect.Config(s, "rowform/test")
		if err != nil {
			t.Fatal(err)
		}
		pgconnect.MaskValues(cfg, sensitive)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgconnect.ConnectConfig(ctx, s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	masked, plain := open("email"), open()
	cases := []struct {
		sql, code string
		keep      string // what the masked message must still say
	}{
		{`SELECT 'Zqxv-int'::int`, "22P02", `invalid input syntax for type integer: "(sensitive)"`},
		{`SELECT 'Zqxv"quote"'::int`, "22P02", `invalid input syntax for type integer: "(sensitive)"`},
		{`SELECT 'Zqxv-enum'::mood`, "22P02", "invalid input value for enum mood"},
		{`SELECT '{"a": Zqxv}'::jsonb`, "22P02", "invalid input syntax for type json"},
		{`SELECT '99999999999Zqxv'::numeric::int`, "22P02", "invalid input syntax for type numeric"},
		{`SELECT '9999999999'::int4`, "22003", "out of range for type integer"},
		{`SELECT to_date('Zqxv', 'YYYY')`, "22007", "invalid value"},
		{`SELECT convert_from('\x5a717876e9'::bytea, 'UTF8')`, "22021", `invalid byte sequence for encoding "UTF8"`},
		{`INSERT INTO u VALUES (2, 'Zqxv-dup')`, "23505", "Key (email)=(sensitive) already exists."},
		{`INSERT INTO u VALUES (3, 'Zqxv-check')`, "23514", "Failing row contains (sensitive)."},
		{`INSERT INTO u VALUES (4, NULL, NULL)`, "23502", "Failing row contains (sensitive)."},
		{`INSERT INTO child VALUES (1, 'Zqxv-fk')`, "23503", "Key (email)=(sensitive) is not present in table"},
		{`INSERT INTO u VALUES (5, 'a', 101), (6, 'b', 101)`, "23P01", "Key (n)=(101) conflicts with existing key (n)=(101)."},
		{`INSERT INTO ex VALUES ('Zqxv-ex'), ('Zqxv-ex')`, "23P01", "Key (email)=(sensitive) conflicts with existing key (email)=(sensitive)."},
		// Input errors of other classes, from a row's value (no position
		// in the query): tsvector, tsquery and the reg* types.
		{`SELECT tsv::tsvector FROM vals`, "42601", `syntax error in tsvector: "(sensitive)"`},
		{`SELECT tsq::tsquery FROM vals`, "42601", `syntax error in tsquery: "(sensitive)"`},
		{`SELECT reg::regclass FROM vals`, "3F000", `schema "(sensitive)" does not exist`},
		{`SELECT lower(reg)::regclass FROM vals`, "3F000", `does not exist`},
		{`SELECT 'Zqxvnothing'::text::regproc FROM vals`, "42883", `function "(sensitive)" does not exist`},
		{`SELECT 'Zqxvnothing'::text::regtype FROM vals`, "42704", `type "(sensitive)" does not exist`},
		{`SELECT 'Zqxvnothing'::text::regrole FROM vals`, "42704", `role "(sensitive)" does not exist`},
		{`SELECT 'Zqxvnothing'::text::regclass FROM vals`, "42P01", `relation "(sensitive)" does not exist`},
		{`DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '22000', MESSAGE = 'bad "Zqxv"', DETAIL = 'Key (email)=(Zqxv) x'; END$$`, "22000", "message is not shown"},
		// A value that holds what an encoding error quotes (0x41) is
		// masked whole, as any other value.
		{`SELECT '0x41 Zqxv'::int`, "22P02", `invalid input syntax for type integer: "(sensitive)"`},
		// Messages in words no one can foresee: a trigger's RAISE (with a
		// hint), an invalid name, an assertion show only their SQLSTATE.
		{`DO $$BEGIN RAISE EXCEPTION 'refusing ssn % for %', 'Zqxv-ssn', 'x' USING HINT = 'Zqxv-hint', DETAIL = 'Zqxv-detail'; END$$`, "P0001", "message is not shown"},
		{`SELECT set_config('Zqxv@secret.io', 'x', true)`, "42602", "message is not shown"},
		{`DO $$BEGIN ASSERT false, 'Zqxv-assert'; END$$`, "P0004", "message is not shown"},
		// A RAISE with the SQLSTATE of an integrity error, or a data
		// exception's without quotes, is the function's words all the same.
		{`DO $$BEGIN RAISE EXCEPTION 'invalid ssn %', 'Zqxv-ssn' USING ERRCODE = 'check_violation'; END$$`, "23514", "message is not shown"},
		{`DO $$BEGIN RAISE EXCEPTION 'invalid ssn %', 'Zqxv-ssn' USING ERRCODE = '22023'; END$$`, "22023", "message is not shown"},
		// A statement a function ran, quoted in the context of an
		// integrity error.
		{`DO $$BEGIN EXECUTE 'INSERT INTO u VALUES (1, ''Zqxv-ctx'')'; END$$`, "23505", "already exists"},
	}
	ctx := context.Background()
	for _, tc := range cases {
		var pgErr *pgconn.PgError
		_, err := masked.Exec(ctx, tc.sql)
		if !errors.As(err, &pgErr) {
			t.Errorf("%s: got %v, want a server error", tc.sql, err)
			continue
		}
		all := strings.Join([]string{pgErr.Message, pgErr.Detail, pgErr.Where, pgErr.InternalQuery, pgErr.Hint}, " | ")
		if strings.Contains(all, "Zqxv") || strings.Contains(all, "0x") {
			t.Errorf("%s: the value shows: %s", tc.sql, all)
		}
		if pgErr.Code != tc.code || !strings.Contains(all, tc.keep) {
			t.Errorf("%s: got %s %s, want %s and %q", tc.sql, pgErr.Code, all, tc.code, tc.keep)
		}
		var plainErr *pgconn.PgError
		if _, err := plain.Exec(ctx, tc.sql); !errors.As(err, &plainErr) || plainErr.Code != tc.code {
			t.Errorf("%s without sensitive columns: %v", tc.sql, err)
		}
	}
	// An error of the query's own text (it has a position) is shown: it
	// quotes the query, not a row.
	var queryErr *pgconn.PgError
	if _, err := masked.Exec(ctx, `SELECT * FROM no_such_table_here`); !errors.As(err, &queryErr) || !strings.Contains(queryErr.Message, `relation "no_such_table_here" does not exist`) {
		t.Errorf("an error in the query's text: %v", err)
	}
	// A key of columns that are not sensitive is shown; so is the plain
	// connection's value.
	var pgErr *pgconn.PgError
	if _, err := masked.Exec(ctx, `INSERT INTO u VALUES (1, 'x')`); !errors.As(err, &pgErr) || pgErr.Detail != "Key (id)=(1) already exists." {
		t.Errorf("a key that is not sensitive: %v (detail %q)", err, pgErr.Detail)
	}
	if _, err := plain.Exec(ctx, `SELECT 'Zqxv-int'::int`); err == nil || !strings.Contains(err.Error(), "Zqxv") {
		t.Errorf("without sensitive columns the message changed: %v", err)
	}
	// The connection stays usable after masked errors, in and out of
	// transactions, and long results pass through unchanged.
	var n int64
	var sum string
	if err := masked.QueryRow(ctx, `SELECT count(*), md5(string_agg(repeat(i::text, 1000), ',' ORDER BY i)) FROM generate_series(1, 20000) i`).Scan(&n, &sum); err != nil || n != 20000 {
		t.Fatalf("a long result after masked errors: %v %d", err, n)
	}
	var want string
	if err := plain.QueryRow(ctx, `SELECT md5(string_agg(repeat(i::text, 1000), ',' ORDER BY i)) FROM generate_series(1, 20000) i`).Scan(&want); err != nil || want != sum {
		t.Fatalf("the result differs through the masking reader: %v", err)
	}
}
