package planner

// ConvertTextForTest converts s with the text codec of a column of type
// oid (numeric with scale >= 0: numeric(p,scale)); ok is false when the
// codec leaves s to the server or the type has none.
func ConvertTextForTest(oid uint32, scale int, s string) ([]byte, bool) {
	if oid == oidNumeric && scale >= 0 {
		return numericValue(nil, s, scale)
	}
	c := codecFor(oid)
	if c == nil {
		return nil, false
	}
	return c(nil, s)
}
