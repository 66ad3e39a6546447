package views

import (
	"io"

	"github.com/rowform/rowform/planner"
)

// RenderPlanJSON writes p as the plan's JSON document (docs/ci.md, JSON) (`plan -json`,
// `show -json`): the plan model's own encoding (planner.Plan.MarshalIndent),
// indented, followed by a newline. Arrays of the document are always
// arrays, never null: "syncs", each sync's "key" and "findings", and each
// sample row's "key" and "columns". An empty format_version is written as
// planner.FormatVersion. p is not modified.
func RenderPlanJSON(w io.Writer, p *planner.Plan) error {
	if p == nil {
		return errNilPlan
	}
	out, err := normalizedPlan(p).MarshalIndent()
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// normalizedPlan returns a copy of p whose nil slices are empty, sharing
// nothing that it changes with p.
func normalizedPlan(p *planner.Plan) *planner.Plan {
	c := *p
	if c.FormatVersion == "" {
		c.FormatVersion = planner.FormatVersion
	}
	c.Syncs = make([]*planner.SyncPlan, 0, len(p.Syncs))
	for _, s := range p.Syncs {
		if s == nil {
			continue
		}
		sc := *s
		sc.Key = nonNil(sc.Key)
		sc.Findings = nonNil(sc.Findings)
		if s.Samples != nil {
			sm := planner.Samples{
				Insert: normalizedRows(s.Samples.Insert),
				Update: normalizedRows(s.Samples.Update),
				Delete: normalizedRows(s.Samples.Delete),
			}
			sc.Samples = &sm
		}
		c.Syncs = append(c.Syncs, &sc)
	}
	return &c
}

func normalizedRows(rows []planner.SampleRow) []planner.SampleRow {
	if rows == nil {
		return nil // omitted from the JSON: "samples" keys are optional
	}
	out := make([]planner.SampleRow, len(rows))
	for i, r := range rows {
		out[i] = planner.SampleRow{Key: nonNil(r.Key), Columns: nonNil(r.Columns)}
	}
	return out
}

// nonNil returns s, or an empty slice when s is nil, so it encodes as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
