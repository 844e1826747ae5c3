// Package pacer owns the one scheduler that sends audio for every voice
// connection of a node. A few workers (about GOMAXPROCS) each own a shard of
// streams and wake on an absolute grid, deadline = start + n·interval (20 ms
// for Opus), so that lateness never accumulates; when a worker wakes late it
// runs every slot that is due (up to MaxCatchUp, then skips slots, keeping
// the grid). A stream whose frame is not ready simply sends nothing that slot.
//
// Each stream also gets a fixed phase within the interval (Config.Phases
// sub-slots, 1 ms apart by default): stream i's deadlines are
// start + phase_i + n·interval. Spreading streams over the interval keeps
// each wake-up short, so a shard of a thousand streams is not sent as one
// burst whose tail is late by the whole burst.
// Per-packet lateness (send time − deadline) goes into a Prometheus histogram
// and an internal fine-grained histogram for percentiles.
package pacer

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quaverbot/quaver/internal/threadprio"
)

// Stream is one sender driven by the pacer, typically a voice connection.
type Stream interface {
	// Tick is called once for each due grid slot (slot n has deadline
	// start + n·interval). It must not block: it sends at most one packet
	// and reports whether it did. Tick may be called once more after
	// Remove returns; streams must tolerate that.
	Tick(slot uint64) bool
}

// Config configures a Pacer.
type Config struct {
	// Workers is the number of worker goroutines (default GOMAXPROCS).
	Workers int
	// Interval is the grid period (default 20 ms, one Opus frame). Tests may
	// shorten it to run the grid faster than real time.
	Interval time.Duration
	// MaxCatchUp is how many overdue slots a late worker still runs; older
	// ones are skipped (default 3).
	MaxCatchUp int
	// Phases is how many sub-slots each interval is divided into (default:
	// one per millisecond of Interval, at most 20, at least 1).
	Phases int
	// Registerer receives the lateness histogram
	// quaver_voice_send_lateness_seconds; nil registers nothing.
	Registerer prometheus.Registerer
	// Nice is the scheduling priority (-20 highest … 19 lowest) each worker
	// asks for its own OS thread; 0 leaves the thread as it is. Audio is
	// the one thing on a node that must be on time, so a worker that wakes
	// while the machine is busy should run before batch work (decoding
	// ahead, gateway JSON, other processes). Raising priority needs
	// CAP_SYS_NICE (or root, or an RLIMIT_NICE allowance); without it the
	// worker keeps the default priority and Priority reports that. Only
	// Linux applies it (threads have their own nice value there).
	Nice int
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{Workers: runtime.GOMAXPROCS(0), Interval: 20 * time.Millisecond, MaxCatchUp: 3, Nice: -10}
}

var errClosed = errors.New("pacer: closed")

// Pacer is the shared scheduler. Create with New, stop with Close.
type Pacer struct {
	cfg    Config
	start  time.Time
	shards []*shard
	hist   prometheus.Histogram
	sent   prometheus.Counter
	lat    latency
	skips  atomic.Uint64
	wakes  atomic.Uint64
	// raised counts workers whose thread took Config.Nice.
	raised atomic.Int32
	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

type shard struct {
	mu     sync.Mutex
	phases []phase
	n      int
}

// phase is the streams of one shard sharing a sub-slot; the slice is
// replaced (copy on write) so the worker reads it without a lock.
type phase struct {
	streams atomic.Pointer[[]Stream]
	n       int
}

// Handle removes a stream from its pacer.
type Handle struct {
	p  *Pacer
	sh *shard
	ph *phase
	s  Stream
	// removed is guarded by the pacer's mutex.
	removed bool
}

// New starts a pacer with cfg (zero fields take DefaultConfig values).
func New(cfg Config) (*Pacer, error) {
	def := DefaultConfig()
	if cfg.Workers <= 0 {
		cfg.Workers = def.Workers
	}
	if cfg.Interval <= 0 {
		cfg.Interval = def.Interval
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = def.MaxCatchUp
	}
	if cfg.Phases <= 0 {
		cfg.Phases = min(20, max(1, int(cfg.Interval/time.Millisecond)))
	}
	p := &Pacer{
		cfg:  cfg,
		stop: make(chan struct{}),
		hist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quaver_voice_send_lateness_seconds",
			Help:    "Voice packet send time minus its 20 ms grid deadline.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3},
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quaver_voice_packets_sent_total",
			Help: "Voice packets the pacer's streams sent.",
		}),
	}
	p.start = time.Now()
	p.shards = make([]*shard, cfg.Workers)
	for i := range p.shards {
		sh := &shard{phases: make([]phase, cfg.Phases)}
		for j := range sh.phases {
			empty := []Stream{}
			sh.phases[j].streams.Store(&empty)
		}
		p.shards[i] = sh
	}
	// Registered once the pacer is built (a scrape may come at once), and
	// before any worker starts, so a failure leaves nothing running.
	if cfg.Registerer != nil {
		var done []prometheus.Collector
		for _, c := range p.collectors() {
			if err := cfg.Registerer.Register(c); err != nil {
				for _, d := range done {
					cfg.Registerer.Unregister(d)
				}
				return nil, err
			}
			done = append(done, c)
		}
	}
	p.wg.Add(len(p.shards))
	var started sync.WaitGroup
	started.Add(len(p.shards))
	for _, sh := range p.shards {
		go p.work(sh, started.Done)
	}
	started.Wait() // every worker has its thread priority settled
	return p, nil
}

