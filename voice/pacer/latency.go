package pacer

import (
	"sync/atomic"
	"time"
)

// Lateness resolution: 10 µs buckets up to 200 ms, then one overflow bucket.
const (
	latBucket = 10 * time.Microsecond
	latN      = 20000
)

// latency is a fixed, lock-free histogram of lateness for percentiles.
type latency struct {
	buckets [latN + 1]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := int(d / latBucket)
	if i > latN {
		i = latN
	}
	l.buckets[i].Add(1)
	l.count.Add(1)
	for {
		m := l.max.Load()
		if int64(d) <= m || l.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Lateness summarises observed per-packet send lateness.
type Lateness struct {
	Count uint64
	// P50 and P99 are upper bounds with 10 µs resolution.
	P50, P99, Max time.Duration
}

// Lateness returns the percentiles of lateness observed since New or the
// last ResetLateness.
func (p *Pacer) Lateness() Lateness {
	var counts [latN + 1]uint64
	var total uint64
	for i := range counts {
		counts[i] = p.lat.buckets[i].Load()
		total += counts[i]
	}
	out := Lateness{Count: total, Max: time.Duration(p.lat.max.Load())}
	if total == 0 {
		return out
	}
	q := func(f float64) time.Duration {
		want := uint64(f*float64(total) + 0.5)
		if want == 0 {
			want = 1
		}
		var acc uint64
		for i, c := range counts {
			acc += c
			if acc >= want {
				if i == latN {
					return out.Max
				}
				return time.Duration(i+1) * latBucket
			}
		}
		return out.Max
	}
	out.P50, out.P99 = q(0.50), q(0.99)
	if out.P99 > out.Max {
		out.P99 = out.Max
	}
	if out.P50 > out.Max {
		out.P50 = out.Max
	}
	return out
}

// ResetLateness clears the percentile histogram (not the Prometheus one).
func (p *Pacer) ResetLateness() {
	for i := range p.lat.buckets {
		p.lat.buckets[i].Store(0)
	}
	p.lat.count.Store(0)
	p.lat.max.Store(0)
}
