package pod

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxGracePeriodSeconds is the longest grace period accepted, in seconds:
// the largest whole number of seconds a time.Duration holds (9223372036 s,
// about 292 years). A longer one would wrap around when converted to a
// duration, so it is refused, never saturated or wrapped. It applies to
// spec.terminationGracePeriodSeconds and to a stop's timeout.
const MaxGracePeriodSeconds = math.MaxInt64 / int64(time.Second)

// GracePeriod converts a user's number of seconds (a pod's
// terminationGracePeriodSeconds, the timeout of a stop, restart or removal)
// to a time.Duration. Every such conversion goes through it: a number below
// 0 or above MaxGracePeriodSeconds is refused with an error that matches
// ErrInvalid. The error is a *FieldError without a field path; the caller
// names the field, with FieldError.Field or by wrapping it.
func GracePeriod(seconds int64) (time.Duration, error) {
	switch {
	case seconds < 0:
		return 0, &FieldError{Detail: "must be an integer >= 0"}
	case seconds > MaxGracePeriodSeconds:
		return 0, &FieldError{Detail: fmt.Sprintf("must be at most %d (about 292 years), got %d", MaxGracePeriodSeconds, seconds)}
	}
	return time.Duration(seconds) * time.Second, nil
}

// MaxID is the largest uid or gid a process may run as. 4294967295 is
// (uid_t)-1, which setuid and setgid take to mean "leave unchanged", and
// larger numbers do not fit a uid_t.
const MaxID = math.MaxUint32 - 1

// validateID checks one part of a user field: a part made only of digits is
// a numeric id and must not pass MaxID; a name is checked at start.
func validateID(errs *ErrorList, field, user, part, what string) {
	if part == "" || strings.Trim(part, "0123456789") != "" {
		return
	}
	if n, err := strconv.ParseUint(part, 10, 32); err != nil || n > MaxID {
		errs.add(field, "invalid user %s: %s must be at most %d", quote(user), what, uint64(MaxID))
	}
}

// noNUL reports a NUL byte in s as a problem of field, and returns false
// when it did. A NUL byte cannot reach exec, a path or the environment.
func noNUL(errs *ErrorList, field, s string) bool {
	if strings.IndexByte(s, 0) < 0 {
		return true
	}
	errs.add(field, "must not contain a NUL byte")
	return false
}

// maxQuoted is how many bytes of a value an error message shows.
const maxQuoted = 100

// quote is %q for a user's value in an error message, cut after maxQuoted
// bytes so that a huge value, repeated through aliases, cannot make the
// errors huge.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
