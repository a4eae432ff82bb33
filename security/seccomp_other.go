//go:build !amd64 && !arm64

package security

import (
	"errors"

	"golang.org/x/sys/unix"
)

const seccompSupported = false

func filterFor(bounding uint64) ([]unix.SockFilter, error) {
	return nil, errors.New("security: seccomp RuntimeDefault is implemented for amd64 and arm64 only")
}
