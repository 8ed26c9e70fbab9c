package idemecho

import (
	"encoding/json"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
)

var (
	_ echo.HTTPStatusCoder = (*ProblemError)(nil)
	_ echo.ProblemErrorer  = (*ProblemError)(nil)
	_ json.Marshaler       = (*ProblemError)(nil)
)

// ProblemError is the error a refusal returns under WithHTTPErrors: a
// *core.Problem in the shapes Echo v5's error handlers recognise (Echo
// v5's HTTPError has no field to carry it, as v4's Message and Internal
// did).
type ProblemError struct {
	Problem *core.Problem
}

// Error returns the problem's message.
func (e *ProblemError) Error() string { return e.Problem.Error() }

// Unwrap returns the problem, so that errors.As finds the *core.Problem.
func (e *ProblemError) Unwrap() error { return e.Problem }

// StatusCode returns the problem's status (echo.HTTPStatusCoder).
func (e *ProblemError) StatusCode() int { return e.Problem.Status }

// MarshalJSON encodes the problem as RFC 9457 members (type, title,
// status, detail): Echo's DefaultHTTPErrorHandler writes a status coder
// that is a json.Marshaler as it encodes itself.
func (e *ProblemError) MarshalJSON() ([]byte, error) { return json.Marshal(e.Problem) }

// ProblemError returns the problem as Echo's own RFC 9457 type, for
// echo.ProblemDetailsHTTPErrorHandler (echo.ProblemErrorer).
func (e *ProblemError) ProblemError() *echo.ProblemError {
	return &echo.ProblemError{Type: e.Problem.Type, Title: e.Problem.Title, Status: e.Problem.Status, Detail: e.Problem.Detail}
}
