package voice

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverbot/quaver/voice/voicetest"
)

// gatedEncryptor passes frames through and says whether they can be heard.
type gatedEncryptor struct {
	ready  atomic.Bool
	polled chan struct{}
}

func (g *gatedEncryptor) EncryptFrame(dst, f []byte) ([]byte, error) { return append(dst, f...), nil }

func (g *gatedEncryptor) MediaReady() bool {
	select {
	case g.polled <- struct{}{}:
	default:
	}
	return g.ready.Load()
}

// skewClock is the system clock shifted forward by skew.
type skewClock struct {
	systemClock
	skew atomic.Int64
}

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.skew.Load())) }

func (g *gatedEncryptor) waitPolls(t *testing.T, h *harness, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.polled:
		case <-h.ctx.Done():
			t.Fatal("the connection never asked whether media can be heard")
		}
	}
}

// While end-to-end encryption is being set up, the connection neither sends
// nor reads its source; once it is ready the first frame heard is the
// source's first, so nothing was lost, only delayed.
func TestMediaGateHoldsAudio(t *testing.T) {
	g := &gatedEncryptor{polled: make(chan struct{})}
	h := newHarness(t, func(_ *voicetest.Config, c *Config) { c.Encryptor = g })
	ss := h.connect()
	g.waitPolls(t, h, 30) // 30 pacer slots
	if n := h.src.next.Load(); n != 0 {
		t.Fatalf("source read %d times while media could not be heard", n)
	}
	if n := ss.Recorder().Received(); n != 0 {
		t.Fatalf("%d packets sent while media could not be heard", n)
	}
	g.ready.Store(true)
	if err := ss.Recorder().WaitPackets(h.ctx, 10); err != nil {
		t.Fatal(err)
	}
	first := ss.Recorder().Packets()[0]
	if i, ok := frameIndex(first.Opus); !ok || i != 0 {
		t.Fatalf("first packet heard carries frame %d (ok %v), want frame 0", i, ok)
	}
}

// A gate that never opens holds audio for MaxE2EEWait only; after it frames
// go out as they would without the gate.
func TestMediaGateWaitIsBounded(t *testing.T) {
	g := &gatedEncryptor{polled: make(chan struct{})}
	clk := &skewClock{}
	h := newHarness(t, func(_ *voicetest.Config, c *Config) { c.Encryptor, c.Clock = g, clk })
	ss := h.connect()
	g.waitPolls(t, h, 10)
	if n := ss.Recorder().Received(); n != 0 {
		t.Fatalf("%d packets sent before MaxE2EEWait", n)
	}
	clk.skew.Store(int64(MaxE2EEWait + time.Second))
	if err := ss.Recorder().WaitPackets(h.ctx, 10); err != nil {
		t.Fatal(err)
	}
}
