package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Source queries that read the clock or draw random values.
//
// A postgres source's query that calls now(), CURRENT_TIMESTAMP, random()
// and the like returns other values each time it runs: a plan reads it
// once and an apply of that plan again, later, in another transaction.
// Where the call gives values the sync writes (now() AS synced_at), every
// apply of a saved plan finds it stale, and every plan updates every row;
// where it only decides which rows the query keeps (WHERE occurred_at >
// now() - interval '30 days'), a plan is stale when a row crossed the line
// in between. rowform asks the source server how it runs the query
// (EXPLAIN VERBOSE, which names every call, in views and functions it
// inlines too) and looks for those calls; a duckdb source's query is read
// by DuckDB's parser (duckdbsource.MovingCalls). A call among the values
// is the warning volatile_source at plan time, and a stale apply of either
// kind says which call moved (Prepared.SourceClock). A call inside a
// function the server does not inline or a DuckDB view, and a 'now'
// literal (which PostgreSQL turns into a constant when it plans the
// query), are not seen.

// CodeVolatileSource: the source query (postgres or duckdb) calls a
// function that returns another value each time it runs, among the values
// the sync writes.
const CodeVolatileSource Code = "volatile_source"

// movingFunctions are the built-in functions (and the uuid-ossp and
// pgcrypto ones) whose value differs from one run of a query to the next.
var movingFunctions = map[string]bool{
	"now": true, "clock_timestamp": true, "statement_timestamp": true, "transaction_timestamp": true, "timeofday": true,
	"random": true, "random_normal": true, "gen_random_uuid": true, "gen_random_bytes": true,
	"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true,
}

// movingKeywords are the SQL value functions of the clock, as EXPLAIN
// spells them (upper case, without parentheses unless given a precision).
var movingKeywords = map[string]bool{
	"CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true, "LOCALTIMESTAMP": true, "LOCALTIME": true,
}

// sourceClock is what of the clock (or of chance) a source query reads.
type sourceClock struct {
	// calls are the moving calls, as written in the message ("now()",
	// "CURRENT_DATE"), in the order EXPLAIN first shows them.
	calls []string
	// inValues: one of them is among the values of a plan node (its
	// Output), not only in a filter or a join condition.
	inValues bool
}

// explainClock asks src how it runs query and returns the moving calls
// its plan shows. A query the server cannot explain (it was prepared
// already, so this is rare) shows none: the check is advice, never a
// reason to stop. Inside a transaction the EXPLAIN runs under a savepoint
// (tryQuery), so that its failure leaves the transaction usable.
func explainClock(ctx context.Context, src *pgx.Conn, query string) sourceClock {
	var lines []string
	err := tryQuery(ctx, src, func() error {
		rows, err := src.Query(ctx, "EXPLAIN (VERBOSE, COSTS OFF) "+query, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return sourceClock{}
	}
	return clockIn(lines)
}

// clockIn finds the moving calls in the lines of an EXPLAIN VERBOSE plan.
// It reads them as the server deparses expressions: '...' constants and
// "..." names (each doubling its quote) hold no calls; a call is a name,
// schema-qualified or not, followed by '('; the clock's SQL value
// functions are upper-case words.
func clockIn(lines []string) sourceClock {
	var out sourceClock
	seen := map[string]bool{}
	for _, line := range lines {
		text := strings.TrimLeft(line, " ->")
		values := strings.HasPrefix(text, "Output: ")
		for i := 0; i < len(text); {
			c := text[i]
			switch {
			case c == '\'' || c == '"':
				i = quotedEnd(text, i, c, false)
			case isIdentStart(c):
				j := i
				for j < len(text) && (isIdentChar(text[j]) || text[j] == '.') {
					j++
				}
				word := text[i:j]
				name := word[strings.LastIndexByte(word, '.')+1:]
				var call string
				switch {
				case j < len(text) && text[j] == '(' && movingFunctions[strings.ToLower(name)]:
					call = strings.ToLower(name) + "()"
				case movingKeywords[word]:
					call = word
				}
				if call != "" {
					if !seen[call] {
						seen[call] = true
						out.calls = append(out.calls, call)
					}
					out.inValues = out.inValues || values
				}
				i = j
			default:
				i++
			}
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80
}

// volatileSource reads what the postgres source's query reads of the clock
// (Prepared.SourceClock) and warns when it is among the values written.
func (st *preparation) volatileSource() {
	st.warnClock(explainClock(st.ctx, st.src, trimQuery(st.s.Query)))
}

// warnClock keeps what the source query reads of the clock for a stale
// apply to name (Prepared.SourceClock), and warns when it is among the
// values written.
func (st *preparation) warnClock(clock sourceClock) {
	st.p.clock = clock
	if !clock.inValues {
		return
	}
	st.add(Finding{Severity: SeverityWarning, Code: CodeVolatileSource,
		Summary: fmt.Sprintf("the query of sync %q calls %s, which gives other values each time it runs: every plan changes the rows it writes, and a saved plan of the sync is stale at its apply", st.s.Name, strings.Join(clock.calls, ", ")),
		Detail:  "The plan reads the source once and `apply FILE` reads it again, later, so the values differ and the apply refuses the plan as stale. Compute such a value on the destination instead (a column DEFAULT, or a trigger, and leave the column out of the sync), or run `rowform apply -auto-approve`, which plans and applies in one transaction."})
}

// SourceClock says what the source query reads of the clock or of chance,
// for a stale apply to name it: calls is "" when it calls nothing that
// moves (or the source is a CSV file), else the calls ("now(),
// random()"); inValues says whether one is among the values the query
// returns, not only in a condition that chooses its rows.
func (p *Prepared) SourceClock() (calls string, inValues bool) { return p.clock.describe() }

func (c sourceClock) describe() (string, bool) { return strings.Join(c.calls, ", "), c.inValues }
