package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/audio/effects"
)

func init() {
	register(command{name: "transcode", summary: "run the audio engine on an input and write Ogg Opus",
		flags: func(fs *flag.FlagSet) { transcodeFlags(fs) }, run: runTranscode})
}

type transcodeOptions struct {
	output     string
	bitrate    int
	complexity int
	volume     int
	seekMS     int64
	eq         string
}

func transcodeFlags(fs *flag.FlagSet) *transcodeOptions {
	o := &transcodeOptions{}
	fs.StringVar(&o.output, "o", "", "output file (Ogg Opus); - for standard output")
	fs.IntVar(&o.bitrate, "bitrate", 128000, "Opus bitrate in bits per second when re-encoding")
	fs.IntVar(&o.complexity, "complexity", 10, "Opus encoder complexity, 0–10")
	fs.IntVar(&o.volume, "volume", 100, "volume in percent, 0–1000")
	fs.Int64Var(&o.seekMS, "seek", 0, "start at this many milliseconds")
	fs.StringVar(&o.eq, "eq", "", "equalizer bands as BAND:GAIN,... (band 0–14, gain −0.25…1.0)")
	return o
}

// runTranscode writes INPUT through the engine to an Ogg Opus file.
func runTranscode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transcode", stderr)
	o := transcodeFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.output == "" {
		return errors.New("usage: quaver transcode INPUT -o OUTPUT.ogg [--bitrate N] [--volume PCT] [--seek MS] [--eq BAND:GAIN,...]")
	}
	cfg := audio.DefaultConfig()
	cfg.Bitrate, cfg.Complexity, cfg.Volume = o.bitrate, o.complexity, o.volume
	if o.seekMS < 0 {
		return errors.New("--seek must not be negative")
	}
	cfg.Seek = time.Duration(o.seekMS) * time.Millisecond
	if cfg.Equalizer, err = parseEQ(o.eq); err != nil {
		return err
	}
	p, err := audio.OpenPipeline(ctx, pos[0], cfg)
	if err != nil {
		return err
	}
	defer p.Close()

	var frames int64
	if o.output == "-" {
		frames, err = audio.WriteOgg(p, stdout)
	} else {
		frames, err = writeOggFile(p, o.output)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "quaver transcode: %d frames (%s), %s\n", frames, framesDuration(frames), mode(p))
	return nil
}

// writeOggFile writes p as Ogg Opus to path, beside it first and renamed at
// the end, so a failure leaves no half file; the file is readable by all
// (0644), like ffmpeg's. It returns the frames written.
func writeOggFile(p *audio.Pipeline, path string) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".quaver-*.ogg")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	frames, err := audio.WriteOgg(p, f)
	if err != nil {
		return 0, err
	}
	if err := f.Chmod(0o644); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return frames, os.Rename(f.Name(), path)
}

// framesDuration is the audio length of n 20 ms Opus frames.
func framesDuration(n int64) time.Duration { return time.Duration(n) * 20 * time.Millisecond }

func mode(p *audio.Pipeline) string {
	if p.Passing() {
		return "opus passed through"
	}
	return "re-encoded"
}

// parseEQ reads "BAND:GAIN,..." into equalizer gains.
func parseEQ(s string) ([15]float64, error) {
	var g [15]float64
	if s == "" {
		return g, nil
	}
	for _, part := range strings.Split(s, ",") {
		b, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return g, fmt.Errorf("--eq: %q is not BAND:GAIN", part)
		}
		band, err := strconv.Atoi(b)
		if err != nil || band < 0 || band >= len(g) {
			return g, fmt.Errorf("--eq: band %q is not 0–14", b)
		}
		gain, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return g, fmt.Errorf("--eq: gain %q is not a number", v)
		}
		g[band] = gain
	}
	return g, effects.ValidateGains(g)
}
