package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestLocalLimiter drives the in-process limiter with a fake clock.
func TestLocalLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLocalLimiter(func() time.Time { return now })
	ctx := context.Background()
	rate := PerSecond(2) // one every 500 ms
	steps := []struct {
		advance time.Duration
		allowed bool
		retry   time.Duration
	}{
		{0, true, 0},
		{0, true, 0}, // burst 2
		{0, false, 500 * time.Millisecond},
		{499 * time.Millisecond, false, time.Millisecond},
		{time.Millisecond, true, 0},
		{10 * time.Second, true, 0}, // idle refills the burst...
		{0, true, 0},
		{0, false, 500 * time.Millisecond}, // ...but not beyond it
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		d, err := l.Allow(ctx, "k", rate, 2)
		if err != nil || d.Allowed != s.allowed || d.RetryAfter != s.retry {
			t.Fatalf("step %d: %+v, %v; want allowed=%v retry=%v", i, d, err, s.allowed, s.retry)
		}
	}
}

// TestLocalLimiterSweep: idle keys are forgotten, so the map stays bounded.
func TestLocalLimiterSweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLocalLimiter(func() time.Time { return now })
	ctx := context.Background()
	for i := range 3 * sweepEvery {
		if i%sweepEvery == 0 {
			now = now.Add(time.Hour) // everything before is idle
		}
		if _, err := l.Allow(ctx, fmt.Sprint("user-", i), PerSecond(1), 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.tats); n > 2*sweepEvery {
		t.Fatalf("%d keys held after sweeps, want at most %d", n, 2*sweepEvery)
	}
}
