package synctest

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GrantHistory gives role what recording applies in the destination's
// history needs (docs/history.md): the history schema "rowform", owned by
// role, as the fix of the plan's missing_privilege finding creates it.
// Tests of restricted roles call it rather than turning the history off,
// so that their applies are recorded as in production.
func (e *Env) GrantHistory(role string) {
	e.t.Helper()
	e.Dst(fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS rowform AUTHORIZATION %s", pgx.Identifier{role}.Sanitize()))
}
