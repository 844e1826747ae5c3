package player

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverbot/quaver/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = 5 * time.Second

// ---- clock ----

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: make(chan time.Time, 1), clk: c}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves time on and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		t.fireLocked(c.now)
	}
}

type fakeTimer struct {
	c      chan time.Time
	clk    *fakeClock
	when   time.Time
	active bool
}

func (t *fakeTimer) fireLocked(now time.Time) {
	if t.active && !now.Before(t.when) {
		t.active = false
		select {
		case t.c <- now:
		default:
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	select {
	case <-t.c:
	default:
	}
	t.when, t.active = t.clk.now.Add(d), true
	t.fireLocked(t.clk.now)
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	t.active = false
	t.clk.mu.Unlock()
}

// ---- engine and streams ----

// Frames carry (track number, frame number) so tests can count them.
func frameOf(track, seq int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(track))
	binary.BigEndian.PutUint32(b[4:], uint32(seq))
	return b
}

func decodeFrame(b []byte) (track, seq int) {
	return int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint32(b[4:]))
}

// trackSpec says how the fake engine plays a track.
type trackSpec struct {
	num    int // number written into frames
	frames int // frames in the whole track (20 ms each)
	// failOpens makes the first failOpens Open calls fail.
	failOpens int
	// failAfter makes the first failStreams opened streams fail after failAfter frames.
	failAfter   int
	failStreams int
	seekErr     error
	// block makes Open wait for release (or ctx).
	block chan struct{}
}

type openCall struct {
	id     string
	seek   time.Duration
	volume int
}

type fakeEngine struct {
	mu      sync.Mutex
	specs   map[string]*trackSpec
	opens   []openCall
	streams []*fakeStream
	opened  chan string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{specs: map[string]*trackSpec{}, opened: make(chan string, 1000)}
}

// track registers a track of n frames and returns it.
func (e *fakeEngine) track(id string, frames int) store.Track {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.specs[id] = &trackSpec{num: len(e.specs) + 1, frames: frames}
	return store.Track{ID: id, URL: "test:" + id, Title: "Track " + id, Duration: time.Duration(frames) * 20 * time.Millisecond}
}

func (e *fakeEngine) spec(id string) *trackSpec {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.specs[id]
}

func (e *fakeEngine) Open(ctx context.Context, t store.Track, opts OpenOptions) (Stream, error) {
	e.mu.Lock()
	sp := e.specs[t.ID]
	e.opens = append(e.opens, openCall{id: t.ID, seek: opts.Seek, volume: opts.Volume})
	e.mu.Unlock()
	e.opened <- t.ID
	if sp == nil {
		return nil, fmt.Errorf("unknown track %q", t.ID)
	}
	if sp.block != nil {
		select {
		case <-sp.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if sp.failOpens > 0 {
		sp.failOpens--
		return nil, errors.New("open failed: connection reset")
	}
	start := int(opts.Seek / (20 * time.Millisecond))
	s := &fakeStream{num: sp.num, limit: sp.frames, done: make(chan struct{}), seekErr: sp.seekErr}
	s.vol.Store(int64(opts.Volume))
	s.next.Store(int64(start))
	if sp.failStreams > 0 {
		sp.failStreams--
		s.limit = min(start+sp.failAfter, sp.frames)
		s.err = errors.New("stream failed: unexpected EOF")
	}
	// All frames are decoded up front: Done may close before they are pulled.
	close(s.done)
	for i := range s.limit {
		s.frames = append(s.frames, frameOf(sp.num, i))
	}
	e.streams = append(e.streams, s)
	return s, nil
}

func (e *fakeEngine) Opens() []openCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]openCall(nil), e.opens...)
}

// unclosed counts streams not closed.
func (e *fakeEngine) unclosed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.streams {
		if !s.closed.Load() {
			n++
		}
	}
	return n
}

// fakeStream holds every frame of its track; next is the index of the frame
// NextFrame returns, so a seek moves it.
type fakeStream struct {
	num, limit int
	frames     [][]byte
	next       atomic.Int64
	seekTo     atomic.Int64
	vol        atomic.Int64
	closed     atomic.Bool
	done       chan struct{}
	err        error
	seekErr    error
}

func (s *fakeStream) NextFrame() ([]byte, bool) {
	if s.closed.Load() {
		return nil, false
	}
	i := s.next.Load()
	if int(i) >= len(s.frames) {
		return nil, false
	}
	s.next.Store(i + 1)
	return s.frames[i], true
}

func (s *fakeStream) Position() time.Duration {
	return time.Duration(s.next.Load()) * 20 * time.Millisecond
}
func (s *fakeStream) SetVolume(pct int)          { s.vol.Store(int64(pct)) }
func (s *fakeStream) SetEqualizer(g [15]float64) {}
func (s *fakeStream) Seek(pos time.Duration) error {
	if s.seekErr != nil {
		return s.seekErr
	}
	s.seekTo.Store(int64(pos))
	s.next.Store(int64(pos / (20 * time.Millisecond)))
	return nil
}
func (s *fakeStream) Done() <-chan struct{} { return s.done }
func (s *fakeStream) Err() error            { return s.err }
func (s *fakeStream) Close()                { s.closed.Store(true) }

