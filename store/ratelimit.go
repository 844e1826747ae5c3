package store

import (
	"context"
	"sync"
	"time"

	"github.com/quaverbot/quaver/store/gcra"
)

// localLimiter is the in-process GCRA limiter: the embedded backend's
// RateLimiter, and the fallback of the Redis one during an outage.
type localLimiter struct {
	mu     sync.Mutex
	now    func() time.Time
	tats   map[string]int64 // key → TAT in Unix ns
	sweeps int
}

func newLocalLimiter(now func() time.Time) *localLimiter {
	return &localLimiter{now: now, tats: make(map[string]int64)}
}

// sweepEvery bounds the map: every so many new keys, keys whose TAT is in the
// past (equivalent to absent) are dropped.
const sweepEvery = 4096

func (l *localLimiter) Allow(ctx context.Context, key string, rate Rate, burst int) (Decision, error) {
	if err := checkID("rate limit key", key); err != nil {
		return Decision{}, err
	}
	iv, err := rate.interval()
	if err != nil {
		return Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tats[key]
	r := gcra.Step(tat, now, int64(iv), int64(burst))
	if r.Allowed {
		if !ok {
			l.sweeps++
			if l.sweeps >= sweepEvery {
				l.sweeps = 0
				for k, t := range l.tats {
					if t <= now {
						delete(l.tats, k)
					}
				}
			}
		}
		l.tats[key] = r.TAT
	}
	return Decision{Allowed: r.Allowed, RetryAfter: time.Duration(r.RetryAfter), Remaining: int(r.Remaining)}, nil
}
