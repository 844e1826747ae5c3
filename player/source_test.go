package player

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// trickleStream gets frames pushed by the test, like a decoder that is
// slower than real time now and then.
type trickleStream struct {
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
	err    error
}

func (s *trickleStream) push(f ...[]byte) {
	s.mu.Lock()
	s.frames = append(s.frames, f...)
	s.mu.Unlock()
}

func (s *trickleStream) NextFrame() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return nil, false
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f, true
}
func (s *trickleStream) Position() time.Duration  { return 0 }
func (s *trickleStream) SetVolume(int)            {}
func (s *trickleStream) SetEqualizer([15]float64) {}
func (s *trickleStream) Seek(time.Duration) error { return nil }
func (s *trickleStream) Done() <-chan struct{}    { return s.done }
func (s *trickleStream) Err() error               { return s.err }
func (s *trickleStream) Close()                   {}

func TestSourceUnderrunIsNotAnEnd(t *testing.T) {
	a := &trickleStream{done: make(chan struct{})}
	b := &trickleStream{done: make(chan struct{})}
	src := newSource()
	src.cur.Store(&slot{stream: a, entry: entry{key: 1}, gen: 1})
	src.setNext(&slot{stream: b, entry: entry{key: 2}, gen: 2})
	b.push(frameOf(2, 0))

	if _, ok := src.NextFrame(); ok {
		t.Fatal("frame from an empty stream")
	}
	if ev := src.take(nil); len(ev) != 0 {
		t.Fatalf("an underrun was reported as %+v", ev)
	}
	a.push(frameOf(1, 0), frameOf(1, 1))
	for i := 0; i < 2; i++ {
		f, ok := src.NextFrame()
		if !ok {
			t.Fatal("no frame after the decoder caught up")
		}
		if tr, seq := decodeFrame(f); tr != 1 || seq != i {
			t.Fatalf("frame [%d %d], want [1 %d]", tr, seq, i)
		}
	}
	// The decoder finishes; its last frame lands just before Done closes.
	a.push(frameOf(1, 2))
	close(a.done)
	for _, want := range [][2]int{{1, 2}, {2, 0}} {
		f, ok := src.NextFrame()
		if !ok {
			t.Fatalf("gap before %v", want)
		}
		if tr, seq := decodeFrame(f); [2]int{tr, seq} != want {
			t.Fatalf("frame [%d %d], want %v", tr, seq, want)
		}
	}
	ev := src.take(nil)
	if len(ev) != 1 || ev[0].kind != srcSwitched || ev[0].from.entry.key != 1 || ev[0].to.entry.key != 2 {
		t.Fatalf("events %+v", ev)
	}
	select {
	case <-src.notify:
	default:
		t.Fatal("control loop not notified")
	}
	// b fails: reported once, then the source stays quiet.
	b.err = errors.New("decode error")
	close(b.done)
	for i := 0; i < 3; i++ {
		if _, ok := src.NextFrame(); ok {
			t.Fatal("frame after failure")
		}
	}
	ev = src.take(nil)
	if len(ev) != 1 || ev[0].kind != srcFailed || ev[0].err == nil {
		t.Fatalf("failure events %+v", ev)
	}
}

func TestSourcePaused(t *testing.T) {
	a := &trickleStream{done: make(chan struct{})}
	a.push(frameOf(1, 0))
	src := newSource()
	src.cur.Store(&slot{stream: a})
	src.paused.Store(true)
	if _, ok := src.NextFrame(); ok {
		t.Fatal("frame while paused")
	}
	src.paused.Store(false)
	if f, ok := src.NextFrame(); !ok || f[7] != 0 {
		t.Fatal("the frame held during the pause was lost")
	}
}
