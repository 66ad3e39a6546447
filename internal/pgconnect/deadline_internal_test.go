package pgconnect

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestWatchedConnGivesUpBothWaysAtOnce: with a write and a read both
// blocked on a peer that sends and takes nothing, the connection gives up
// after its silence in both — the read does not wait a second silence
// because the write was under way when its own deadline first came.
func TestWatchedConnGivesUpBothWaysAtOnce(t *testing.T) {
	const silence = 300 * time.Millisecond
	local, peer := net.Pipe() // synchronous: a write blocks until read
	defer peer.Close()
	c := newWatchedConn(local, silence)
	defer c.Close()
	start := time.Now()
	read := make(chan error, 1)
	var readAfter time.Duration
	go func() {
		_, err := c.Read(make([]byte, 10))
		readAfter = time.Since(start)
		read <- err
	}()
	// The write starts later, so it is under way when the read's first
	// deadline comes, and gives up after the read's.
	time.Sleep(silence / 3)
	_, werr := c.Write(make([]byte, 1<<20))
	rerr := <-read
	if !errors.Is(rerr, ErrNoResponse) || !errors.Is(werr, ErrNoResponse) {
		t.Fatalf("read: %v, write: %v; want both %v", rerr, werr, ErrNoResponse)
	}
	// The write gives up at silence/3 + silence; the read with it, not a
	// silence later.
	if readAfter > silence*3/2+silence/3 {
		t.Errorf("the read gave up %s after the start, want by %s", readAfter, silence/3+silence)
	}
}
