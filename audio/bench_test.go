package audio

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/internal/testenv"
)

// benchFrames measures producing one 20 ms frame (one op) from a 20 s input,
// reopening it whenever it ends.
func benchFrames(b *testing.B, file string, rate int, volume int, opts ...string) {
	in := audiotest.Convert(b, audiotest.Music(rate, 2, 20), file, opts...)
	cfg := DefaultConfig()
	cfg.Volume = volume
	open := func() *Pipeline {
		p, err := OpenPipeline(context.Background(), in, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	p := open()
	defer func() { p.Close() }()
	frame := make([]byte, MaxFrameBytes)
	b.ReportAllocs()
	start := testenv.CPUTime()
	for b.Loop() {
		if _, err := p.Next(frame); err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			b.StopTimer()
			p.Close()
			p = open()
			b.StartTimer()
		}
	}
	testenv.ReportCPU(b, start)
}

func BenchmarkPassthrough(b *testing.B) {
	benchFrames(b, "a.webm", 48000, 100, "-c:a", "libopus", "-frame_duration", "20")
}

func BenchmarkMP3ToOpus(b *testing.B) {
	benchFrames(b, "a.mp3", 44100, 100, "-c:a", "libmp3lame", "-b:a", "192k")
}

func BenchmarkFLACToOpus(b *testing.B) {
	benchFrames(b, "a.flac", 44100, 100, "-c:a", "flac")
}

func BenchmarkWebMOpusVolume(b *testing.B) {
	benchFrames(b, "a.webm", 48000, 80, "-c:a", "libopus", "-frame_duration", "20")
}
