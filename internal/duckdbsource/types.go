package duckdbsource

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// typeNames returns DuckDB's name of a column type and the PostgreSQL
// type closest to it.
func typeNames(info duckdb.TypeInfo) (string, string) {
	t := info.InternalType()
	if info.Alias() == "JSON" {
		return "JSON", "jsonb"
	}
	switch t {
	case duckdb.TYPE_DECIMAL:
		if d, ok := info.Details().(*duckdb.DecimalDetails); ok {
			return fmt.Sprintf("DECIMAL(%d,%d)", d.Width, d.Scale), fmt.Sprintf("numeric(%d,%d)", d.Width, d.Scale)
		}
		return "DECIMAL", "numeric"
	case duckdb.TYPE_LIST, duckdb.TYPE_ARRAY, duckdb.TYPE_STRUCT, duckdb.TYPE_MAP, duckdb.TYPE_UNION:
		return typeKinds[t].duck, "jsonb"
	}
	if k, ok := typeKinds[t]; ok {
		return k.duck, k.pg
	}
	return "unknown", "text"
}

var typeKinds = map[duckdb.Type]struct{ duck, pg string }{
	duckdb.TYPE_BOOLEAN:      {"BOOLEAN", "boolean"},
	duckdb.TYPE_TINYINT:      {"TINYINT", "smallint"},
	duckdb.TYPE_SMALLINT:     {"SMALLINT", "smallint"},
	duckdb.TYPE_INTEGER:      {"INTEGER", "integer"},
	duckdb.TYPE_BIGINT:       {"BIGINT", "bigint"},
	duckdb.TYPE_UTINYINT:     {"UTINYINT", "smallint"},
	duckdb.TYPE_USMALLINT:    {"USMALLINT", "integer"},
	duckdb.TYPE_UINTEGER:     {"UINTEGER", "bigint"},
	duckdb.TYPE_UBIGINT:      {"UBIGINT", "numeric(20,0)"},
	duckdb.TYPE_HUGEINT:      {"HUGEINT", "numeric(39,0)"},
	duckdb.TYPE_UHUGEINT:     {"UHUGEINT", "numeric(39,0)"},
	duckdb.TYPE_BIGNUM:       {"BIGNUM", "numeric"},
	duckdb.TYPE_FLOAT:        {"FLOAT", "real"},
	duckdb.TYPE_DOUBLE:       {"DOUBLE", "double precision"},
	duckdb.TYPE_DATE:         {"DATE", "date"},
	duckdb.TYPE_TIME:         {"TIME", "time"},
	duckdb.TYPE_TIME_TZ:      {"TIME WITH TIME ZONE", "timetz"},
	duckdb.TYPE_TIMESTAMP:    {"TIMESTAMP", "timestamp"},
	duckdb.TYPE_TIMESTAMP_S:  {"TIMESTAMP_S", "timestamp"},
	duckdb.TYPE_TIMESTAMP_MS: {"TIMESTAMP_MS", "timestamp"},
	duckdb.TYPE_TIMESTAMP_NS: {"TIMESTAMP_NS", "timestamp"},
	duckdb.TYPE_TIMESTAMP_TZ: {"TIMESTAMP WITH TIME ZONE", "timestamptz"},
	duckdb.TYPE_INTERVAL:     {"INTERVAL", "interval"},
	duckdb.TYPE_VARCHAR:      {"VARCHAR", "text"},
	duckdb.TYPE_BLOB:         {"BLOB", "bytea"},
	duckdb.TYPE_UUID:         {"UUID", "uuid"},
	duckdb.TYPE_ENUM:         {"ENUM", "text"},
	duckdb.TYPE_BIT:          {"BIT", "varbit"},
	duckdb.TYPE_SQLNULL:      {"NULL", "text"},
	duckdb.TYPE_LIST:         {"LIST", "jsonb"},
	duckdb.TYPE_ARRAY:        {"ARRAY", "jsonb"},
	duckdb.TYPE_STRUCT:       {"STRUCT", "jsonb"},
	duckdb.TYPE_MAP:          {"MAP", "jsonb"},
	duckdb.TYPE_UNION:        {"UNION", "jsonb"},
}

