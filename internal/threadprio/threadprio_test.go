//go:build linux

package threadprio

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// get returns the calling OS thread's nice value. getpriority(2) returns
// 20 - nice to keep the result positive; x/sys gives that raw value.
func get() (int, error) {
	v, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		return 0, err
	}
	return 20 - v, nil
}

// A thread that lowers its priority reads it back, and a goroutine on
// another thread keeps the process's priority: the setting is per thread.
func TestSetIsPerThread(t *testing.T) {
	before, err := get()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan [2]int)
	go func() {
		runtime.LockOSThread() // retired with the goroutine: never unlocked
		if err := Set(before + 3); err != nil {
			t.Error(err)
		}
		n, _ := get()
		got <- [2]int{n, 0}
	}()
	r := <-got
	if r[0] != before+3 {
		t.Fatalf("thread nice after Set(%d) = %d", before+3, r[0])
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n, _ := get(); n != before {
		t.Fatalf("another thread's nice changed to %d (was %d)", n, before)
	}
}
