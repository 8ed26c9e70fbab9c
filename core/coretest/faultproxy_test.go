package coretest

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with itself.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
	return time.Since(start)
}

func TestFaultProxy(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if d := roundTrip(t, c, r); d > 100*time.Millisecond {
		t.Fatalf("plain round trip took %v", d)
	}

	p.SetLatency(Upstream, 30*time.Millisecond)
	p.SetLatency(Downstream, 20*time.Millisecond)
	if d := roundTrip(t, c, r); d < 50*time.Millisecond {
		t.Fatalf("round trip with 30+20 ms of latency took %v", d)
	}
	p.SetLatency(Upstream, 0)
	p.SetLatency(Downstream, 0)

	p.Stall(Downstream, 50*time.Millisecond, 150*time.Millisecond)
	if d := roundTrip(t, c, r); d < 150*time.Millisecond {
		t.Fatalf("stalled round trip took %v, want at least the 150 ms hold", d)
	}
	if p.Stalled(Downstream) != 1 || p.Stalled(Upstream) != 0 {
		t.Fatalf("stalled chunks: down %d, up %d", p.Stalled(Downstream), p.Stalled(Upstream))
	}
	if d := roundTrip(t, c, r); d > 100*time.Millisecond {
		t.Fatalf("round trip after the stall window took %v", d)
	}

	if n := p.Reset(); n != 1 {
		t.Fatalf("Reset reset %d connections, want 1", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("read on a reset connection succeeded")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	roundTrip(t, c2, bufio.NewReader(c2))
	if p.Accepted() != 2 {
		t.Fatalf("accepted %d connections, want 2", p.Accepted())
	}
}
