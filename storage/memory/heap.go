package memory

// heap is a 4-ary min-heap of entries by deadline. Each slot carries its
// entry's deadline, so that ordering reads only the heap's own array (a
// node's four children share one cache line) and touches an entry only to
// record its new index; removing or re-ordering one entry costs O(log n).
type heap []slot

type slot struct {
	at int64 // the entry's deadline()
	e  *entry
}

func (h *heap) push(e *entry) {
	i := len(*h)
	*h = append(*h, slot{e.deadline(), e})
	h.up(i)
}

// top returns the entry with the earliest deadline; the heap must not be
// empty.
func (h heap) top() *entry { return h[0].e }

func (h *heap) remove(e *entry) {
	s := *h
	i, last := int(e.idx), len(s)-1
	if i != last {
		s[i] = s[last]
		s[i].e.idx = int32(i)
	}
	s[last] = slot{}
	*h = s[:last]
	if i != last && !h.down(i) {
		h.up(i)
	}
	e.idx = -1
}

// fix restores the order after e's deadline changed.
func (h *heap) fix(e *entry) {
	i := int(e.idx)
	(*h)[i].at = e.deadline()
	if !h.down(i) {
		h.up(i)
	}
}

func (h *heap) up(i int) {
	s := *h
	x := s[i]
	for i > 0 {
		p := (i - 1) / 4
		if s[p].at <= x.at {
			break
		}
		s[i] = s[p]
		s[i].e.idx = int32(i)
		i = p
	}
	s[i] = x
	x.e.idx = int32(i)
}

// down moves the slot at i towards the leaves and reports whether it
// moved.
func (h *heap) down(i int) bool {
	s := *h
	n := len(s)
	x := s[i]
	start := i
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if s[j].at < s[m].at {
				m = j
			}
		}
		if x.at <= s[m].at {
			break
		}
		s[i] = s[m]
		s[i].e.idx = int32(i)
		i = m
	}
	s[i] = x
	x.e.idx = int32(i)
	return i > start
}
