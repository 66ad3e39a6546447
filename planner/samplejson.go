package planner

import (
	"encoding/json"
)

// Null is how a SQL NULL is held in the Go form of sample rows and
// changes: the bare string "NULL". A text value "NULL" is held quoted
// ("\"NULL\"", see renderColumn), so the two never meet. In JSON a NULL is
// null.
const Null = "NULL"

// jsonValue is one value of a sample or change in JSON: null for Null, the
// string otherwise.
func jsonValue(v string) *string {
	if v == Null {
		return nil
	}
	return &v
}

// fromJSONValue is the inverse of jsonValue.
func fromJSONValue(v *string) string {
	if v == nil {
		return Null
	}
	return *v
}

// sampleRowJSON is SampleRow's JSON form.
type sampleRowJSON struct {
	Key     []*string      `json:"key"`
	Columns []SampleColumn `json:"columns"`
}

// MarshalJSON writes the key values with NULL as null.
func (r SampleRow) MarshalJSON() ([]byte, error) {
	out := sampleRowJSON{Columns: r.Columns}
	if r.Key != nil {
		out.Key = make([]*string, len(r.Key))
		for i, k := range r.Key {
			out.Key[i] = jsonValue(k)
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote (and plan files written before
// NULL was null, where it was "NULL").
func (r *SampleRow) UnmarshalJSON(b []byte) error {
	var in sampleRowJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	r.Columns = in.Columns
	r.Key = nil
	if in.Key != nil {
		r.Key = make([]string, len(in.Key))
		for i, k := range in.Key {
			r.Key[i] = fromJSONValue(k)
		}
	}
	return nil
}

// sampleColumnJSON is SampleColumn's JSON form: "before" and "after" are
// always present, null for a NULL.
type sampleColumnJSON struct {
	Name   string  `json:"name"`
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// MarshalJSON writes NULL as null. An insert's before and a delete's after
// stay "" (there is no such value), as in every format_version "1"
// document.
func (c SampleColumn) MarshalJSON() ([]byte, error) {
	return json.Marshal(sampleColumnJSON{Name: c.Name, Before: jsonValue(c.Before), After: jsonValue(c.After)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *SampleColumn) UnmarshalJSON(b []byte) error {
	var in sampleColumnJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*c = SampleColumn{Name: in.Name, Before: fromJSONValue(in.Before), After: fromJSONValue(in.After)}
	return nil
}
