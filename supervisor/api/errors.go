package api

import (
	"errors"
	"net/http"

	"github.com/podvisor/podvisor/pod"
)

// Error codes of the API.
const (
	CodeNotFound      = "NotFound"
	CodeAlreadyExists = "AlreadyExists"
	CodeInvalid       = "Invalid"
	CodeConflict      = "Conflict"
	CodeForbidden     = "Forbidden"
	CodeInternal      = "Internal"
)

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Error is an error the daemon returned. It matches the pod error class of
// its code with errors.Is.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error returns the daemon's message.
func (e *Error) Error() string { return e.Message }

// Is maps the code back to its error class.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeNotFound:
		return target == pod.ErrNotFound
	case CodeAlreadyExists:
		return target == pod.ErrAlreadyExists
	case CodeInvalid:
		return target == pod.ErrInvalid
	case CodeConflict:
		return target == pod.ErrConflict
	}
	return false
}

// Classify maps an error to its code and HTTP status, the server's half of
// the mapping that Error.Is undoes: the class of pod.ErrNotFound,
// pod.ErrAlreadyExists, pod.ErrInvalid or pod.ErrConflict that err
// matches, or CodeInternal and 500.
func Classify(err error) (string, int) {
	switch {
	case errors.Is(err, pod.ErrNotFound):
		return CodeNotFound, http.StatusNotFound
	case errors.Is(err, pod.ErrAlreadyExists):
		return CodeAlreadyExists, http.StatusConflict
	case errors.Is(err, pod.ErrInvalid):
		return CodeInvalid, http.StatusBadRequest
	case errors.Is(err, pod.ErrConflict):
		return CodeConflict, http.StatusConflict
	}
	return CodeInternal, http.StatusInternalServerError
}
