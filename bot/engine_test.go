package bot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/audio/synth"
)

// openStream opens a generated WAV through the same adapter the players use.
func openStream(t testing.TB) stream {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(path, synth.WAV(synth.Tone(48000, 2, 5, 440, 0.5)), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := audio.Open(context.Background(), path, audio.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	s := stream{t: tr}
	// Wait (bounded) until read-ahead has frames.
	deadline := time.Now().Add(10 * time.Second)
	for tr.Buffered() < 200*time.Millisecond {
		select {
		case <-s.Done():
			t.Fatal("track ended before buffering")
		case <-time.After(time.Millisecond): // polling the buffer level; Track offers no event for it
		}
		if time.Now().After(deadline) {
			t.Fatal("no read-ahead")
		}
	}
	return s
}

// The frame path (pacer → player → this adapter → audio.Track) must not allocate.
func TestStreamNextFrameAllocs(t *testing.T) {
	s := openStream(t)
	got := 0
	allocs := testing.AllocsPerRun(5, func() {
		if _, ok := s.NextFrame(); ok {
			got++
		}
	})
	if got == 0 {
		t.Fatal("no frames")
	}
	if allocs != 0 {
		t.Errorf("NextFrame allocates %.1f times per frame", allocs)
	}
}

func BenchmarkStreamNextFrame(b *testing.B) {
	s := openStream(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.NextFrame(); !ok {
			b.StopTimer()
			_ = s.Seek(0)
			b.StartTimer()
		}
	}
}
