package testenv

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the CPU time this process has used (user + system). On a busy
// machine wall-clock ns/op overstate cost; CPU time per op does not.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU adds a "cpu-ns/op" metric to b: process CPU time since start per iteration.
// Call it after the timed loop, with start taken just before it.
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(CPUTime()-start)/float64(b.N), "cpu-ns/op")
}
