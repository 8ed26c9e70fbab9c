package core

// Hooks turns framework-typed functions into Options, so that every
// adapter offers the same typed hooks for its own context type, as
// otelgin's WithGinFilter does for gin: WithSkipper, WithUserGetter,
// WithScopeGetter and WithKeyGetter of idemgin (*gin.Context), idemecho
// (echo.Context), idemfiber (*fiber.Ctx) and idemhttp (*http.Request)
// are built on it. Users of an adapter need not use Hooks directly.
//
// From returns the framework context behind a Request, and false for a
// Request of another framework. It is required: options of a Hooks
// without From make New fail.
type Hooks[C any] struct {
	From func(Request) (C, bool)
}

// noFrom is the option of a Hooks without From, which can map no
// request: it fails at construction rather than panic on a request.
func noFrom() Option {
	return optionFunc(func(*config) error { return invalid("core.Hooks without From") })
}

// Skipper returns an option that lets a request pass through untouched
// (no idempotency, no headers) when skip returns true (see WithSkip).
// nil removes the skip function.
func (h Hooks[C]) Skipper(skip func(C) bool) Option {
	if h.From == nil {
		return noFrom()
	}
	if skip == nil {
		return WithSkip(nil)
	}
	return WithSkip(func(r Request) bool {
		c, ok := h.From(r)
		return ok && skip(c)
	})
}

// UserGetter returns an option that reads the user of the user scopes
// (see WithUserResolver). An empty user is the anonymous space. nil
// removes the user resolver. Given another framework's request, the user
// scopes refuse it (500, ErrForeignRequest) rather than treat every user
// as anonymous, which would let one user replay another's responses.
func (h Hooks[C]) UserGetter(user func(C) string) Option {
	if h.From == nil {
		return noFrom()
	}
	if user == nil {
		return WithUserResolver(nil)
	}
	return optionFunc(func(cfg *config) error {
		cfg.userResolver = func(r Request) (string, bool) {
			c, ok := h.From(r)
			if !ok {
				return "", false
			}
			return user(c), true
		}
		return nil
	})
}

// ScopeGetter returns an option that computes each request's scope (see
// WithScopeResolver). An error is the server's, answered 500.
func (h Hooks[C]) ScopeGetter(scope func(C) (string, error)) Option {
	if h.From == nil {
		return noFrom()
	}
	if scope == nil {
		return WithScopeResolver(nil)
	}
	return WithScopeResolver(ScopeResolverFunc(func(r Request) (string, error) {
		c, ok := h.From(r)
		if !ok {
			return "", ErrForeignRequest
		}
		return scope(c)
	}))
}

// KeyGetter returns an option that reads each request's idempotency key
// (see WithKeyExtractor): found is false when the request carries none,
// err is for a key that is present but malformed (400). The key is still
// validated (WithKeyValidator).
func (h Hooks[C]) KeyGetter(key func(C) (key string, found bool, err error)) Option {
	if h.From == nil {
		return noFrom()
	}
	if key == nil {
		return WithKeyExtractor(nil)
	}
	return WithKeyExtractor(KeyExtractorFunc(func(r Request) (string, bool, error) {
		c, ok := h.From(r)
		if !ok {
			return "", false, ErrForeignRequest
		}
		return key(c)
	}))
}
