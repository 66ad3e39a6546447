package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// link is a throttling TCP proxy in front of one server: what a slow link
// (an SSH bastion, another region) does to everything that reads or writes
// through it. Each direction is limited to its own rate by a token bucket
// that all connections through the link share, as they would share one
// network path, and counts the bytes that crossed it.
type link struct {
	target string
	ln     net.Listener
	// toServer and toClient throttle and count the two directions.
	toServer, toClient *bucket
	wg                 sync.WaitGroup
	mu                 sync.Mutex
	conns              map[net.Conn]bool
	closed             bool
}

// newLink listens on a free port of 127.0.0.1 and forwards each connection
// to target, each direction at most bitsPerSecond.
func newLink(target string, bitsPerSecond float64) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{target: target, ln: ln, toServer: newBucket(bitsPerSecond / 8), toClient: newBucket(bitsPerSecond / 8),
		conns: map[net.Conn]bool{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// port is the port the link listens on.
func (l *link) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// counts returns the bytes sent to the server and received from it since
// the last reset.
func (l *link) counts() (sent, received int64) {
	return l.toServer.bytes.Load(), l.toClient.bytes.Load()
}

// reset sets both byte counts to zero.
func (l *link) reset() {
	l.toServer.bytes.Store(0)
	l.toClient.bytes.Store(0)
}

func (l *link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		l.conns[c], l.conns[s] = true, true
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(s, c, l.toServer)
		go l.pipe(c, s, l.toClient)
	}
}

// pipe copies from r to w through b until either side ends, then closes
// both.
func (l *link) pipe(w, r net.Conn, b *bucket) {
	defer l.wg.Done()
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b.take(n)
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	// Half-close is not needed by the PostgreSQL protocol: end both.
	r.Close()
	w.Close()
	l.mu.Lock()
	delete(l.conns, r)
	delete(l.conns, w)
	l.mu.Unlock()
}

// close stops listening, ends every connection and waits for the copies.
func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.ln.Close()
	l.wg.Wait()
}

// bucket is a token bucket of rate bytes per second, shared by every
// connection of one direction of a link. A burst of at most burst bytes
// passes at once; beyond it, take sleeps until the bytes are paid for.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
	bytes  atomic.Int64
}

func newBucket(bytesPerSecond float64) *bucket {
	burst := bytesPerSecond / 100 // 10 ms of the link
	if burst < 32<<10 {
		burst = 32 << 10
	}
	return &bucket{rate: bytesPerSecond, burst: burst, tokens: burst, last: time.Now()}
}

// take pays for n bytes, sleeping as long as the bucket is in debt: the
// bytes of every connection through the direction add to one debt, so
// together they never pass faster than the rate (beyond one burst).
func (b *bucket) take(n int) {
	b.bytes.Add(int64(n))
	b.mu.Lock()
	now := time.Now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
	b.tokens -= float64(n)
	var wait time.Duration
	if b.tokens < 0 {
		wait = time.Duration(-b.tokens / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
}
