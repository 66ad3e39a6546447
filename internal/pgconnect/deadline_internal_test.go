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

// TestWatchedConnCountsSilenceFromTheLastByte: a read that saw bytes go the
// other way while it waited (a COPY's rows written beside the read of the
// server's answer) gives up a silence after those bytes, not a silence
// after its own first deadline: a frozen destination was given up after
// twice -statement-timeout's response timeout.
func TestWatchedConnCountsSilenceFromTheLastByte(t *testing.T) {
	const silence = 400 * time.Millisecond
	local, peer := net.Pipe()
	defer peer.Close()
	c := newWatchedConn(local, silence)
	defer c.Close()
	go func() { _, _ = peer.Read(make([]byte, 100)) }() // takes one write, then nothing
	start := time.Now()
	read := make(chan error, 1)
	var readAfter time.Duration
	go func() {
		_, err := c.Read(make([]byte, 10))
		readAfter = time.Since(start)
		read <- err
	}()
	time.Sleep(silence / 2)
	if _, err := c.Write([]byte("rows")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; !errors.Is(err, ErrNoResponse) {
		t.Fatalf("read: %v, want %v", err, ErrNoResponse)
	}
	// The write was at silence/2: the read gives up at silence*3/2, not at
	// 2*silence (its first deadline at silence, then a silence more).
	if readAfter > silence*7/4 {
		t.Errorf("the read gave up %s after the start, want by %s", readAfter, silence*3/2)
	}
}
