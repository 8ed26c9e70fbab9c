package coretest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

// App is the framework-neutral application behind the adapter suite. Each
// harness routes requests to Exec through its framework's own idioms and
// writes the Output back the same way, so the suite sees what a real user
// of that framework would.
type App struct {
	mu    sync.Mutex
	count map[string]int
	tx    TxBackend // tx=1 inserts through it; nil: the in-memory TxStore
}

// NewApp returns an App with zeroed counters.
func NewApp() *App { return &App{count: map[string]int{}} }

// Input is what a harness hands to Exec.
type Input struct {
	Method string
	// Route names the route: "items" or "other".
	Route string
	// ID is the :id path parameter.
	ID string
	// Query returns a query parameter.
	Query func(name string) string
	// Body is the request body as the handler read it (after the
	// middleware fingerprinted it).
	Body []byte
	// User is the value the user middleware stored, if any.
	User string
	// Ctx is the context the framework's handlers take for downstream
	// calls: c.Request.Context() (gin), c.Request().Context() (echo),
	// c.UserContext() (fiber).
	Ctx context.Context
	// FrameworkCtx is the framework's own context where it is a
	// context.Context itself (gin's *gin.Context, fiber's c.Context()),
	// else nil.
	FrameworkCtx context.Context
}

// Output is what the handler answers; harnesses write it with their
// framework's API.
type Output struct {
	Status int
	Header http.Header
	Body   []byte
	// Stream asks the harness to write Body in two flushed chunks (gin
	// c.Stream / echo Flush / fiber SetBodyStreamWriter).
	Stream bool
	// Panic asks the harness to panic with "coretest panic".
	Panic bool
	// PanicAfterWrite asks the harness to write the response as usual,
	// then panic with "coretest panic".
	PanicAfterWrite bool
	// Err asks the harness to fail the handler with the framework's own
	// error mechanism (return an error in Echo and Fiber, c.AbortWithError
	// in Gin). ErrStatus, when not 0, is the error's HTTP status
	// (echo.NewHTTPError, fiber.NewError, AbortWithError's code);
	// otherwise the error is a plain one (Gin: status 500).
	Err       bool
	ErrStatus int
	// EventStream asks the harness to answer Body as text/event-stream
	// with the framework's usual API, without flushing (gin c.SSEvent or
	// c.Data, echo c.Blob, fiber c.Send).
	EventStream bool
}

var requestIDs atomic.Uint64

// OuterHeaders returns the response headers a harness's outer middleware
// sets before the idempotency middleware runs: a fresh X-Request-Id on
// every response and, for a request with an Origin header, a CORS
// Access-Control-Allow-Origin echoing it. Neither may be stored: a replay
// must carry this request's, set again by the outer middleware.
func OuterHeaders(origin string) [][2]string {
	h := [][2]string{{"X-Request-Id", "req-" + strconv.FormatUint(requestIDs.Add(1), 10)}}
	if origin != "" {
		h = append(h, [2]string{"Access-Control-Allow-Origin", origin})
	}
	return h
}

// Exec runs the application logic and counts the execution. Query
// parameters: status=N answers N; delay=D sleeps D first; panic=1 panics;
// panic=after panics after writing the response;
// error=1 returns a handler error; stream=1 streams; size=N pads the body
// to N bytes; effects=1 declares effects (core.DeclareEffects) with
// in.Ctx first, effects=fw with in.FrameworkCtx, and answers 503 if that
// fails; derived=NAME sets X-Derived-Key to core.DerivedKey(in.Ctx, NAME);
// tx=1 begins the claim's transaction with in.Ctx and inserts a row
// "route/id/n" into it (BeginTx on a TxStore, or the suite's TxBackend),
// and answers 503 if that fails.
func (a *App) Exec(in Input) Output {
	a.mu.Lock()
	a.count[in.Route]++
	n := a.count[in.Route]
	a.mu.Unlock()
	if in.Query("tx") == "1" {
		insert := insertTx
		if a.tx != nil {
			insert = a.tx.Insert
		}
		if err := insert(in.Ctx, in.Route+"/"+in.ID+"/"+strconv.Itoa(n)); err != nil {
			return Output{Status: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"text/plain"}},
				Body: []byte("no transaction: " + err.Error())}
		}
	}
	if fx := in.Query("effects"); fx != "" {
		ctx := in.Ctx
		if fx == "fw" {
			ctx = in.FrameworkCtx
		}
		if err := declareEffects(ctx); err != nil {
			return Output{Status: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"text/plain"}},
				Body: []byte("effects not declared: " + err.Error())}
		}
	}
	if d, err := time.ParseDuration(in.Query("delay")); err == nil {
		time.Sleep(d)
	}
	out := Output{Status: http.StatusCreated, Header: http.Header{}}
	if name := in.Query("derived"); name != "" {
		k, err := core.DerivedKey(in.Ctx, name)
		if err != nil {
			k = "error: " + err.Error()
		}
		out.Header.Set("X-Derived-Key", k)
	}
	if s, err := strconv.Atoi(in.Query("status")); err == nil {
		out.Status = s
	}
	sum := sha256.Sum256(in.Body)
	body := `{"n":` + strconv.Itoa(n) + `,"route":"` + in.Route + `","id":"` + in.ID +
		`","user":"` + in.User + `","body_sha256":"` + hex.EncodeToString(sum[:]) + `"}`
	if size, err := strconv.Atoi(in.Query("size")); err == nil && size > len(body) {
		pad := make([]byte, size-len(body))
		for i := range pad {
			pad[i] = ' '
		}
		body += string(pad)
	}
	out.Body = []byte(body)
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("X-Execution", strconv.Itoa(n))
	out.Header.Set("Location", "/"+in.Route+"/"+in.ID)
	out.Header.Add("X-Multi", "one")
	out.Header.Add("X-Multi", "two")
	out.Header.Set("Set-Cookie", "session=s"+strconv.Itoa(n)+"; Path=/")
	out.Stream = in.Query("stream") == "1"
	out.Panic = in.Query("panic") == "1"
	out.PanicAfterWrite = in.Query("panic") == "after"
	if e := in.Query("error"); e != "" {
		out.Err = true
		out.ErrStatus, _ = strconv.Atoi(e)
		if out.ErrStatus < 400 {
			out.ErrStatus = 0
		}
	}
	if in.Query("sse") == "1" {
		out.EventStream = true
		out.Header.Set("Content-Type", "text/event-stream")
		out.Body = []byte("data: " + strconv.Itoa(n) + "\n\n")
	}
	return out
}

var errNoFrameworkCtx = errors.New("coretest: the harness has no framework context")

func declareEffects(ctx context.Context) error {
	if ctx == nil {
		return errNoFrameworkCtx
	}
	return core.DeclareEffects(ctx)
}

// Count returns how often route ran.
func (a *App) Count(route string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count[route]
}

// BodyHash is the body_sha256 the App reports for body.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
