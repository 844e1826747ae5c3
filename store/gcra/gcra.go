// Package gcra is the Generic Cell Rate Algorithm (ITU-T I.371 virtual
// scheduling) as a pure function over a theoretical arrival time (TAT), so the
// in-process limiter and the Redis Lua script compute the same thing.
//
// One event costs Interval; up to Burst events may arrive back to back. An
// event at now is allowed when now >= max(TAT, now) + Interval - Burst*Interval,
// and then the TAT moves to max(TAT, now) + Interval.
package gcra

// Result is the outcome of one Step. Times are in the caller's unit (ns, µs).
type Result struct {
	// TAT is the new theoretical arrival time to store (unchanged when denied).
	TAT int64
	// Allowed says whether the event conforms.
	Allowed bool
	// RetryAfter is how long until one event would conform, when denied.
	RetryAfter int64
	// Remaining is how many more events would conform right now.
	Remaining int64
}

// Step decides one event at now against the stored tat (0 or any value <= now
// when the key is new). interval must be > 0 and burst >= 1 (smaller values
// are treated as 1).
func Step(tat, now, interval, burst int64) Result {
	if burst < 1 {
		burst = 1
	}
	if interval < 1 {
		interval = 1
	}
	if tat < now {
		tat = now
	}
	newTAT := tat + interval
	allowAt := newTAT - burst*interval
	if now < allowAt {
		return Result{TAT: tat, RetryAfter: allowAt - now}
	}
	return Result{TAT: newTAT, Allowed: true, Remaining: (now - allowAt) / interval}
}
