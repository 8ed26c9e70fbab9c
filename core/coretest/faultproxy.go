package coretest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Direction is one way through a FaultProxy.
type Direction int

const (
	// Upstream is client to server: requests.
	Upstream Direction = iota
	// Downstream is server to client: replies.
	Downstream
)

// FaultProxy is a TCP proxy on loopback that sits between a client and a
// server (Redis, PostgreSQL) and plays network faults: added latency per
// direction, stalls (bytes held for a while, as a slow or paused server or
// a congested link does), and connection resets. Bytes keep their order
// on each connection, as TCP's do: a byte behind a held one waits for it.
//
// It exists for store fault tests: a client library that times out and
// resends a command whose reply was merely late must not make the store
// conflict with itself.
type FaultProxy struct {
	ln     net.Listener
	target string
	dirs   [2]faultDir

	mu     sync.Mutex
	pairs  map[*proxyPair]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
}

type faultDir struct {
	latency    atomic.Int64 // ns added to every chunk
	stallUntil atomic.Int64 // unix ns: chunks read before it are held
	hold       atomic.Int64 // ns a stalled chunk is held
	stalled    atomic.Int64 // chunks held by a stall
}

type proxyPair struct {
	client, server *net.TCPConn
	done           chan struct{}
	once           sync.Once
}

func (pp *proxyPair) close(reset bool) {
	pp.once.Do(func() {
		if reset {
			_ = pp.client.SetLinger(0)
			_ = pp.server.SetLinger(0)
		}
		_ = pp.client.Close()
		_ = pp.server.Close()
		close(pp.done)
	})
}

// NewFaultProxy listens on a free loopback port and forwards every
// connection to target. It is closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &FaultProxy{ln: ln, target: target, pairs: map[*proxyPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients dial instead of the target's.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (p *FaultProxy) Accepted() int64 { return p.accepted.Load() }

// SetLatency delays every byte that travels in direction d by latency
// from now on (0 removes it).
func (p *FaultProxy) SetLatency(d Direction, latency time.Duration) {
	p.dirs[d].latency.Store(int64(latency))
}

// Stall holds every byte that arrives in direction d during the next
// window for hold after its arrival (at least its latency), on every
// connection: a reply stalled past the client's read timeout has been
// executed by the server but reaches no one, since the client gives up on
// the connection.
func (p *FaultProxy) Stall(d Direction, window, hold time.Duration) {
	p.dirs[d].hold.Store(int64(hold))
	p.dirs[d].stallUntil.Store(time.Now().Add(window).UnixNano())
}

// Stalled counts the chunks of bytes a stall held in direction d.
func (p *FaultProxy) Stalled(d Direction) int64 { return p.dirs[d].stalled.Load() }

// Reset resets every open connection (both sides get a TCP RST, bytes in
// flight are lost) and returns how many there were. New connections are
// accepted as before.
func (p *FaultProxy) Reset() int {
	p.mu.Lock()
	pairs := make([]*proxyPair, 0, len(p.pairs))
	for pp := range p.pairs {
		pairs = append(pairs, pp)
	}
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.close(true)
	}
	return len(pairs)
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Reset()
	p.wg.Wait()
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		pp := &proxyPair{client: c.(*net.TCPConn), server: s.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pp.close(true)
			return
		}
		p.pairs[pp] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		p.accepted.Add(1)
		go p.pump(pp, pp.client, pp.server, &p.dirs[Upstream])
		go p.pump(pp, pp.server, pp.client, &p.dirs[Downstream])
	}
}

type chunk struct {
	b  []byte
	at time.Time // when it may be written
}

// pump copies src to dst, each chunk no earlier than its release time,
// and closes the pair when src ends. It reads on while a chunk is held, so
// that a stall does not shift the arrival times of the bytes behind it; a
// bounded queue keeps memory bounded.
func (p *FaultProxy) pump(pp *proxyPair, src, dst *net.TCPConn, fd *faultDir) {
	defer p.wg.Done()
	q := make(chan chunk, 256)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				now := time.Now()
				at := now.Add(time.Duration(fd.latency.Load()))
				if now.UnixNano() < fd.stallUntil.Load() {
					if h := now.Add(time.Duration(fd.hold.Load())); h.After(at) {
						at = h
					}
					fd.stalled.Add(1)
				}
				select {
				case q <- chunk{append([]byte(nil), buf[:n]...), at}:
				case <-pp.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		pp.close(false)
		<-readDone
		p.mu.Lock()
		delete(p.pairs, pp)
		p.mu.Unlock()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-pp.done:
				return
			}
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
	// src ended (EOF or error) and its bytes are through: the pair goes
	// down with it, as Redis and PostgreSQL connections never half-close.
}
