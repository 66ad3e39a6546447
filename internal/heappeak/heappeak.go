// Package heappeak measures, for tests that bound memory, how far the Go
// heap in use grows while a function runs.
package heappeak

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Every is how often Of samples the heap.
const Every = time.Millisecond

// Of runs fn and returns how far the heap in use (runtime.MemStats'
// HeapAlloc) grew past what it was before fn, after a collection, at most,
// sampled every Every: a peak shorter than that may be missed.
func Of(fn func()) int64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(Every):
			}
		}
	}()
	fn()
	close(stop)
	<-sampled
	return int64(peak.Load()) - int64(base.HeapAlloc)
}
