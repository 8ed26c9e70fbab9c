// Package routertest runs idemhttp's conformance suite (core/coretest)
// on chi and gorilla/mux, with the route getters idemhttp.WithRoute
// documents for them. It is a module of its own, never published, so
// that neither router reaches the root module's go.mod: idemhttp itself
// imports only the standard library.
package routertest
