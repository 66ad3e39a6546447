package executor

// WithBulkHistoryRows returns opts with the number of recorded rows from
// which a run keeps them in a table of its own set to n, for a test.
func WithBulkHistoryRows(opts Options, n int64) Options {
	opts.bulkHistoryRows = n
	return opts
}
