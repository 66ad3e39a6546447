package planner

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Key types. The diff matches keys by their bytes, or by the canonical
// form keyequality.go computes for types whose equality is coarser. Any
// other type might have such an equality too (a composite of numerics, a
// cube with -0, a multirange of numerics), under which the unique index
// would match a source key the diff does not: an insert the index
// refuses, in a mirror a delete and an insert that lose the row's other
// columns, in update_only a row silently left alone. So a key column must
// be of a type known to compare by its bytes, or one with a canonical
// form: keyTypeProblem says why another is refused.

// byteEqualTypes are the built-in types whose equal values have equal bytes
// (as the diff reads them).
var byteEqualTypes = map[uint32]bool{
	16: true, 17: true, 18: true, 19: true, 20: true, 21: true, 23: true, 25: true, 26: true, // bool bytea "char" name int8 int2 int4 text oid
	650: true, 774: true, 790: true, 829: true, 869: true, // cidr macaddr8 money macaddr inet
	1043: true, 1082: true, 1083: true, 1114: true, 1184: true, 1266: true, // varchar date time timestamp timestamptz timetz
	1560: true, 1562: true, 2950: true, 3220: true, 3614: true, // bit varbit uuid pg_lsn tsvector
	3904: true, 3908: true, 3910: true, 3912: true, 3926: true, // int4range tsrange tstzrange daterange int8range
	4451: true, 4533: true, 4534: true, 4535: true, 4536: true, // their multiranges
}

// keyTypeProblem returns why a key column of type oid (typmod mod), which
// has no canonical form (canonOf), cannot be matched as the unique index
// matches it, or "" when it can. Domains are followed to their base type,
// arrays to their element type.
//
// nondeterministic: the column's collation is nondeterministic, which
// rematch.go handles for scalar keys only.
func keyTypeProblem(ctx context.Context, conn *pgx.Conn, oid uint32, mod int32, nondeterministic bool) (string, error) {
	inArray := false
	for depth := 0; depth < 8; depth++ {
		switch oid {
		case oidNumeric, oidFloat4, oidFloat8, oidInterval, oidNumrange, oidJSONB:
			// Reached inside an array only: canonOf has these, and the
			// arrays of them it has, whatever domains lead to them.
			return "an array whose elements compare by value, not bytes, and which rowform has no canonical form for", nil
		case oidBpchar:
			if mod >= 0 || !inArray {
				return "", nil // padded to its length; a scalar's text drops the blanks
			}
			return "an array of char without a length (its elements compare without their trailing blanks)", nil
		}
		if byteEqualTypes[oid] {
			return "", nil
		}
		var typtype, name string
		var base, elem uint32
		var typmod int32
		var citext bool
		err := conn.QueryRow(ctx, `
SELECT t.typtype::text, format_type(t.oid, NULL), t.typbasetype, t.typtypmod,
       CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END, t.typname = 'citext' AND t.oid >= 16384
FROM pg_type t WHERE t.oid = $1`, oid).Scan(&typtype, &name, &base, &typmod, &elem, &citext)
		if err != nil {
			return "", fmt.Errorf("reading the key's type: %w", err)
		}
		switch {
		case typtype == "d":
			oid, mod = base, typmod
			continue
		case typtype == "e":
			return "", nil // an enum's values are its labels
		case citext:
			// Inside an array: canonOf has citext itself.
			return "an array of citext (its elements compare case-insensitively)", nil
		case elem != 0 && nondeterministic:
			return "an array under a nondeterministic collation (its elements compare under it)", nil
		case elem != 0:
			oid, inArray = elem, true
			continue
		}
		return fmt.Sprintf("of type %s, whose equality rowform does not know to be byte equality", name), nil
	}
	return "a type nested too deeply", nil
}

// keyTypes refuses key columns whose type has no canonical form (canonOf)
// and that keyTypeProblem refuses.
func (st *preparation) keyTypes() {
	s, t := st.s, st.t
	for _, k := range s.Key {
		dc := t.Column(k)
		if dc == nil || canonOf(newColumn(k, k, *dc, false)) != canonNone {
			continue
		}
		why, err := keyTypeProblem(st.ctx, st.dst, dc.TypeOID, dc.TypeMod, dc.NondeterministicCollation)
		if err != nil {
			st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
			return
		}
		if why == "" {
			continue
		}
		st.add(Finding{Severity: SeverityError, Code: CodeTypeMismatch,
			Summary: fmt.Sprintf("the key column %q of %s is %s: rowform cannot match its keys as the unique index does", k, s.Table.String(), why),
			Detail: "The unique index may hold a source key equal to a stored one whose bytes differ (numeric 1.0 and 1.00 inside a composite, -0 and 0), which rowform would plan as an insert the index refuses (in a mirror, a delete and an insert that lose the row's other columns). " +
				"Key the sync on columns of other types, e.g. a text or integer column that identifies the rows."})
	}
}
