package player

import (
	"sync"
	"sync/atomic"
)

// slot is one opened stream and the queue entry it plays.
type slot struct {
	stream Stream
	entry  entry
	// gen is the player's load generation the stream was opened for.
	gen uint64
}

type srcEventKind int

const (
	// srcSwitched: the current stream ended and the preloaded one took over.
	srcSwitched srcEventKind = iota + 1
	// srcEnded: the current stream ended naturally with nothing preloaded.
	srcEnded
	// srcFailed: the current stream stopped with an error.
	srcFailed
)

type srcEvent struct {
	kind srcEventKind
	from *slot
	to   *slot
	err  error
}

// source is the FrameSource handed to the voice connection. NextFrame runs
// on the pacer goroutine: in steady state it only loads atomics and calls
// the current stream. At the end of a stream it takes mu, which guards only
// pointer swaps (never held during I/O, by anyone), moves the preloaded
// stream in, and returns that stream's first frame in the same call, so no
// frame is lost, duplicated or delayed across a track change.
type source struct {
	cur    atomic.Pointer[slot]
	paused atomic.Bool

	mu     sync.Mutex
	next   *slot
	events []srcEvent
	// notify (capacity 1) wakes the player's control loop after an event.
	notify chan struct{}
}

func newSource() *source {
	return &source{notify: make(chan struct{}, 1), events: make([]srcEvent, 0, 8)}
}

// NextFrame implements FrameSource.
func (s *source) NextFrame() ([]byte, bool) {
	if s.paused.Load() {
		return nil, false
	}
	c := s.cur.Load()
	if c == nil {
		return nil, false
	}
	if f, ok := c.stream.NextFrame(); ok {
		return f, true
	}
	select {
	case <-c.stream.Done():
	default:
		return nil, false // underrun: more frames will come
	}
	// Done is closed after the last frame was made available: look once more.
	if f, ok := c.stream.NextFrame(); ok {
		return f, true
	}
	return s.finish(c)
}

// finish handles the end of c: switch to the preloaded stream or report.
func (s *source) finish(c *slot) ([]byte, bool) {
	err := c.stream.Err()
	s.mu.Lock()
	if s.cur.Load() != c {
		// A command replaced the stream meanwhile; it owns what happens next.
		s.mu.Unlock()
		return nil, false
	}
	var n *slot
	ev := srcEvent{from: c, err: err}
	switch {
	case err != nil:
		ev.kind = srcFailed
	case s.next != nil:
		n, s.next = s.next, nil
		ev.kind, ev.to = srcSwitched, n
	default:
		ev.kind = srcEnded
	}
	s.cur.Store(n)
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if n == nil {
		return nil, false
	}
	return n.stream.NextFrame()
}

// take returns the pending events, leaving the source with spare capacity.
func (s *source) take(spare []srcEvent) []srcEvent {
	s.mu.Lock()
	ev := s.events
	s.events = spare[:0]
	s.mu.Unlock()
	return ev
}

// swapCur installs n (may be nil) as the current stream and returns the old one.
func (s *source) swapCur(n *slot) *slot {
	s.mu.Lock()
	old := s.cur.Swap(n)
	s.mu.Unlock()
	return old
}

// setNext installs n as the preloaded stream if none is, reporting success.
func (s *source) setNext(n *slot) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != nil {
		return false
	}
	s.next = n
	return true
}

// takeNext removes and returns the preloaded stream.
func (s *source) takeNext() *slot {
	s.mu.Lock()
	n := s.next
	s.next = nil
	s.mu.Unlock()
	return n
}

// peekNext returns the preloaded stream without removing it.
func (s *source) peekNext() *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}
