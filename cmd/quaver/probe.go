package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"time"

	"github.com/quaverbot/quaver/audio"
)

func init() {
	register(command{name: "probe", summary: "print what an input is, as one JSON object",
		flags: func(fs *flag.FlagSet) { probeFlags(fs) }, run: runProbe})
}

type probeOptions struct {
	timeout time.Duration
}

func probeFlags(fs *flag.FlagSet) *probeOptions {
	o := &probeOptions{}
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on an input that does not answer within this time")
	return o
}

// runProbe prints one JSON object describing INPUT.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", stderr)
	o := probeFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: quaver probe INPUT (a file path or http(s) URL)")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	p, err := audio.OpenPipeline(ctx, pos[0], audio.DefaultConfig())
	if err != nil {
		return err
	}
	defer p.Close()
	return json.NewEncoder(stdout).Encode(p.Info())
}
