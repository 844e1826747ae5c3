package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/quaverbot/quaver/bench/voiceload"
	"github.com/quaverbot/quaver/voice/pacer"
)

func init() {
	register(command{name: "bench", summary: "load benchmarks for operators: 'quaver bench voice'",
		flags: func(fs *flag.FlagSet) { benchVoiceFlags(fs) }, run: runBench})
}

type benchVoiceOptions struct {
	n        int
	duration time.Duration
	mode     string
	json     bool
	profile  string
	nice     int
}

func benchVoiceFlags(fs *flag.FlagSet) *benchVoiceOptions {
	o := &benchVoiceOptions{}
	fs.IntVar(&o.n, "n", 100, "concurrent voice connections")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long every connection streams")
	fs.StringVar(&o.mode, "mode", voiceload.ModePassthrough, "passthrough (pre-encoded Opus) or transcode (libopus per frame)")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.IntVar(&o.nice, "nice", pacer.DefaultConfig().Nice, "thread priority (nice) of the pacer workers (0: normal)")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a pprof CPU profile of the measured window to this file")
	return o
}

// runBench dispatches `quaver bench voice`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "voice" {
		return errors.New("usage: quaver bench voice --n N --duration D --mode passthrough|transcode [--json]")
	}
	fs := newFlags("bench voice", stderr)
	o := benchVoiceFlags(fs)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if o.n < 1 || o.duration <= 0 {
		return errors.New("--n must be ≥ 1 and --duration positive")
	}
	if o.mode != voiceload.ModePassthrough && o.mode != voiceload.ModeTranscode {
		return fmt.Errorf("--mode must be %s or %s", voiceload.ModePassthrough, voiceload.ModeTranscode)
	}
	cfg := voiceload.Config{N: o.n, Duration: o.duration, Mode: o.mode, Nice: o.nice, Logger: slog.Default()}
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	res, err := voiceload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "connections               %d (%s, %s)\n", res.Connections, o.mode, o.duration)
	fmt.Fprintf(stdout, "cpu per connection        %.3f %%\n", res.CPUPercentPerConnection)
	fmt.Fprintf(stdout, "rss per connection        %.1f KB\n", res.RSSKBPerConnection)
	fmt.Fprintf(stdout, "send lateness p50/p99/max %.3f / %.3f / %.3f ms\n", res.LatenessMsP50, res.LatenessMsP99, res.LatenessMsMax)
	fmt.Fprintf(stdout, "packets sent / lost       %d / %d\n", res.PacketsSent, res.PacketsLost)
	fmt.Fprintf(stdout, "pacer priority            nice %d on %d of %d workers\n", res.PacerNice, res.PacerWorkersRaised, res.PacerWorkers)
	return nil
}
