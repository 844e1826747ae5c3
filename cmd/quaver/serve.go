package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

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
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this address (e.g. :9090)")
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
	if err := checkStoreURLs(o.redisURL, o.postgresURL); err != nil {
		return err
	}
	memoryLimitFromCgroup("/", os.Getenv, debug.SetMemoryLimit, slog.Default())
	// go-redis prints each failed dial itself; the store and openStore log
	// what matters, so its lines go to the debug level, structured.
	redis.SetLogger(redisLogger{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ready := newReadiness("starting: opening the store")
	// From the first signal on, /readyz answers 503 until the process exits.
	defer context.AfterFunc(ctx, func() { ready.drain("shutting down: saving players") })()
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
	// The listener starts once the pacer is built: pacer.New registers its
	// metrics before it builds its shards, and a scrape in between would race.
	if o.metricsAddr != "" {
		bound, stop, err := serveMetrics(o.metricsAddr, reg, ready)
		if err != nil {
			return err
		}
		// Deferred before the store's Close and runs after it (and after the
		// bot's): /readyz answers 503 while players are saved.
		defer stop()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", bound)
	}
	var st *store.Store
	if !o.sandbox || o.dataDir != "." || o.redisURL != "" || o.postgresURL != "" {
		if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
			return err
		}
		st, err = openStore(ctx, store.Config{Path: filepath.Join(o.dataDir, "quaver.db"), RedisURL: o.redisURL,
			PostgresURL: o.postgresURL, Registerer: reg}, ready, defaultStoreBackoff)
		if ctx.Err() != nil {
			// Ctrl-C or SIGTERM while waiting for the store: a requested stop.
			if st != nil {
				_ = st.Close()
			}
			fmt.Fprintln(stdout, "stopped while waiting for the store")
			return nil
		}
		if err != nil {
			return err
		}
		defer st.Close()
	}

	if o.sandbox {
		ready.set("starting: starting the sandbox")
		// Without --data-dir the sandbox keeps its store in a temporary folder.
		ro := sandbox.RunOptions{Input: o.play, HeardPath: o.heard,
			Options: sandbox.Options{Store: st, Pacer: pc, Log: stdout, Logger: slog.Default(), MediaDir: o.mediaDir,
				// Prepare runs once the sandbox's store, local Discord and voice
				// server are up, just before its bot connects: the last point
				// package sandbox lets a caller see.
				Prepare: func(*sandbox.Env) error { ready.set(""); return nil },
				// The bot's operator metrics (gateway, players, commands) on
				// the same registry as the pacer's and the store's.
				Bot: func(c *bot.Config) { c.Registerer = reg }}}
		err := sandbox.Run(ctx, ro)
		ready.drain("shutting down: the sandbox has finished")
		if ctx.Err() != nil {
			// Ctrl-C or SIGTERM: a requested stop, not a failure.
			fmt.Fprintln(stdout, "sandbox stopped")
			return nil
		}
		if err != nil {
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
	ready.set("starting: preparing the bot")
	cfg := bot.DefaultConfig()
	cfg.Token = token
	cfg.Shards, cfg.FirstShard, cfg.LastShard = o.shards, first, last
	cfg.DevGuild = o.devGuild
	cfg.MediaDir = o.mediaDir
	cfg.Store = st
	cfg.Pacer = pc
	cfg.Registerer = reg
	b, err := bot.New(cfg)
	if err != nil {
		return err
	}
	ready.set("starting: connecting to Discord")
	// Start returns once every shard of this process is connected (READY).
	if err := b.Start(ctx); err != nil {
		ready.drain("shutting down: the bot failed to start")
		_ = b.Close()
		return err
	}
	ready.set("")
	fmt.Fprintln(stdout, "quaver is running; press Ctrl-C to stop")
	<-ctx.Done()
	ready.drain("shutting down: saving players")
	fmt.Fprintln(stdout, "stopping: saving players")
	return b.Close()
}

// readiness is what /readyz reports: ready, or a one-line reason why not.
// Once draining, it stays not ready.
type readiness struct {
	mu       sync.Mutex
	reason   string // empty: ready
	draining bool
}

func newReadiness(reason string) *readiness { return &readiness{reason: reason} }

// set records the current state (empty: ready), unless the process is
// already shutting down.
func (r *readiness) set(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.draining {
		r.reason = reason
	}
}

// drain marks the process as shutting down for good; the first reason stays.
func (r *readiness) drain(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.draining {
		r.draining, r.reason = true, reason
	}
}

// ServeHTTP answers 200 "ready", or 503 with the reason on one line.
func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	reason := r.reason
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, reason)
		return
	}
	fmt.Fprintln(w, "ready")
}

