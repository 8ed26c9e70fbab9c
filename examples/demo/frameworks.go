package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/echoapp"
	"github.com/idemkit/idempotency/examples/internal/echov5app"
	"github.com/idemkit/idempotency/examples/internal/fiberapp"
	"github.com/idemkit/idempotency/examples/internal/fiberv3app"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// framework is one example app as the demo runs it. Adding a framework is
// one entry in frameworks plus its start func; the scenarios, checks and
// table are shared.
type framework struct {
	name string
	// start serves the framework's example app, built on store and s, on
	// ln until the returned stop func is called. It owns ln from then on.
	// A func rather than an http.Handler because Fiber does not serve
	// through net/http.
	start func(ln net.Listener, store core.Store, s *shop.Shop) (stop func(context.Context) error, err error)
}

// demoRecordKey signs the records the demo stores (core.WithRecordKeys),
// as SPEC §4 wants signing on in the examples. It is a FIXED, PUBLIC KEY
// FOR THE DEMO ONLY, which signs nothing anyone should trust: a real
// server takes its own random secret (at least core.MinRecordSecret
// bytes, e.g. openssl rand -hex 32) from -signing-key or
// IDEMKIT_SIGNING_KEY, as the example servers do.
var demoRecordKey = core.RecordKey{ID: "demo", Secret: []byte("idemkit demo key - public, not a secret!")}

// demoSigning is the option every engine of the demo gets.
func demoSigning() core.Option { return core.WithRecordKeys(demoRecordKey) }

// frameworks lists the apps the demo plays the scenarios against, in
// table order. The first is the reference the others must answer
// byte for byte like.
var frameworks = []framework{
	{name: "gin", start: startGin},
	{name: "echo", start: startEcho},
	{name: "echov5", start: startEchoV5},
	{name: "fiber", start: startFiber},
	{name: "fiberv3", start: startFiberV3},
}

func startGin(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
	gin.SetMode(gin.ReleaseMode) // keep Gin's debug banner out of the table
	h, err := ginapp.New(store, s, demoSigning())
	if err != nil {
		return nil, err
	}
	return serveHTTP(ln, h), nil
}

func startEcho(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
	e, err := echoapp.New(store, s, demoSigning())
	if err != nil {
		return nil, err
	}
	return serveHTTP(ln, e), nil
}

func startEchoV5(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
	e, err := echov5app.New(store, s, demoSigning())
	if err != nil {
		return nil, err
	}
	return serveHTTP(ln, e), nil
}

func startFiber(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
	app, err := fiberapp.New(store, s, demoSigning())
	if err != nil {
		return nil, err
	}
	go func() { _ = app.Listener(ln) }() // returns after Shutdown
	return app.ShutdownWithContext, nil
}

func startFiberV3(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
	app, err := fiberv3app.New(store, s, demoSigning())
	if err != nil {
		return nil, err
	}
	go func() { _ = app.Listener(ln, fiberv3app.ListenConfig()) }() // returns after Shutdown
	return app.ShutdownWithContext, nil
}

// serveHTTP serves h on ln in the background, for the frameworks whose
// router is an http.Handler (Gin, Echo v4 and v5), and returns its graceful stop.
func serveHTTP(ln net.Listener, h http.Handler) func(context.Context) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns ErrServerClosed after Shutdown
	return srv.Shutdown
}
