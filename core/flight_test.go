package core

import "testing"

func (fs *flights) len() int {
	n := 0
	for i := range fs.shards {
		sh := &fs.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// TestFlightRegistry: a claim that ends between a waiter's Begin and its
// join is not missed; flights are removed when they end or their last
// waiter leaves; a leaving leader hands the lead on.
func TestFlightRegistry(t *testing.T) {
	var fs flights
	sh, h := fs.shard("k")
	g := sh.gen.Load()
	fs.claimEnded("k") // after the waiter's Begin, before its join
	if f, _ := sh.join("k", h, g); f != nil {
		t.Fatal("joined a flight for a claim that ended since its Begin")
	}
	// Many other keys ending does not make a waiter look again, unless
	// too many to tell.
	g = sh.gen.Load()
	other := 0
	for i := 0; other < recentEnds; i++ {
		k := string(rune('a' + i))
		if s2, _ := fs.shard(k); s2 == sh && k != "k" {
			fs.claimEnded(k)
			other++
		}
	}
	f, lead := sh.join("k", h, g)
	if f == nil || !lead {
		t.Fatalf("join = %v, %v; want a flight to lead", f, lead)
	}
	f2, lead2 := sh.join("k", h, sh.gen.Load())
	if f2 != f || lead2 {
		t.Fatal("a second waiter did not join the flight as a follower")
	}
	orphan, _ := sh.state(f)
	sh.leave(f, true)
	select {
	case <-orphan:
	default:
		t.Fatal("the leader left without handing on the lead")
	}
	if !sh.promote(f) || sh.promote(f) {
		t.Fatal("promote: want exactly one new leader")
	}
	stopped := 0
	if !sh.watched(f, func() { stopped++ }) {
		t.Fatal("watched refused a live flight")
	}
	sh.leave(f, true)
	if fs.len() != 0 || stopped != 1 {
		t.Fatalf("after the last waiter left: %d flights, watch stopped %d times", fs.len(), stopped)
	}
	f, _ = sh.join("k", h, sh.gen.Load())
	sh.watched(f, func() { stopped++ })
	fs.claimEnded("k")
	select {
	case <-f.done:
	default:
		t.Fatal("claimEnded did not end the flight")
	}
	sh.leave(f, true)
	if fs.len() != 0 || stopped != 2 {
		t.Fatalf("after the flight ended: %d flights, watch stopped %d times", fs.len(), stopped)
	}
}