// healthz answers 200 for as long as the process serves HTTP: serve runs
// the listener from start-up until it returns, draining included, so a
// failing liveness probe means a dead or wedged process.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// serveMetrics serves reg on addr/metrics, /healthz and ready on /readyz
// until stop is called. bound is the address it listens on (with the port
// the system chose when addr's is 0).
func serveMetrics(addr string, reg *prometheus.Registry, ready http.Handler) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", ready)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// checkStoreURLs rejects a --redis-url or --postgres-url that cannot be
// parsed: a configuration error no retry would fix.
func checkStoreURLs(redisURL, postgresURL string) error {
	if redisURL != "" {
		if _, err := redis.ParseURL(redisURL); err != nil {
			return fmt.Errorf("--redis-url: %s", redactSecrets(err.Error(), redisURL))
		}
	}
	if postgresURL != "" {
		if _, err := pgxpool.ParseConfig(postgresURL); err != nil {
			return fmt.Errorf("--postgres-url: %s", redactSecrets(err.Error(), postgresURL))
		}
	}
	return nil
}

// storeBackoff is how long openStore waits between attempts: first, doubling
// up to max, each wait drawn at random from its upper half (jitter, so that
// restarted pods do not retry in step).
type storeBackoff struct{ first, max time.Duration }

var defaultStoreBackoff = storeBackoff{first: 500 * time.Millisecond, max: 30 * time.Second}

// delay is the wait after the attempt-th failure (1-based).
func (b storeBackoff) delay(attempt int) time.Duration {
	d := b.first
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + rand.N(d/2+1)
}

// openStore opens the store, retrying while Redis or PostgreSQL is
// unreachable or refuses the connection (a server starting later, a
// database user created later), with ready saying why it waits. Other
// errors (the embedded store's file, a malformed option) return at once, as
// does the end of ctx (with ctx's error).
func openStore(ctx context.Context, cfg store.Config, ready *readiness, backoff storeBackoff) (*store.Store, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		st, err := store.Open(ctx, cfg)
		if err == nil {
			if attempt > 1 {
				slog.Info("store: open", "attempts", attempt, "waited", time.Since(start).Round(time.Millisecond))
			}
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		backend, why, retry := storeFailure(err)
		if !retry {
			return nil, errors.New(redactSecrets(err.Error(), cfg.RedisURL, cfg.PostgresURL))
		}
		ready.set("starting: waiting for the store (" + backend + " " + why + ")")
		wait := backoff.delay(attempt)
		slog.Warn("store: cannot open; retrying", "backend", backend, "attempt", attempt,
			"retry_in", wait.Round(time.Millisecond), "err", redactSecrets(err.Error(), cfg.RedisURL, cfg.PostgresURL))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// storeFailure says whether store.Open's err is worth retrying, and names
// the server (redis, postgres) and what went wrong for /readyz.
func storeFailure(err error) (backend, why string, retry bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && !errors.Is(err, store.ErrUnavailable) {
		// The server answered but refused: authentication, a missing
		// database, a failed migration.
		return "postgres", "refused: SQLSTATE " + pe.Code, true
	}
	if !errors.Is(err, store.ErrUnavailable) {
		return "", "", false
	}
	// store wraps transport errors as "<ErrUnavailable>: <backend>: <cause>".
	rest, _ := strings.CutPrefix(err.Error(), store.ErrUnavailable.Error()+": ")
	backend, _, found := strings.Cut(rest, ":")
	if !found || strings.ContainsAny(backend, " \t") {
		backend = "a server"
	}
	return backend, "unreachable", true
}

// redactSecrets replaces the password of each URL in urls, wherever it
// appears in msg, with "xxxxx".
func redactSecrets(msg string, urls ...string) string {
	for _, raw := range urls {
		for _, pw := range urlPasswords(raw) {
			if pw != "" {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
	}
	return msg
}

// urlPasswords returns the password in raw's user info, as written and
// decoded, also when raw does not parse as a URL.
func urlPasswords(raw string) []string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return nil
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return nil
	}
	out := []string{pw}
	if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
		out = append(out, dec)
	}
	if esc := url.QueryEscape(pw); esc != pw {
		out = append(out, esc)
	}
	return out
}

// redisLogger hands go-redis's own log lines to slog at the debug level.
type redisLogger struct{}

// Printf logs one go-redis line.
func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
