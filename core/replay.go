package core

// replay answers r with a completed record's response (steps 7 and 10):
// the stored status, headers (filtered again, so a record written under
// other rules never replays Set-Cookie or hop-by-hop headers) and body,
// with Idempotency-Status: Repeated.
func (e *Engine) replay(r *request, rec *Record) error {
	if _, ok := e.cfg.serializer.(BinarySerializer); ok {
		return e.replayBinary(r, rec.Payload)
	}
	resp, err := e.cfg.serializer.Decode(rec.Payload)
	if err != nil {
		return e.undecodable(r, err)
	}
	h := resp.Header
	if h == nil {
		h = make(map[string][]string, 2)
	} else {
		e.cfg.headers.filterReplay(h)
	}
	h["Idempotency-Status"] = statusRepeated
	if e.cfg.replayedHeader {
		h["Idempotent-Replayed"] = valueTrue
	}
	r.ex.Reply(resp.Status, h, resp.Body)
	e.replayed(r, resp.Status, len(resp.Body))
	return nil
}

// replayBinary is replay for the built-in encoding: the record is checked
// whole, then its headers and body are written straight from the payload,
// without decoding them into a header map first.
func (e *Engine) replayBinary(r *request, payload []byte) error {
	rules := &e.cfg.headers
	p, err := parseBinary(payload, rules)
	if err != nil {
		return e.undecodable(r, err)
	}
	p.setHeaders(rules, r.ex)
	r.ex.SetHeader("Idempotency-Status", statusRepeated)
	if e.cfg.replayedHeader {
		r.ex.SetHeader("Idempotent-Replayed", valueTrue)
	}
	r.ex.Reply(p.status, nil, p.body)
	e.replayed(r, p.status, len(p.body))
	return nil
}

func (e *Engine) undecodable(r *request, err error) error {
	e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "stored response could not be decoded"})
	return e.refuse(r, OutcomeStoreError, newProblem(ProblemCorruptRecord, 500, "the stored response for this key could not be read"))
}

func (e *Engine) replayed(r *request, status, size int) {
	e.countDuplicate(r, status)
	r.answered(OutcomeRepeated, status)
	r.m.ResponseSize = size
}

// countDuplicate counts a replay of r's key and fires RESPONSE_DUPLICATE
// when the count reaches the threshold, then at each doubling of it.
func (e *Engine) countDuplicate(r *request, status int) {
	if !e.listened() {
		return // the count only feeds an event nobody would receive
	}
	if hits := e.dups.hit(r.storeKey); hits >= e.cfg.duplicateHits && isPow2(hits/e.cfg.duplicateHits) && hits%e.cfg.duplicateHits == 0 {
		e.emit(r, &Event{Type: EventResponseDuplicate, Status: status, Hits: hits})
	}
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

var (
	statusOriginal = []string{"Original"}
	statusRepeated = []string{"Repeated"}
	valueTrue      = []string{"true"}
)
