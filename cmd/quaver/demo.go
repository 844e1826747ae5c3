package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/audio/synth"
)

func init() {
	register(command{name: "demo", summary: "generate a demo track, run it through the audio engine and report",
		flags: func(fs *flag.FlagSet) { demoFlags(fs) }, run: runDemo})
}

type demoOptions struct {
	output  string
	seconds float64
}

func demoFlags(fs *flag.FlagSet) *demoOptions {
	o := &demoOptions{}
	fs.StringVar(&o.output, "o", "demo.ogg", "where to write the transcoded demo (Ogg Opus)")
	fs.Float64Var(&o.seconds, "seconds", 20, "length of the demo track")
	return o
}

// runDemo makes a music-like 44.1 kHz WAV, transcodes it with the engine and
// prints what happened and what it cost.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	o := demoFlags(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.seconds <= 0 || o.seconds > 600 {
		return errors.New("--seconds must be between 0 and 600")
	}
	dir, err := os.MkdirTemp("", "quaver-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	wav := filepath.Join(dir, "demo.wav")
	if err := os.WriteFile(wav, synth.WAV(synth.Music(44100, 2, o.seconds)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %.0f s of music-like audio (44.1 kHz stereo WAV)\n", o.seconds)
	p, err := audio.OpenPipeline(ctx, wav, audio.DefaultConfig())
	if err != nil {
		return err
	}
	defer p.Close()
	info := p.Info()
	fmt.Fprintf(stdout, "detected %s in %s, %d Hz, %d channels\n", info.Codec, info.Container, info.SampleRate, info.Channels)
	cpu0, wall0 := cpuTime(), time.Now()
	frames, err := writeOggFile(p, o.output)
	if err != nil {
		return err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	audioDur := framesDuration(frames)
	fmt.Fprintf(stdout, "transcoded %d frames (%s of Opus at 128 kbps) to %s\n", frames, audioDur, o.output)
	fmt.Fprintf(stdout, "cpu %s (%.1f µs per 20 ms frame), %.0fx faster than real time\n",
		cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(frames), audioDur.Seconds()/wall.Seconds())
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
