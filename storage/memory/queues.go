package memory

// maxQueues bounds the lists of a shard's queues. Each distinct TTL gets
// its own list while there are at most this many; beyond, records share
// the list of the nearest TTL and are inserted in order from its tail.
const maxQueues = 16

// queues keeps a shard's completed records in order of expiry, as one
// doubly-linked list per TTL: records of one TTL complete in order of
// expiry, so a record joins its list at the tail, and the record closest
// to expiry is the earliest of the lists' heads. Adding, removing and
// finding the first record cost O(1) for the few TTLs that routes use,
// and never touch another record's memory than the list neighbours'.
type queues struct {
	qs []queue
	n  int // records in all lists
}

type queue struct {
	ttl        int64
	head, tail *entry
	n          int
}

// push adds the completed entry e, kept for ttl, and records in e.idx
// which list holds it.
func (q *queues) push(e *entry, ttl int64) {
	i := q.pick(ttl)
	l := &q.qs[i]
	p := l.tail
	for p != nil && p.exp > e.exp { // only when the clock stepped back or lists are shared
		p = p.prev
	}
	e.prev = p
	if p == nil {
		e.next = l.head
		l.head = e
	} else {
		e.next = p.next
		p.next = e
	}
	if e.next == nil {
		l.tail = e
	} else {
		e.next.prev = e
	}
	l.n++
	q.n++
	e.idx = int32(i)
}

// pick returns the list for ttl: its own, an empty one, a new one, or the
// one with the nearest TTL.
func (q *queues) pick(ttl int64) int {
	free := -1
	for i := range q.qs {
		if q.qs[i].ttl == ttl {
			return i
		}
		if free < 0 && q.qs[i].n == 0 {
			free = i
		}
	}
	if free >= 0 {
		q.qs[free].ttl = ttl
		return free
	}
	if len(q.qs) < maxQueues {
		q.qs = append(q.qs, queue{ttl: ttl})
		return len(q.qs) - 1
	}
	best := 0
	for i := range q.qs {
		if absDiff(q.qs[i].ttl, ttl) < absDiff(q.qs[best].ttl, ttl) {
			best = i
		}
	}
	return best
}

func absDiff(a, b int64) uint64 {
	if a > b {
		return uint64(a - b)
	}
	return uint64(b - a)
}

func (q *queues) remove(e *entry) {
	l := &q.qs[e.idx]
	if e.prev == nil {
		l.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		l.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
	q.n--
	e.idx = -1
}

// first returns the record closest to expiry, or nil.
func (q *queues) first() *entry {
	var f *entry
	for i := range q.qs {
		if h := q.qs[i].head; h != nil && (f == nil || h.exp < f.exp) {
			f = h
		}
	}
	return f
}
