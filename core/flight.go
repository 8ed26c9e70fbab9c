package core

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// flights is an Engine's registry of keys that requests of this process
// wait on (duplicates of an in-flight request). The requests waiting on
// one key share one flight: it is ended (its done channel closed) when
// this process ends the key's claim (claimEnded), when the store's
// Notifier reports that the claim ended, or when the flight's leader, the
// one waiter that polls or watches the store for the others, finds it
// ended. Each waiter then Begins once more.
//
// Its zero value is ready to use, and costs a request that waits on
// nothing one hash and one atomic load, and the end of a claim one lock.
type flights struct {
	shards [flightShards]flightShard
}

const (
	flightShards = 64
	recentEnds   = 16 // per shard: the claims that ended lately (flightShard.recent)
)

var flightSeed = maphash.MakeSeed()

type flightShard struct {
	mu sync.Mutex
	// gen counts the claims that ended in this shard (claimEnded). A
	// waiter reads it before its Begin and joins a flight only when no
	// claim of its key ended since (recent): a claim that ended between a
	// Begin and the join would otherwise never wake it.
	gen    atomic.Uint64
	recent [recentEnds]uint64 // key hashes, recent[gen%recentEnds] the latest
	m      map[string]*flight
	_      [64]byte // keeps shards off each other's cache lines
}

// flight is one key waited on in this process.
type flight struct {
	key    string
	done   chan struct{} // closed when the key's claim may have ended
	ended  bool          // done is closed
	n      int           // waiters
	leader bool          // a waiter watches or polls the store for the others
	// orphan is closed when the leader leaves before the flight ends,
	// so that another waiter takes its place.
	orphan chan struct{}
	// watch is the store's Notifier watch, owned by the flight: stopped
	// when it ends or its last waiter leaves.
	stop     func()
	watching bool
}

func (fs *flights) shard(key string) (*flightShard, uint64) {
	h := maphash.String(flightSeed, key)
	return &fs.shards[h%flightShards], h
}

// claimEnded is called when this process ends a claim on key (stored,
// settled, released, or given up): the requests of this process waiting
// on it are woken.
func (fs *flights) claimEnded(key string) {
	sh, h := fs.shard(key)
	sh.mu.Lock()
	g := sh.gen.Load() + 1
	sh.recent[g%recentEnds] = h
	sh.gen.Store(g)
	f := sh.m[key]
	var stop func()
	if f != nil {
		stop = sh.end(f)
	}
	sh.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// endedSince reports whether a claim of the key hashed h may have ended
// since generation g. Called with sh.mu held.
func (sh *flightShard) endedSince(g, h uint64) bool {
	now := sh.gen.Load()
	if now == g {
		return false
	}
	if now-g > recentEnds {
		return true // too many to tell: assume so
	}
	for i := g + 1; i <= now; i++ {
		if sh.recent[i%recentEnds] == h {
			return true
		}
	}
	return false
}

// join adds a waiter to key's flight, making one if needed; lead is true
// when the waiter is to lead it. It returns nil when a claim of key may
// have ended in this process since generation g: the caller Begins again
// instead of waiting.
func (sh *flightShard) join(key string, h, g uint64) (f *flight, lead bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.endedSince(g, h) {
		return nil, false
	}
	f = sh.m[key]
	if f == nil {
		if sh.m == nil {
			sh.m = make(map[string]*flight)
		}
		f = &flight{key: key, done: make(chan struct{}), orphan: make(chan struct{})}
		sh.m[key] = f
	}
	f.n++
	if !f.leader {
		f.leader, lead = true, true
	}
	return f, lead
}

// end ends f and returns its watch's stop, to be called once sh.mu is
// released. Called with sh.mu held.
func (sh *flightShard) end(f *flight) (stop func()) {
	if f.ended {
		return nil
	}
	f.ended = true
	close(f.done)
	if sh.m[f.key] == f {
		delete(sh.m, f.key)
	}
	stop, f.stop = f.stop, nil
	return stop
}

// wake ends f: its waiters Begin again.
func (sh *flightShard) wake(f *flight) {
	sh.mu.Lock()
	stop := sh.end(f)
	sh.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// watched records the store watch the leader started for f (stop nil:
// none could be started). It reports false when f has no use for it any
// more (ended, or left by every waiter): the watch is then stopped.
func (sh *flightShard) watched(f *flight, stop func()) bool {
	sh.mu.Lock()
	if f.ended || f.n == 0 {
		sh.mu.Unlock()
		if stop != nil {
			stop()
		}
		return false
	}
	f.stop, f.watching = stop, stop != nil
	sh.mu.Unlock()
	return true
}

// leave removes a waiter from f. A leaving leader hands the lead on; the
// last waiter to leave a flight that has not ended removes it and stops
// its watch.
func (sh *flightShard) leave(f *flight, lead bool) {
	sh.mu.Lock()
	f.n--
	var stop func()
	if !f.ended {
		if f.n == 0 {
			if sh.m[f.key] == f {
				delete(sh.m, f.key)
			}
			stop, f.stop = f.stop, nil
			f.watching = false
		} else if lead {
			f.leader = false
			close(f.orphan)
			f.orphan = make(chan struct{})
		}
	}
	sh.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// state returns what a waiter selects on: f's done and orphan channels
// and whether the flight has a store watch.
func (sh *flightShard) state(f *flight) (orphan <-chan struct{}, watching bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return f.orphan, f.watching
}

// promote makes the caller f's leader when it has none.
func (sh *flightShard) promote(f *flight) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f.ended || f.leader {
		return false
	}
	f.leader = true
	return true
}
