package pod

import (
	"errors"
	"strings"
)

// Error classes shared by every podvisor layer. Errors are wrapped with %w on
// their way up, so callers test the class with errors.Is and never compare
// strings. The daemon's API maps them to HTTP status codes and back.
var (
	// ErrInvalid marks bad input: a spec, a name or a parameter.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound marks a pod or process that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists marks a pod whose name is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict marks an operation the pod's current state forbids,
	// such as removing a running pod without force.
	ErrConflict = errors.New("conflict")
)

// FieldError is one problem with one field of a spec. Field is a path such as
// "spec.processes[0].command".
type FieldError struct {
	Field  string
	Detail string
}

// Error returns "field: detail".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// ErrorList is every problem found in a spec: decoding problems in
// document order, then validation problems.
type ErrorList []*FieldError

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Is makes an ErrorList match ErrInvalid.
func (l ErrorList) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the individual field errors.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

func (l *ErrorList) add(field, format string, args ...any) {
	*l = append(*l, &FieldError{Field: field, Detail: sprintf(format, args...)})
}

// orNil returns nil for an empty list, so a nil error means valid.
func (l ErrorList) orNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
