package voicetest

import (
	"context"
	"sync"
	"time"

	"github.com/quaverbot/quaver/voice/rtp"
)

// Packet is one received, decrypted RTP packet.
type Packet struct {
	Seq       uint16
	Timestamp uint32
	Marker    bool
	Arrival   time.Time
	// Opus is the decrypted payload (nil when the server discards payloads).
	Opus []byte
	// Speaking is whether the client had announced Speaking (op 5, non-zero)
	// before this packet arrived.
	Speaking bool
}

// Stats summarises a Recorder.
type Stats struct {
	// Received counts packets that decrypted.
	Received uint64
	// Expected is the extended highest minus first sequence number, plus one
	// (RFC 3550 appendix A.3).
	Expected uint64
	// Lost is Expected minus Received (never negative; duplicates count as received).
	Lost uint64
	// DecryptFailures counts packets for this SSRC that failed authentication.
	DecryptFailures uint64
	// Jitter is the RFC 3550 section 6.4.1 interarrival jitter estimate.
	Jitter time.Duration
	// BeforeSpeaking counts packets that arrived before any Speaking (op 5).
	BeforeSpeaking uint64
}

// Recorder keeps what one SSRC sent: packets (with payload copies unless
// discarded), arrival times, RTP sequence numbers and timestamps, loss and
// jitter. It is safe for concurrent use.
type Recorder struct {
	ssrc uint32
	keep bool

	mu      sync.Mutex
	packets []Packet
	arena   []byte
	stats   Stats
	// Sequence extension (RFC 3550 A.1) and jitter state.
	started    bool
	baseSeq    uint16
	maxSeq     uint16
	cycles     uint64
	transit    float64
	jitter     float64
	haveJitter bool
	epoch      time.Time
	waiters    []waiter
}

type waiter struct {
	n  uint64
	ch chan struct{}
}

const arenaChunk = 64 << 10

func newRecorder(ssrc uint32, keep bool) *Recorder {
	return &Recorder{ssrc: ssrc, keep: keep}
}

// SSRC returns the synchronisation source this recorder keeps.
func (r *Recorder) SSRC() uint32 { return r.ssrc }

// record stores one packet. It allocates only to grow the packet list and the
// payload arena (amortised), and not at all when payloads are discarded.
func (r *Recorder) record(h *rtp.Header, payload []byte, arrival time.Time, speaking bool) {
	r.mu.Lock()
	r.stats.Received++
	if !speaking {
		r.stats.BeforeSpeaking++
	}
	r.updateSeq(h.SequenceNumber)
	r.updateJitter(h.Timestamp, arrival)
	if r.keep {
		if cap(r.arena)-len(r.arena) < len(payload) {
			r.arena = make([]byte, 0, max(arenaChunk, len(payload)))
		}
		start := len(r.arena)
		r.arena = append(r.arena, payload...)
		r.packets = append(r.packets, Packet{
			Seq: h.SequenceNumber, Timestamp: h.Timestamp, Marker: h.Marker,
			Arrival: arrival, Opus: r.arena[start:len(r.arena):len(r.arena)], Speaking: speaking,
		})
	}
	n := r.stats.Received
	var wake []waiter
	if len(r.waiters) > 0 {
		kept := r.waiters[:0]
		for _, w := range r.waiters {
			if n >= w.n {
				wake = append(wake, w)
			} else {
				kept = append(kept, w)
			}
		}
		r.waiters = kept
	}
	r.mu.Unlock()
	for _, w := range wake {
		close(w.ch)
	}
}

func (r *Recorder) decryptFailed() {
	r.mu.Lock()
	r.stats.DecryptFailures++
	r.mu.Unlock()
}

// updateSeq keeps the extended highest sequence number (RFC 3550 A.1, without
// the probation logic: the sender is trusted).
func (r *Recorder) updateSeq(seq uint16) {
	if !r.started {
		r.started = true
		r.baseSeq, r.maxSeq = seq, seq
		return
	}
	delta := seq - r.maxSeq
	if delta < 0x8000 { // in order, possibly with a gap
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
	}
}

// updateJitter applies RFC 3550 section 6.4.1: D = (Rj-Ri) - (Sj-Si) in
// timestamp units, J += (|D| - J)/16.
func (r *Recorder) updateJitter(ts uint32, arrival time.Time) {
	if r.epoch.IsZero() {
		r.epoch = arrival
	}
	at := float64(arrival.Sub(r.epoch)) * rtp.ClockRate / float64(time.Second)
	transit := at - float64(ts)
	if r.haveJitter {
		d := transit - r.transit
		// Timestamps wrap at 2^32: bring d back into range.
		for d > 1<<31 {
			d -= 1 << 32
		}
		for d < -(1 << 31) {
			d += 1 << 32
		}
		if d < 0 {
			d = -d
		}
		r.jitter += (d - r.jitter) / 16
	}
	r.transit = transit
	r.haveJitter = true
}

// Stats returns the loss and jitter figures so far.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	if r.started {
		s.Expected = r.cycles + uint64(r.maxSeq) - uint64(r.baseSeq) + 1
		if s.Expected > s.Received {
			s.Lost = s.Expected - s.Received
		}
	}
	s.Jitter = time.Duration(r.jitter * float64(time.Second) / rtp.ClockRate)
	return s
}

// Packets returns a copy of the packet list (payloads are shared, read-only).
func (r *Recorder) Packets() []Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Packet(nil), r.packets...)
}

// Received returns how many packets decrypted so far.
func (r *Recorder) Received() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats.Received
}

// WaitPackets blocks until at least n packets have been received in total or
// ctx ends.
func (r *Recorder) WaitPackets(ctx context.Context, n int) error {
	r.mu.Lock()
	if r.stats.Received >= uint64(n) {
		r.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	r.waiters = append(r.waiters, waiter{n: uint64(n), ch: ch})
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