// Interval returns the grid period.
func (p *Pacer) Interval() time.Duration { return p.cfg.Interval }

// Add registers s with the least loaded worker, in its least loaded phase.
func (p *Pacer) Add(s Stream) (*Handle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	best := p.shards[0]
	for _, sh := range p.shards[1:] {
		if sh.n < best.n {
			best = sh
		}
	}
	best.mu.Lock()
	defer best.mu.Unlock()
	ph := &best.phases[0]
	for i := range best.phases {
		if best.phases[i].n < ph.n {
			ph = &best.phases[i]
		}
	}
	old := *ph.streams.Load()
	next := make([]Stream, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	ph.streams.Store(&next)
	ph.n++
	best.n++
	return &Handle{p: p, sh: best, ph: ph, s: s}, nil
}

// Remove unregisters the stream; calling it again does nothing.
func (h *Handle) Remove() {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	if h.removed {
		return
	}
	h.removed = true
	sh := h.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *h.ph.streams.Load()
	next := make([]Stream, 0, len(old))
	removed := false
	for _, s := range old {
		if !removed && s == h.s {
			removed = true
			continue
		}
		next = append(next, s)
	}
	if removed {
		sh.n--
		h.ph.n--
	}
	h.ph.streams.Store(&next)
}

// Close stops the workers and waits for them.
func (p *Pacer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.stop)
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Skipped returns how many sub-slots workers skipped because they were more
// than MaxCatchUp slots late.
func (p *Pacer) Skipped() uint64 { return p.skips.Load() }

// collectors are the pacer's metrics, registered with Config.Registerer.
func (p *Pacer) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		p.hist,
		p.sent,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "quaver_voice_streams",
			Help: "Voice connections registered with the pacer (connected or waiting to send).",
		}, func() float64 { return float64(p.Streams()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "quaver_voice_slots_skipped_total",
			Help: "Pacer sub-slots skipped because a worker woke more than MaxCatchUp intervals late (audio lost).",
		}, func() float64 { return float64(p.Skipped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "quaver_voice_pacer_workers_raised",
			Help: "Pacer workers running at the raised thread priority (Config.Nice); 0 means the system refused it.",
		}, func() float64 { r, _ := p.Priority(); return float64(r) }),
	}
}

// Streams returns how many streams are registered.
func (p *Pacer) Streams() int {
	n := 0
	for _, sh := range p.shards {
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}

// Priority reports how many workers run at Config.Nice, out of how many
// workers there are (0 of n: the system refused, see Config.Nice).
func (p *Pacer) Priority() (raised, workers int) {
	return int(p.raised.Load()), len(p.shards)
}

// sub returns the sub-slot period (Interval / Phases).
func (p *Pacer) sub() time.Duration { return p.cfg.Interval / time.Duration(p.cfg.Phases) }

// deadline returns the deadline of sub-slot k: start + k·interval/phases,
// which is slot k/phases of the streams in phase k%phases.
func (p *Pacer) deadline(k uint64) time.Time {
	return p.start.Add(time.Duration(k) * p.sub())
}

// work runs one shard on the absolute grid until Close. The loop counts
// sub-slots; see deadline.
func (p *Pacer) work(sh *shard, started func()) {
	defer p.wg.Done()
	if p.cfg.Nice != 0 {
		// The thread is wired to this worker for good: when the worker
		// returns still locked, the runtime retires the thread, so the
		// raised priority never passes to other goroutines.
		runtime.LockOSThread()
		if threadprio.Set(p.cfg.Nice) == nil {
			p.raised.Add(1)
		}
	}
	started()
	iv := p.sub()
	maxBehind := uint64(p.cfg.MaxCatchUp * p.cfg.Phases)
	slot := uint64(time.Since(p.start)/iv) + 1
	t := time.NewTimer(time.Until(p.deadline(slot)))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.wakes.Add(1)
		now := time.Now()
		last := uint64(now.Sub(p.start) / iv)
		if last < slot { // woke early: wait for the deadline proper
			t.Reset(p.deadline(slot).Sub(now))
			continue
		}
		if behind := last - slot + 1; behind > maxBehind {
			skip := behind - maxBehind
			p.skips.Add(skip)
			slot += skip
		}
		for ; slot <= last; slot++ {
			p.runSlot(sh, slot)
		}
		slot = p.nextBusy(sh, slot)
		t.Reset(time.Until(p.deadline(slot)))
	}
}

// nextBusy returns the first sub-slot from k whose phase has streams, so a
// worker does not wake for empty phases; with no streams at all it returns
// k+phases (one wake-up per interval). A stream added meanwhile to an empty
// phase waits at most one interval for its first tick.
func (p *Pacer) nextBusy(sh *shard, k uint64) uint64 {
	n := uint64(len(sh.phases))
	for i := range n {
		if len(*sh.phases[(k+i)%n].streams.Load()) > 0 {
			return k + i
		}
	}
	return k + n
}

// runSlot ticks the streams of sub-slot k's phase; it allocates nothing.
func (p *Pacer) runSlot(sh *shard, k uint64) {
	dl := p.deadline(k)
	ph := len(sh.phases)
	slot := k / uint64(ph)
	for _, s := range *sh.phases[k%uint64(ph)].streams.Load() {
		if s.Tick(slot) {
			late := time.Since(dl)
			p.hist.Observe(late.Seconds())
			p.sent.Inc()
			p.lat.observe(late)
		}
	}
}
