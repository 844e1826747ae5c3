package voice

import (
	"net"
	"testing"

	"github.com/quaverbot/quaver/voice/voicetest"
)

// constSource always has the same frame ready.
type constSource struct{ f []byte }

func (s constSource) NextFrame() ([]byte, bool) { return s.f, true }

// manualConn connects a Conn and takes it off the pacer so Tick can be
// driven by hand, with Speaking already announced.
func manualConn(tb testing.TB) *Conn {
	// Plain dialers: no test wrappers on the measured path.
	h := newHarness(tb, func(_ *voicetest.Config, c *Config) { c.UDPDialer = &net.Dialer{} })
	c := h.conn
	c.SetSource(constSource{make([]byte, 120)})
	if err := c.Connect(h.ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.handle.Remove()
	c.speakWant.Store(1)
	c.speakSent.Store(1)
	return c
}

func TestTickAllocatesNothing(t *testing.T) {
	c := manualConn(t)
	var slot uint64 = 1 << 40
	allocs := testing.AllocsPerRun(500, func() {
		slot++
		if !c.Tick(slot) {
			t.Fatal("Tick sent nothing")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per frame", allocs)
	}
}

func BenchmarkTick(b *testing.B) {
	c := manualConn(b)
	b.ReportAllocs()
	var slot uint64
	for b.Loop() {
		slot++
		c.Tick(slot)
	}
}
