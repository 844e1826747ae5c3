//go:build !linux

package threadprio

import "errors"

var errUnsupported = errors.New("threadprio: per-thread priority is only supported on Linux")

// Set is unavailable: threads share the process's priority here.
func Set(int) error { return errUnsupported }
