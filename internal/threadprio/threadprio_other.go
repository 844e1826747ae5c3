//go:build !linux

package threadprio

// Set is unavailable: threads share the process's priority here.
func Set(int) error { return errUnsupported }

// Get is unavailable here.
func Get() (int, error) { return 0, errUnsupported }
