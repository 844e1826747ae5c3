package pacer

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recStream records the slots it was ticked for and when.
type recStream struct {
	mu    sync.Mutex
	slots []uint64
	times []time.Time
	send  bool
	slow  time.Duration // simulated work on the first tick
	done  chan struct{}
	want  int
}

func (r *recStream) Tick(slot uint64) bool {
	now := time.Now()
	r.mu.Lock()
	first := len(r.slots) == 0
	r.slots = append(r.slots, slot)
	r.times = append(r.times, now)
	n := len(r.slots)
	r.mu.Unlock()
	if first && r.slow > 0 {
		time.Sleep(r.slow) // a stream that takes too long to send
	}
	if n == r.want {
		close(r.done)
	}
	return r.send
}

func newRec(want int, send bool) *recStream {
	return &recStream{want: want, send: send, done: make(chan struct{})}
}

func wait(t *testing.T, ch chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("timed out waiting for ticks")
	}
}

func TestGridIsAbsoluteAndContinuous(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := New(Config{Workers: 2, Interval: 4 * time.Millisecond, MaxCatchUp: 1 << 20, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sender := newRec(100, true)
	idle := newRec(100, false) // never has a frame: must not disturb others
	slow := newRec(100, true)
	slow.slow = 15 * time.Millisecond
	for _, s := range []*recStream{sender, idle, slow} {
		if _, err := p.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, sender.done)
	wait(t, idle.done)
	wait(t, slow.done)
	for name, s := range map[string]*recStream{"sender": sender, "idle": idle, "slow": slow} {
		s.mu.Lock()
		slots, times := append([]uint64(nil), s.slots...), append([]time.Time(nil), s.times...)
		s.mu.Unlock()
		for i := 1; i < len(slots); i++ {
			if slots[i] != slots[i-1]+1 {
				t.Fatalf("%s: slot %d followed by %d (skipped or repeated)", name, slots[i-1], slots[i])
			}
		}
		for i, slot := range slots {
			if times[i].Before(p.start.Add(time.Duration(slot) * p.Interval())) {
				t.Fatalf("%s: slot %d ran before its deadline", name, slot)
			}
		}
	}
	// Lateness was observed for sent packets only, in both histograms.
	p.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	for _, mf := range mfs {
		if mf.GetName() == "quaver_voice_send_lateness_seconds" {
			count = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	l := p.Lateness()
	if count == 0 || l.Count != count {
		t.Fatalf("prometheus count %d, internal %d", count, l.Count)
	}
	if l.P50 > l.P99 || l.P99 > l.Max+latBucket {
		t.Fatalf("percentiles out of order: %+v", l)
	}
}

func TestSkipsWhenFarBehind(t *testing.T) {
	p, err := New(Config{Workers: 1, Interval: 2 * time.Millisecond, MaxCatchUp: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := newRec(40, true)
	s.slow = 30 * time.Millisecond // 15 slots behind after the first tick
	if _, err := p.Add(s); err != nil {
		t.Fatal(err)
	}
	wait(t, s.done)
	if p.Skipped() == 0 {
		t.Fatal("no slots skipped after falling 15 slots behind")
	}
	s.mu.Lock()
	slots := append([]uint64(nil), s.slots...)
	s.mu.Unlock()
	for i := 1; i < len(slots); i++ {
		if slots[i] <= slots[i-1] {
			t.Fatalf("slots not increasing: %d then %d", slots[i-1], slots[i])
		}
	}
}

func TestIdlePhasesDoNotWakeWorkers(t *testing.T) {
	p, _ := New(Config{Workers: 1, Interval: 10 * time.Millisecond, Phases: 10})
	defer p.Close()
	s := newRec(20, false)
	_, _ = p.Add(s)
	wait(t, s.done)
	// 20 ticks of the one busy phase: about 20 wake-ups, not 200.
	if w := p.wakes.Load(); w > 60 {
		t.Fatalf("%d wake-ups for 20 ticks of one stream", w)
	}
}

func TestPhasesSpreadStreams(t *testing.T) {
	p, _ := New(Config{Workers: 2, Interval: time.Hour, Phases: 4})
	defer p.Close()
	var hs []*Handle
	for range 16 {
		h, _ := p.Add(nopStream{})
		hs = append(hs, h)
	}
	for _, sh := range p.shards {
		for i := range sh.phases {
			if n := len(*sh.phases[i].streams.Load()); n != 2 {
				t.Fatalf("phase holds %d streams, want 2 (16 over 2 workers × 4 phases)", n)
			}
		}
	}
	for _, h := range hs {
		h.Remove()
	}
	for _, sh := range p.shards {
		if sh.n != 0 {
			t.Fatalf("%d streams left", sh.n)
		}
	}
}

func TestRemove(t *testing.T) {
	p, _ := New(Config{Workers: 1, Interval: 2 * time.Millisecond})
	defer p.Close()
	a := newRec(1<<30, true)
	h, _ := p.Add(a)
	b := newRec(5, true)
	hb, _ := p.Add(b)
	wait(t, b.done)
	h.Remove()
	h.Remove()
	a.mu.Lock()
	n := len(a.slots)
	a.mu.Unlock()
	c := newRec(10, true)
	_, _ = p.Add(c)
	wait(t, c.done)
	a.mu.Lock()
	after := len(a.slots)
	a.mu.Unlock()
	if after > n+1 { // one late call is allowed by the contract
		t.Fatalf("removed stream ticked %d more times", after-n)
	}
	hb.Remove()
	_ = p.Close()
	if _, err := p.Add(c); err == nil {
		t.Fatal("Add after Close succeeded")
	}
}

type nopStream struct{}

func (nopStream) Tick(uint64) bool { return true }

func TestRunSlotNoAllocs(t *testing.T) {
	p, _ := New(Config{Workers: 1, Interval: time.Hour})
	defer p.Close()
	for range 100 {
		_, _ = p.Add(nopStream{})
	}
	sh := p.shards[0]
	k := uint64(0)
	a := testing.AllocsPerRun(100, func() { k++; p.runSlot(sh, k) })
	if a != 0 {
		t.Fatalf("%v allocs per slot of 100 streams", a)
	}
}

func BenchmarkRunSlot1000(b *testing.B) {
	p, _ := New(Config{Workers: 1, Interval: time.Hour})
	defer p.Close()
	for range 1000 {
		_, _ = p.Add(nopStream{})
	}
	b.ReportAllocs()
	for b.Loop() { // one whole interval: every phase once
		for k := range uint64(len(p.shards[0].phases)) {
			p.runSlot(p.shards[0], k)
		}
	}
}

// Workers take Config.Nice on their own threads: a lower priority is always
// allowed, so every worker reports it, and the pacer still ticks streams.
// (A raise to the default -10 needs CAP_SYS_NICE; without it Priority
// reports 0 workers and the pacer runs as before.)
func TestWorkersTakeNice(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux-only")
	}
	p, err := New(Config{Workers: 2, Interval: 2 * time.Millisecond, Nice: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := newRec(3, true)
	if _, err := p.Add(r); err != nil {
		t.Fatal(err)
	}
	wait(t, r.done)
	if raised, n := p.Priority(); raised != 2 || n != 2 {
		t.Fatalf("Priority() = %d of %d workers, want 2 of 2", raised, n)
	}
}

// The pacer's metrics tell an operator how many connections it drives and
// how many packets went out.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := New(Config{Workers: 1, Interval: 2 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := newRec(5, true)
	h, err := p.Add(r)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r.done)
	h.Remove()
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			got[mf.GetName()] = m.Counter.GetValue()
		case m.Gauge != nil:
			got[mf.GetName()] = m.Gauge.GetValue()
		case m.Histogram != nil:
			got[mf.GetName()] = float64(m.Histogram.GetSampleCount())
		}
	}
	if got["quaver_voice_packets_sent_total"] < 5 || got["quaver_voice_send_lateness_seconds"] < 5 {
		t.Fatalf("metrics %v: want ≥ 5 packets sent and observed", got)
	}
	if v, ok := got["quaver_voice_streams"]; !ok || v != 0 {
		t.Fatalf("quaver_voice_streams = %v (present %v) after the only stream was removed", v, ok)
	}
	for _, name := range []string{"quaver_voice_slots_skipped_total", "quaver_voice_pacer_workers_raised"} {
		if _, ok := got[name]; !ok {
			t.Fatalf("metric %s missing from %v", name, got)
		}
	}
}

// A second pacer on the same registry fails cleanly (the names are taken)
// and leaves the first one's metrics registered and nothing running.
func TestRegisterConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := New(Config{Workers: 1, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := New(Config{Workers: 1, Registerer: reg}); err == nil {
		t.Fatal("a second pacer registered the same metric names")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) < 4 {
		t.Fatalf("%d metric families left registered, want the first pacer's", len(mfs))
	}
}
