package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quaverbot/quaver/bot"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
)

func init() {
	register(command{name: "serve", summary: "run the Discord bot (--sandbox: against a built-in local Discord)",
		flags: func(fs *flag.FlagSet) { serveFlags(fs) }, run: runServe})
}

type serveOptions struct {
	token       string
	sandbox     bool
	play        string
	heard       string
	devGuild    string
	shards      int
	shardRange  string
	mediaDir    string
	dataDir     string
	redisURL    string
	postgresURL string
	metricsAddr string
}

func serveFlags(fs *flag.FlagSet) *serveOptions {
	o := &serveOptions{}
	fs.StringVar(&o.token, "token", "", "bot token (also read from DISCORD_TOKEN)")
	fs.BoolVar(&o.sandbox, "sandbox", false, "run against a built-in local Discord and voice server with a scripted listener")
	fs.StringVar(&o.play, "play", "", "with --sandbox: play this file or http(s) URL instead of a generated demo, then exit")
	fs.StringVar(&o.heard, "heard", "sandbox-heard.ogg", "with --sandbox: where to write what the listener heard")
	fs.StringVar(&o.devGuild, "dev-guild", "", "register slash commands in this guild only (instant) instead of globally")
	fs.IntVar(&o.shards, "shards", 0, "total shard count (0: as GET /gateway/bot recommends)")
	fs.StringVar(&o.shardRange, "shard-range", "", "shards this process runs, FIRST-LAST (default: all)")
	fs.StringVar(&o.mediaDir, "media-dir", "", "folder whose files /play file:NAME may play (empty: local files disabled)")
	fs.StringVar(&o.dataDir, "data-dir", ".", "folder of the embedded store (quaver.db)")
	fs.StringVar(&o.redisURL, "redis-url", "", "Redis for snapshots, rate limits and caches (redis://host:6379/0)")
	fs.StringVar(&o.postgresURL, "postgres-url", "", "PostgreSQL for settings and history (postgres://user@host/db)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address (e.g. :9090)")
	return o
}

// parseShardRange reads "FIRST-LAST" (or one number); empty means all shards.
func parseShardRange(s string) (first, last int, err error) {
	if s == "" {
		return 0, -1, nil
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		b = a
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, fmt.Errorf("--shard-range %q: write FIRST-LAST, e.g. 0-3", s)
	}
	return first, last, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	o := serveFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q (see quaver help serve)", pos)
	}
	first, last, err := parseShardRange(o.shardRange)
	if err != nil {
		return err
	}
	if o.play != "" && !o.sandbox {
		return errors.New("--play needs --sandbox")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.metricsAddr != "" {
		stop, err := serveMetrics(o.metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", o.metricsAddr)
	}
	pcfg := pacer.DefaultConfig()
	pcfg.Registerer = reg
	pc, err := pacer.New(pcfg)
	if err != nil {
		return err
	}
	defer pc.Close()
	if raised, workers := pc.Priority(); raised < workers {
		slog.Warn("voice pacer runs at normal thread priority; audio may stutter when the machine is busy (grant CAP_SYS_NICE to raise it)",
			"nice", pcfg.Nice, "raised_workers", raised, "workers", workers)
	}
	var st *store.Store
	if !o.sandbox || o.dataDir != "." || o.redisURL != "" || o.postgresURL != "" {
		if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
			return err
		}
		st, err = store.Open(ctx, store.Config{Path: filepath.Join(o.dataDir, "quaver.db"), RedisURL: o.redisURL,
			PostgresURL: o.postgresURL, Registerer: reg})
		if err != nil {
			return err
		}
		defer st.Close()
	}

	if o.sandbox {
		// Without --data-dir the sandbox keeps its store in a temporary folder.
		ro := sandbox.RunOptions{Input: o.play, HeardPath: o.heard,
			Options: sandbox.Options{Store: st, Pacer: pc, Log: stdout, Logger: slog.Default(), MediaDir: o.mediaDir}}
		if err := sandbox.Run(ctx, ro); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "sandbox finished: play", o.heard, "to hear what the listener heard")
		return nil
	}

	token := o.token
	if token == "" {
		token = os.Getenv("DISCORD_TOKEN")
	}
	token = strings.TrimPrefix(strings.TrimSpace(token), "Bot ")
	cfg := bot.DefaultConfig()
	cfg.Token = token
	cfg.Shards, cfg.FirstShard, cfg.LastShard = o.shards, first, last
	cfg.DevGuild = o.devGuild
	cfg.MediaDir = o.mediaDir
	cfg.Store = st
	cfg.Pacer = pc
	b, err := bot.New(cfg)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		_ = b.Close()
		return err
	}
	fmt.Fprintln(stdout, "quaver is running; press Ctrl-C to stop")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: saving players")
	return b.Close()
}

// serveMetrics serves reg on addr/metrics until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
