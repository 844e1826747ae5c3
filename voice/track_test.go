package voice

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/rtp"
)

// trackSource plays a list of Opus packets; it can pause, and calls hook
// (once) when frame at reaches the player.
type trackSource struct {
	mu     sync.Mutex
	pkts   [][]byte
	next   int
	paused bool
	hooks  map[int]func()
}

func (s *trackSource) NextFrame() ([]byte, bool) {
	s.mu.Lock()
	if s.paused || s.next >= len(s.pkts) {
		s.mu.Unlock()
		return nil, false
	}
	i := s.next
	p := s.pkts[i]
	s.next++
	hook := s.hooks[i]
	delete(s.hooks, i)
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return p, true
}

func (s *trackSource) setPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
}

// decode runs ffmpeg (the independent judge) to mono 48 kHz float samples.
func decode(t *testing.T, ffmpeg, file string) []float64 {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", file, "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", file, err)
	}
	s := make([]float64, len(out)/2)
	for i := range s {
		s[i] = float64(int16(binary.LittleEndian.Uint16(out[2*i:])))
	}
	return s
}

func correlation(a, b []float64) float64 {
	n := min(len(a), len(b))
	var ab, aa, bb float64
	for i := range n {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

// TestStreamSixtySecondTrack streams a 60 s track made by ffmpeg through the
// pacer, the client and real UDP into the local server, with a pause and a
// forced resume (op 7) on the way; the recorded packets, written as Ogg Opus
// and decoded by ffmpeg, must match the source (correlation ≥ 0.95) and RTP
// must be continuous. The pacer's grid runs at 2 ms so the test takes ~7 s.
func TestStreamSixtySecondTrack(t *testing.T) {
	ffmpeg := testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.ogg")
	// A chirp with a slow tremolo: any lost, repeated or shifted frame lowers
	// the correlation sharply.
	gen := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi",
		"-i", "aevalsrc=0.5*sin(2*PI*(200+40*t)*t)*(0.6+0.4*sin(2*PI*0.5*t)):s=48000:d=60",
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", src)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg encode: %v\n%s", err, out)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := ogg.NewOpusReader(f)
	if err != nil {
		t.Fatal(err)
	}
	ts := &trackSource{hooks: map[int]func(){}}
	for {
		p, err := rd.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ts.pkts = append(ts.pkts, append([]byte(nil), p...))
	}
	if len(ts.pkts) < 2990 {
		t.Fatalf("only %d packets in a 60 s track", len(ts.pkts))
	}

	h := newHarness(t)
	resumed := make(chan struct{})
	ts.hooks[1000] = func() { ts.setPaused(true) }
	ts.hooks[2000] = func() { h.srv.DropSocket() }
	h.conn.SetSource(ts)
	if err := h.conn.Connect(h.ctx); err != nil {
		t.Fatal(err)
	}
	defer h.conn.Close()
	ss, err := h.srv.WaitSession(h.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	// Frames 0..1000 then 5 silence frames; Speaking cleared; resume playback.
	h.waitPackets(ss, 1001+5)
	if err := ss.WaitSpeaking(h.ctx, 0); err != nil {
		t.Fatal(err)
	}
	ts.setPaused(false)
	go func() {
		defer close(resumed)
		h.waitState(StateResuming)
		h.waitState(StateReady)
	}()
	h.waitPackets(ss, len(ts.pkts)+10) // all frames and two silence runs
	select {
	case <-resumed:
	case <-h.ctx.Done():
		t.Fatal("no resume seen")
	}
	if _, resumes, _ := ss.Counters(); resumes != 1 {
		t.Fatalf("%d resumes, want 1 (op 7)", resumes)
	}

	pkts := ss.Recorder().Packets()
	var audio [][]byte
	pauseGap := uint32(0)
	for i, p := range pkts {
		if i > 0 {
			if p.Seq != pkts[i-1].Seq+1 {
				t.Fatalf("packet %d: seq %d after %d", i, p.Seq, pkts[i-1].Seq)
			}
			d := p.Timestamp - pkts[i-1].Timestamp
			if d == 0 || d%960 != 0 || d > 1<<30 {
				t.Fatalf("packet %d: timestamp step %d", i, d)
			}
			if d > 960 {
				pauseGap = max(pauseGap, d)
			}
		}
		if !bytes.Equal(p.Opus, rtp.SilenceFrame[:]) {
			audio = append(audio, p.Opus)
		}
	}
	if pauseGap == 0 {
		t.Fatal("timestamp did not advance across the pause")
	}
	if len(audio) != len(ts.pkts) {
		t.Fatalf("recorded %d audio packets, sent %d", len(audio), len(ts.pkts))
	}
	for i := range audio {
		if !bytes.Equal(audio[i], ts.pkts[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	got := filepath.Join(dir, "got.ogg")
	out, err := os.Create(got)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ogg.DefaultOpusWriterConfig()
	cfg.Channels, cfg.PreSkip = rd.Channels(), rd.PreSkip()
	w, err := ogg.NewOpusWriter(out, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range audio {
		n, err := ogg.PacketSamples(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(p, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	a, b := decode(t, ffmpeg, src), decode(t, ffmpeg, got)
	if len(b) < len(a)-48000/10 {
		t.Fatalf("decoded %d samples, source %d", len(b), len(a))
	}
	if c := correlation(a, b); c < 0.95 {
		t.Fatalf("cross-correlation %.4f < 0.95", c)
	} else {
		t.Logf("cross-correlation %.5f over %d samples; jitter %v", c, min(len(a), len(b)), ss.Recorder().Stats().Jitter)
	}
}