// textExpr is the DuckDB expression that writes expr, of type t, as text
// PostgreSQL reads as the same value.
func textExpr(expr string, t duckdb.Type, isJSON bool) string {
	if isJSON {
		// A JSON value cast to VARCHAR keeps the JSON alias, which the
		// driver would decode; a concatenation is plain text.
		return "(CAST(" + expr + " AS VARCHAR) || '')"
	}
	switch t {
	case duckdb.TYPE_VARCHAR:
		return expr
	case duckdb.TYPE_BLOB:
		// bytea's hex form; DuckDB's own text form escapes only some bytes.
		return `('\x' || hex(` + expr + `))`
	case duckdb.TYPE_LIST, duckdb.TYPE_ARRAY, duckdb.TYPE_STRUCT, duckdb.TYPE_MAP, duckdb.TYPE_UNION:
		return "CAST(to_json(" + expr + ") AS VARCHAR)"
	}
	return "CAST(" + expr + " AS VARCHAR)"
}

// statementKind names a statement type as SQL writes it.
func statementKind(t duckdb.StmtType) string {
	switch t {
	case duckdb.STATEMENT_TYPE_INSERT:
		return "INSERT"
	case duckdb.STATEMENT_TYPE_UPDATE:
		return "UPDATE"
	case duckdb.STATEMENT_TYPE_DELETE:
		return "DELETE"
	case duckdb.STATEMENT_TYPE_EXPLAIN:
		return "EXPLAIN"
	case duckdb.STATEMENT_TYPE_PREPARE:
		return "PREPARE"
	case duckdb.STATEMENT_TYPE_CREATE, duckdb.STATEMENT_TYPE_CREATE_FUNC:
		return "CREATE"
	case duckdb.STATEMENT_TYPE_EXECUTE:
		return "EXECUTE"
	case duckdb.STATEMENT_TYPE_ALTER:
		return "ALTER"
	case duckdb.STATEMENT_TYPE_TRANSACTION:
		return "transaction"
	case duckdb.STATEMENT_TYPE_COPY:
		return "COPY"
	case duckdb.STATEMENT_TYPE_ANALYZE:
		return "ANALYZE"
	case duckdb.STATEMENT_TYPE_VARIABLE_SET, duckdb.STATEMENT_TYPE_SET:
		return "SET"
	case duckdb.STATEMENT_TYPE_DROP:
		return "DROP"
	case duckdb.STATEMENT_TYPE_EXPORT:
		return "EXPORT"
	case duckdb.STATEMENT_TYPE_PRAGMA:
		return "PRAGMA"
	case duckdb.STATEMENT_TYPE_VACUUM:
		return "VACUUM"
	case duckdb.STATEMENT_TYPE_CALL:
		return "CALL"
	case duckdb.STATEMENT_TYPE_LOAD:
		return "INSTALL or LOAD" // DuckDB gives both this type
	case duckdb.STATEMENT_TYPE_EXTENSION:
		return "INSTALL"
	case duckdb.STATEMENT_TYPE_ATTACH:
		return "ATTACH"
	case duckdb.STATEMENT_TYPE_DETACH:
		return "DETACH"
	}
	return ""
}

// serializedError reads json_serialize_sql's result: nil for one SELECT
// statement, else what is wrong.
func serializedError(s string) error {
	var out struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
		Position     json.RawMessage   `json:"position"`
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return fmt.Errorf("cannot parse the query: %v", err)
	}
	if out.Error {
		// Only SELECT statements serialize; any other statement that parses
		// is refused with this message.
		if strings.Contains(out.ErrorMessage, "Only SELECT") {
			return &NotQueryError{}
		}
		msg := out.ErrorMessage
		if out.ErrorType != "" && !strings.Contains(msg, "Error:") {
			msg = strings.ToUpper(out.ErrorType[:1]) + out.ErrorType[1:] + " Error: " + msg
		}
		return fmt.Errorf("%s", msg)
	}
	if len(out.Statements) != 1 {
		return &NotQueryError{Kind: "several statements"}
	}
	return nil
}
