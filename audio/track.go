package audio

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"time"
)

// Track plays one input: a goroutine runs the Pipeline ahead of playback into
// a bounded ring of frames (Config.ReadAhead, 1 s by default), and the voice
// pacer takes them with NextFrame, which never blocks. Memory per track is
// bounded: the ring, the pipeline's fixed buffers and the source's buffer.
//
// Effect changes apply to frames not yet produced; on a seekable input the
// buffered frames are dropped and production restarts at the playback
// position, so a change is heard within a frame or two instead of after the
// read-ahead. All methods are safe for concurrent use.
type Track struct {
	p *Pipeline

	mu       sync.Mutex
	cond     *sync.Cond // signals the producer: space, a request, or close
	ring     []trackFrame
	head     int // oldest buffered frame
	count    int // buffered frames
	gen      uint64
	playPos  time.Duration // position after the last frame taken
	seekReq  *seekRequest
	finished bool  // producer has stopped
	err      error // why it stopped (nil at a natural end)
	closed   bool
	doneOnce sync.Once
	done     chan struct{}
	ready    chan struct{}       // gets a token (never blocking) when a frame is buffered or production stops
	out      [MaxFrameBytes]byte // NextFrame's result, valid until the next call
	underrun int64

	wg sync.WaitGroup
}

type trackFrame struct {
	buf [MaxFrameBytes]byte
	n   int
	end time.Duration // position after this frame
}

type seekRequest struct {
	to   time.Duration
	gen  uint64
	resp chan error
}

// Open opens a file path or http(s) URL and starts playing it into a Track.
func Open(ctx context.Context, input string, cfg Config) (*Track, error) {
	p, err := OpenPipeline(ctx, input, cfg)
	if err != nil {
		return nil, err
	}
	return NewTrack(p, cfg.ReadAhead), nil
}

// OpenReader starts playing a live stream read from r into a Track.
func OpenReader(r io.Reader, cfg Config) (*Track, error) {
	p, err := ReaderPipeline(r, cfg)
	if err != nil {
		return nil, err
	}
	return NewTrack(p, cfg.ReadAhead), nil
}

// NewTrack starts read-ahead on p, buffering up to readAhead of frames. The
// Track owns p from now on; Close stops the producer and closes p.
func NewTrack(p *Pipeline, readAhead time.Duration) *Track {
	n := max(int(readAhead/(20*time.Millisecond)), 2)
	t := &Track{p: p, ring: make([]trackFrame, n), done: make(chan struct{}), ready: make(chan struct{}, 1), playPos: p.Position()}
	t.cond = sync.NewCond(&t.mu)
	t.wg.Add(1)
	go t.produce()
	return t
}

// Info describes the input.
func (t *Track) Info() Info { return t.p.Info() }

// NextFrame returns the next 20 ms Opus frame, valid until the next call, or
// false when none is ready (buffer underrun, or the track has ended: see Done).
// It never blocks on I/O and allocates nothing.
func (t *Track) NextFrame() ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count == 0 {
		if t.finished {
			t.doneOnce.Do(func() { close(t.done) })
		} else if !t.closed {
			t.underrun++
		}
		return nil, false
	}
	f := &t.ring[t.head]
	n := copy(t.out[:], f.buf[:f.n])
	t.playPos = f.end
	t.head = (t.head + 1) % len(t.ring)
	t.count--
	t.cond.Signal()
	return t.out[:n], true
}

// Position returns the playback position: the end of the last frame taken.
func (t *Track) Position() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.playPos
}

// Buffered returns how much audio is decoded ahead of playback.
func (t *Track) Buffered() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Duration(t.count) * 20 * time.Millisecond
}

// Underruns counts NextFrame calls that found no frame ready before the end.
func (t *Track) Underruns() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.underrun
}

// Done is closed once the last frame has been taken or production failed.
func (t *Track) Done() <-chan struct{} { return t.done }

// Err returns why the track ended early; nil at a natural end.
func (t *Track) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Seek moves playback to d, dropping buffered frames; it returns once the
// input has been repositioned.
func (t *Track) Seek(d time.Duration) error {
	if !t.p.Info().Seekable {
		return errNotSeekable
	}
	return t.requestSeek(d)
}

func (t *Track) requestSeek(d time.Duration) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errClosed
	}
	t.gen++
	t.head, t.count = 0, 0
	req := &seekRequest{to: d, gen: t.gen, resp: make(chan error, 1)}
	if t.seekReq != nil {
		t.seekReq.resp <- nil // superseded
	}
	t.seekReq = req
	t.playPos = d
	t.finished = false
	t.cond.Signal()
	t.mu.Unlock()
	return <-req.resp
}

// SetVolume changes the volume (0–1000 %).
func (t *Track) SetVolume(pct int) error {
	if err := t.p.SetVolume(pct); err != nil {
		return err
	}
	return t.refresh()
}

// SetEqualizer changes the equalizer band gains.
func (t *Track) SetEqualizer(g [15]float64) error {
	if err := t.p.SetEqualizer(g); err != nil {
		return err
	}
	return t.refresh()
}

// refresh re-produces buffered audio with the new effect settings where the input can seek.
func (t *Track) refresh() error {
	if !t.p.Info().Seekable {
		return nil
	}
	t.mu.Lock()
	ended := t.finished && t.count == 0
	pos := t.playPos
	t.mu.Unlock()
	if ended {
		return nil
	}
	return t.requestSeek(pos)
}

// Close stops production and releases the input. Frames not yet taken are dropped.
func (t *Track) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.cond.Broadcast()
	t.mu.Unlock()
	t.wg.Wait()
	t.doneOnce.Do(func() { close(t.done) })
	return t.p.Close()
}

// produce runs the pipeline into the ring until the end, an error or Close.
func (t *Track) produce() {
	defer t.wg.Done()
	var scratch [MaxFrameBytes]byte
	for {
		t.mu.Lock()
		for !t.closed && t.seekReq == nil && (t.count == len(t.ring) || t.finished) {
			t.cond.Wait()
		}
		if t.closed {
			if t.seekReq != nil {
				t.seekReq.resp <- errClosed
				t.seekReq = nil
			}
			t.finished = true
			t.mu.Unlock()
			return
		}
		req := t.seekReq
		t.seekReq = nil
		gen := t.gen
		t.mu.Unlock()

		if req != nil {
			err := t.p.Seek(req.to)
			req.resp <- err
			if err != nil {
				t.finish(gen, err)
				continue
			}
		}
		n, err := t.p.Next(scratch[:])
		end := t.p.Position()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			t.finish(gen, err)
			continue
		}
		t.mu.Lock()
		if gen == t.gen && !t.closed {
			f := &t.ring[(t.head+t.count)%len(t.ring)]
			f.n = copy(f.buf[:], scratch[:n])
			f.end = end
			t.count++
		}
		t.mu.Unlock()
		t.notify()
		// Filling the buffer (a new track, a seek) decodes up to a second of
		// audio back to back. Yielding after each frame lets the runtime run
		// due timers, above all the voice pacer's, between frames instead of
		// after a 10 ms preemption; it costs well under 1 µs per 20 ms frame.
		runtime.Gosched()
	}
}

// notify leaves a token in ready for whoever waits for frames, without blocking.
func (t *Track) notify() {
	select {
	case t.ready <- struct{}{}:
	default:
	}
}

func (t *Track) finish(gen uint64, err error) {
	t.mu.Lock()
	if gen == t.gen {
		t.finished = true
		t.err = err
	}
	t.mu.Unlock()
	t.notify()
}
