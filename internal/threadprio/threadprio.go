// Package threadprio sets the scheduling priority of the calling OS thread,
// for the few goroutines that must run on time (the voice pacer's workers)
// even when the machine is busy. Callers wire their goroutine to its thread
// with runtime.LockOSThread first and return without unlocking, so the
// runtime retires the thread and the priority never reaches other goroutines.
package threadprio
