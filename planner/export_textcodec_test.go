package planner

import "github.com/rowform/rowform/internal/catalog"

// ConvertTextForTest converts s with the text codec of a column of type
// oid (numeric with scale >= 0: numeric(p,scale); timestamp and
// timestamptz with scale >= 0: their precision); ok is false when the
// codec leaves s to the server or the type has none.
func ConvertTextForTest(oid uint32, scale int, s string) ([]byte, bool) {
	if oid == oidNumeric && scale >= 0 {
		return numericValue(nil, s, scale)
	}
	c := codecFor(oid)
	if scale >= 0 {
		// timestamp(scale), timestamptz(scale)
		c = codecForColumn(oid, int32(scale))
	}
	if c == nil {
		return nil, false
	}
	return c(nil, s)
}

// IntervalCutForTest reports whether the limit check refuses v, an
// interval's binary value, for a column of type interval with the type
// modifier typmod.
func IntervalCutForTest(typmod int32, v []byte) bool {
	return limitOf(catalog.Column{TypeOID: oidInterval, TypeMod: typmod, Type: "interval"}).check(v) != ""
}
