package core

// replay answers r with a completed record's response (steps 7 and 10):
// the stored status, headers (filtered again, so a record written under
// other rules never replays Set-Cookie or hop-by-hop headers) and body,
// with Idempotency-Status: Repeated.
func (e *Engine) replay(r *request, rec *Record) error {
	resp, err := e.cfg.serializer.Decode(rec.Payload)
	if err != nil {
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "stored response could not be decoded"})
		return e.refuse(r, OutcomeStoreError, newProblem(ProblemCorruptRecord, 500, "the stored response for this key could not be read"))
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
	e.countDuplicate(r, resp.Status)
	r.answered(OutcomeRepeated, resp.Status)
	r.m.ResponseSize = len(resp.Body)
	return nil
}

// countDuplicate counts a replay of r's key and fires RESPONSE_DUPLICATE
// when the count reaches the threshold, then at each doubling of it.
func (e *Engine) countDuplicate(r *request, status int) {
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
