package threadprio

import (
	"runtime"
	"testing"
)

// A thread that lowers its priority reads it back, and a goroutine on
// another thread keeps the process's priority: the setting is per thread.
func TestSetIsPerThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux-only")
	}
	before, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan [2]int)
	go func() {
		runtime.LockOSThread() // retired with the goroutine: never unlocked
		if err := Set(before + 3); err != nil {
			t.Error(err)
		}
		n, _ := Get()
		got <- [2]int{n, 0}
	}()
	r := <-got
	if r[0] != before+3 {
		t.Fatalf("thread nice after Set(%d) = %d", before+3, r[0])
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n, _ := Get(); n != before {
		t.Fatalf("another thread's nice changed to %d (was %d)", n, before)
	}
}