// ---- voice ----

type fakeVoice struct {
	mu     sync.Mutex
	conns  []*fakeConn
	err    error
	block  chan struct{}
	joined chan string
}

func newFakeVoice() *fakeVoice { return &fakeVoice{joined: make(chan string, 100)} }

func (v *fakeVoice) Join(ctx context.Context, guildID, channelID string) (VoiceConn, error) {
	v.mu.Lock()
	block, err := v.block, v.err
	v.mu.Unlock()
	v.joined <- channelID
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	c := &fakeConn{channel: channelID, done: make(chan struct{})}
	v.mu.Lock()
	v.conns = append(v.conns, c)
	v.mu.Unlock()
	return c, nil
}

func (v *fakeVoice) last() *fakeConn {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.conns) == 0 {
		return nil
	}
	return v.conns[len(v.conns)-1]
}

type fakeConn struct {
	channel string
	src     atomic.Value
	once    sync.Once
	done    chan struct{}
	mu      sync.Mutex
	err     error
	left    atomic.Bool
}

func (c *fakeConn) SetSource(s FrameSource) { c.src.Store(s) }
func (c *fakeConn) source() FrameSource {
	s, _ := c.src.Load().(FrameSource)
	return s
}
func (c *fakeConn) Leave() {
	c.left.Store(true)
	c.once.Do(func() { close(c.done) })
}
func (c *fakeConn) Done() <-chan struct{} { return c.done }
func (c *fakeConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
func (c *fakeConn) kick(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	c.once.Do(func() { close(c.done) })
}

// ---- persister ----

type fakePersister struct {
	mu    sync.Mutex
	snaps []store.PlayerSnapshot
	saved chan struct{}
}

func newFakePersister() *fakePersister { return &fakePersister{saved: make(chan struct{}, 1000)} }

func (f *fakePersister) Save(_ context.Context, s store.PlayerSnapshot) error {
	f.mu.Lock()
	f.snaps = append(f.snaps, s)
	f.mu.Unlock()
	select {
	case f.saved <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakePersister) last() store.PlayerSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snaps[len(f.snaps)-1]
}

func (f *fakePersister) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.snaps)
}

// ---- harness ----

type harness struct {
	t         *testing.T
	p         *Player
	eng       *fakeEngine
	voice     *fakeVoice
	clock     *fakeClock
	events    chan Event
	preloads  chan struct{}
	persister *fakePersister
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, eng: newFakeEngine(), voice: newFakeVoice(), clock: newFakeClock(),
		events: make(chan Event, 1000), preloads: make(chan struct{}, 1000), persister: newFakePersister()}
	cfg := Config{GuildID: "g1", Engine: h.eng, Voice: h.voice, Clock: h.clock, Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(e Event) { h.events <- e }, Intn: func(n int) int { return n - 1 }}
	cfg.preloaded = func() { h.preloads <- struct{}{} }
	if mutate != nil {
		mutate(&cfg)
	}
	h.p = New(cfg)
	t.Cleanup(h.p.Close)
	return h
}

// event waits for the next event and checks its type.
func (h *harness) event(want EventType) Event {
	h.t.Helper()
	select {
	case e := <-h.events:
		if e.Type != want {
			h.t.Fatalf("event %v (%+v), want %v", e.Type, e, want)
		}
		return e
	case <-time.After(waitFor):
		h.t.Fatalf("no event %v within %v", want, waitFor)
	}
	return Event{}
}

func (h *harness) noEvent() {
	h.t.Helper()
	select {
	case e := <-h.events:
		h.t.Fatalf("unexpected event %+v", e)
	default:
	}
}

func (h *harness) preloaded() {
	h.t.Helper()
	select {
	case <-h.preloads:
	case <-time.After(waitFor):
		h.t.Fatalf("next track not preloaded within %v", waitFor)
	}
}

func (h *harness) join() *fakeConn {
	h.t.Helper()
	if err := h.p.Join(context.Background(), "vc1"); err != nil {
		h.t.Fatalf("Join: %v", err)
	}
	c := h.voice.last()
	if c.source() == nil {
		h.t.Fatal("connection got no frame source")
	}
	return c
}

// pull takes n frames, failing on a gap.
func (h *harness) pull(src FrameSource, n int) [][2]int {
	h.t.Helper()
	out := make([][2]int, 0, n)
	for i := 0; i < n; i++ {
		f, ok := src.NextFrame()
		if !ok {
			h.t.Fatalf("no frame after %d of %d: %v", i, n, out)
		}
		tr, seq := decodeFrame(f)
		out = append(out, [2]int{tr, seq})
	}
	return out
}

// waitState polls the player state until want or deadline (state changes
// made by the control loop have no event of their own).
func (h *harness) waitState(want State) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for h.p.Status().State != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("state %v, want %v", h.p.Status().State, want)
		}
		waitTick()
	}
}

// waitTick yields briefly while polling a condition that has no signal.
func waitTick() { <-time.After(time.Millisecond) }

// Duration makes fakeStream a Durationer.
func (s *fakeStream) Duration() time.Duration { return time.Duration(s.limit) * 20 * time.Millisecond }
