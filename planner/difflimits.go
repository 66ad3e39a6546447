package planner

import "context"

// diffLimitsKey is the context key of a diff's hash limits.
type diffLimitsKey struct{}

// withHashLimits returns ctx carrying limits for the hash diffs run under
// it (tests lower them to force spills and splits without touching
// anything shared, so that they can run in parallel).
func withHashLimits(ctx context.Context, limits hashLimits) context.Context {
	return context.WithValue(ctx, diffLimitsKey{}, limits)
}

// hashLimitsFrom is the hash limits ctx carries, else the defaults.
func hashLimitsFrom(ctx context.Context) hashLimits {
	if l, ok := ctx.Value(diffLimitsKey{}).(hashLimits); ok {
		return l.withDefaults()
	}
	return defaultHashLimits().withDefaults()
}
