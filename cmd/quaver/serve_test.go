package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/internal/tcpcut"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/store"
)

// TestServeSandboxPlay runs `quaver serve --sandbox --play FILE`: it must
// exit 0 once the track has ended, print its steps, and leave an Ogg file
// that ffmpeg decodes to the track's length.
func TestServeSandboxPlay(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, synth.WAV(synth.Music(44100, 2, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	heard := filepath.Join(dir, "heard.ogg")
	code, out, errOut := runCmd("serve", "--sandbox", "--play", in, "--heard", heard)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, step := range []string{"listener joined voice", "/play file:in.wav", "bot joined the voice channel", "track ended", heard} {
		if !strings.Contains(out, step) {
			t.Errorf("console output lacks %q:\n%s", step, out)
		}
	}
	got := audiotest.Decode(t, heard, 48000, 1).Duration()
	if got < 1.9 || got > 2.2 {
		t.Errorf("heard file holds %.2f s, want about 2 s", got)
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--play", "x.wav"}, "--play needs --sandbox"},
		{[]string{"serve", "--shard-range", "3-1"}, "FIRST-LAST"},
		{[]string{"serve", "--shard-range", "a-b"}, "FIRST-LAST"},
		{[]string{"serve", "--sandbox", "--play", "/nonexistent/x.wav"}, "not a file"},
		{[]string{"serve", "--sandbox", "--metrics-addr", "127.0.0.1:notaport"}, "--metrics-addr"},
		{[]string{"serve", "--sandbox", "--redis-url", "http://localhost:6379"}, "--redis-url"},
		{[]string{"serve", "--sandbox", "--redis-url", "redis://localhost:6379/notadb"}, "--redis-url"},
		{[]string{"serve", "--sandbox", "--postgres-url", "postgres://u:pw@localhost:notaport/db"}, "--postgres-url"},
		{[]string{"serve", "--sandbox", "--redis-url", "redis://:s3cret@localhost:notaport/0"}, "redis://:xxxxx@localhost:notaport/0"},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestParseShardRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		first, last int
		ok          bool
	}{
		{"", 0, -1, true},
		{"0-3", 0, 3, true},
		{"2", 2, 2, true},
		{"4-2", 0, 0, false},
		{"-1", 0, 0, false},
		{"x", 0, 0, false},
	} {
		f, l, err := parseShardRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (f != tc.first || l != tc.last)) {
			t.Errorf("parseShardRange(%q) = %d, %d, %v", tc.in, f, l, err)
		}
	}
}

// serveRun is `quaver serve` running in-process with --metrics-addr
// 127.0.0.1:0, as started by startServe.
type serveRun struct {
	addr   string // host:port from the startup line
	cancel context.CancelFunc
	done   chan int // the exit code, once run returns
	out    *watchWriter
	log    *watchWriter // stderr: the slog lines
}

// startServe runs `quaver serve args... --metrics-addr 127.0.0.1:0` and
// waits for the startup line that names the bound address. The run is
// stopped (as by Ctrl-C) at the end of the test if it is still going.
func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &serveRun{cancel: cancel, done: make(chan int, 1), out: newWatchWriter("metrics on http://")}
	errOut := &watchWriter{}
	r.log = errOut
	go func() {
		r.done <- run(ctx, append(append([]string{"serve"}, args...), "--metrics-addr", "127.0.0.1:0"), r.out, errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-r.done:
			r.done <- code
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15 s of its context ending")
		}
	})
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	select {
	case line := <-r.out.found:
		u, err := url.Parse(strings.TrimSpace(strings.TrimPrefix(line, "metrics on ")))
		if err != nil || u.Path != "/metrics" {
			t.Fatalf("startup line %q does not hold the metrics URL (%v)", line, err)
		}
		r.addr = u.Host
	case code := <-r.done:
		r.done <- code
		t.Fatalf("serve exited %d before printing the metrics address\nstdout: %s\nstderr: %s", code, r.out, errOut)
	case <-deadline.C:
		t.Fatalf("no metrics address printed after 20 s:\n%s", r.out)
	}
	return r
}

// get fetches path from the run's metrics listener.
func (r *serveRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// until polls cond every 25 ms until it holds; it fails the test when the
// run exits or 20 s pass first.
func (r *serveRun) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("serve exited (%d) before %s:\n%s", code, what, r.out)
		case <-deadline.C:
			t.Fatalf("not %s after 20 s:\n%s", what, r.out)
		case <-poll.C:
		}
	}
}

// TestServeMetrics scrapes the address serve prints for --metrics-addr
// 127.0.0.1:0 while the sandbox plays: the pacer's send-lateness histogram
// and packet counter must be there with observations.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, synth.WAV(synth.Tone(48000, 2, 3, 440, 0.5)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, "--sandbox", "--play", in, "--heard", filepath.Join(dir, "h.ogg"))
	if _, port, _ := net.SplitHostPort(r.addr); port == "0" || port == "" {
		t.Fatalf("startup line names port %q, not the one bound", port)
	}
	r.until(t, "the metrics showed voice packets sent", func() bool {
		code, body := r.get(t, "/metrics")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", code)
		}
		return sampleAbove(body, "quaver_voice_send_lateness_seconds_count", 0) &&
			sampleAbove(body, "quaver_voice_packets_sent_total", 0)
	})
	select {
	case code := <-r.done:
		r.done <- code
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, r.out)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("serve did not exit after its 3 s track")
	}
}

// sampleAbove reports whether the scrape has a sample of name (no labels)
// greater than v.
func sampleAbove(body, name string, v float64) bool {
	for _, line := range strings.Split(body, "\n") {
		if val, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(val, 64)
			return err == nil && f > v
		}
	}
	return false
}

// TestServeHealth: /healthz answers 200 from the first line on; /readyz
// answers 503 with a one-line reason until the sandbox is up, then 200;
// after Ctrl-C the run stops cleanly.
func TestServeHealth(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := startServe(t, "--sandbox", "--heard", filepath.Join(t.TempDir(), "h.ogg"))
	if code, body := r.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz right after start-up: %d %q", code, body)
	}
	r.until(t, "ready", func() bool {
		code, body := r.get(t, "/readyz")
		switch {
		case code == http.StatusOK:
			return body == "ready\n"
		case code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "starting: ") || strings.Count(body, "\n") != 1:
			t.Fatalf("GET /readyz while starting: %d %q; want 503 and one line saying why", code, body)
		}
		return false
	})
	if code, body := r.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz while ready: %d %q", code, body)
	}
	if code, _ := r.get(t, "/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
	// Stop only once the sandbox bot has connected: discordgo's reconnect
	// loop, started by a session closed while still connecting, outlives
	// Close and would show up as a leaked goroutine.
	r.until(t, "the bot connected", func() bool {
		return strings.Contains(r.out.String(), "[sandbox] bot connected")
	})
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		if code != 0 {
			t.Errorf("serve --sandbox exited %d after Ctrl-C, want 0:\n%s", code, r.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop within 15 s of Ctrl-C")
	}
	if _, err := http.Get("http://" + r.addr + "/healthz"); err == nil {
		t.Errorf("the metrics listener still answers after serve returned")
	}
}

// TestReadiness walks /readyz through start-up and shutdown: a reason is
// 503 with that one line, "" is 200, and once draining nothing makes the
// process ready again.
func TestReadiness(t *testing.T) {
	type step struct {
		drain  bool
		reason string
		code   int
		body   string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"start-up", []step{
			{false, "starting: opening the store", 503, "starting: opening the store\n"},
			{false, "starting: connecting to Discord", 503, "starting: connecting to Discord\n"},
			{false, "", 200, "ready\n"},
		}},
		{"drain after ready", []step{
			{false, "", 200, "ready\n"},
			{true, "shutting down: saving players", 503, "shutting down: saving players\n"},
			{false, "", 503, "shutting down: saving players\n"},
			{true, "shutting down: again", 503, "shutting down: saving players\n"},
		}},
		{"drain while starting", []step{
			{true, "shutting down: saving players", 503, "shutting down: saving players\n"},
			{false, "starting: connecting to Discord", 503, "shutting down: saving players\n"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReadiness("starting: opening the store")
			for i, s := range tc.steps {
				if s.drain {
					r.drain(s.reason)
				} else {
					r.set(s.reason)
				}
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				if w.Code != s.code || w.Body.String() != s.body {
					t.Errorf("step %d: %d %q, want %d %q", i, w.Code, w.Body.String(), s.code, s.body)
				}
			}
		})
	}
}

// watchWriter collects output from several goroutines and hands over the
// first line that starts with prefix (if set) on found.
type watchWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	prefix string
	found  chan string
	sent   bool
}

func newWatchWriter(prefix string) *watchWriter {
	return &watchWriter{prefix: prefix, found: make(chan string, 1)}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.prefix != "" && !w.sent {
		for _, line := range strings.SplitAfter(w.b.String(), "\n") {
			if strings.HasPrefix(line, w.prefix) && strings.HasSuffix(line, "\n") {
				w.sent = true
				w.found <- line
				break
			}
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestServeSandboxPlayURL plays an http URL in the sandbox and exits 0 at its end.
func TestServeSandboxPlayURL(t *testing.T) {
	wav := synth.WAV(synth.Tone(44100, 2, 1.5, 440, 0.5))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "tone.wav", time.Time{}, bytes.NewReader(wav))
	}))
	defer srv.Close()
	heard := filepath.Join(t.TempDir(), "heard.ogg")
	code, out, errOut := runCmd("serve", "--sandbox", "--play", srv.URL+"/tone.wav", "--heard", heard)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if st, err := os.Stat(heard); err != nil || st.Size() < 1000 {
		t.Errorf("heard file: %v", err)
	}
}

// cutProxy starts a tcpcut proxy to target, cut off from the start.
func cutProxy(t *testing.T, target string) *tcpcut.Proxy {
	t.Helper()
	p, err := tcpcut.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	p.Cut()
	return p
}

// waitExit waits for the run to return and gives its exit code.
func (r *serveRun) waitExit(t *testing.T, what string) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not exit within 15 s of %s:\n%s", what, r.log)
		return 0
	}
}

// TestServeWaitsForRedis starts serve while its Redis is cut off: it must
// stay up, live and not ready, saying why on /readyz and in a warning per
// attempt, and become ready without a restart once Redis is back.
func TestServeWaitsForRedis(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	u, err := url.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := cutProxy(t, u.Host)
	defer p.Close()
	u.Host = p.Addr()
	dir := t.TempDir()
	r := startServe(t, "--sandbox", "--data-dir", dir, "--heard", filepath.Join(dir, "h.ogg"), "--redis-url", u.String())
	const want = "starting: waiting for the store (redis unreachable)\n"
	r.until(t, "/readyz said it waits for Redis", func() bool {
		code, body := r.get(t, "/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("GET /readyz with Redis cut off: %d %q, want 503", code, body)
		}
		return body == want
	})
	if code, body := r.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz while waiting for Redis: %d %q, want 200", code, body)
	}
	r.until(t, "a warning was logged for the failed attempt", func() bool {
		return strings.Contains(r.log.String(), `level=WARN msg="store: cannot open; retrying" backend=redis attempt=1 `)
	})
	p.Restore()
	r.until(t, "ready once Redis was reachable", func() bool {
		code, body := r.get(t, "/readyz")
		return code == http.StatusOK && body == "ready\n"
	})
	// Stop once the bot is connected, not while it connects.
	r.until(t, "the bot connected", func() bool {
		return strings.Contains(r.out.String(), "[sandbox] bot connected")
	})
	r.cancel()
	if code := r.waitExit(t, "Ctrl-C"); code != 0 {
		t.Errorf("exit %d after Ctrl-C, want 0:\n%s", code, r.log)
	}
}

// TestServeStopWhileWaitingForStore: Ctrl-C while the store's server is
// unreachable, or refuses the connection, stops serve at once with status
// 0, and no log line holds the password of the store's URL.
func TestServeStopWhileWaitingForStore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const secret = "s3cret-pw"
	for _, tc := range []struct {
		name, flag, url, reason string
	}{
		{"redis unreachable", "--redis-url", "redis://:" + secret + "@%s/0", "starting: waiting for the store (redis unreachable)\n"},
		{"postgres unreachable", "--postgres-url", "postgres://quaver:" + secret + "@%s/quaver?sslmode=disable", "starting: waiting for the store (postgres unreachable)\n"},
		// The test PostgreSQL, asked for a database it does not have.
		{"postgres refuses", "--postgres-url", "", "starting: waiting for the store (postgres refused: SQLSTATE 3D000)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := "127.0.0.1:1" // never dialled while the proxy is cut
			var pg *url.URL
			if tc.url == "" {
				var err error
				if pg, err = url.Parse(testenv.PostgresURL(t)); err != nil {
					t.Fatal(err)
				}
				target = pg.Host
			}
			p := cutProxy(t, target)
			defer p.Close()
			storeURL := fmt.Sprintf(tc.url, p.Addr())
			if pg != nil {
				p.Restore()
				pg.Host, pg.Path = p.Addr(), "/quaver_no_such_database"
				storeURL = pg.String()
			}
			dir := t.TempDir()
			r := startServe(t, "--sandbox", "--data-dir", dir, "--heard", filepath.Join(dir, "h.ogg"), tc.flag, storeURL)
			r.until(t, "/readyz said it waits for the store", func() bool {
				_, body := r.get(t, "/readyz")
				return body == tc.reason
			})
			r.until(t, "a warning was logged", func() bool {
				return strings.Contains(r.log.String(), `msg="store: cannot open; retrying"`)
			})
			r.cancel()
			if code := r.waitExit(t, "Ctrl-C"); code != 0 {
				t.Errorf("exit %d after Ctrl-C while waiting for the store, want 0:\n%s", code, r.log)
			}
			if !strings.Contains(r.out.String(), "stopped while waiting for the store") {
				t.Errorf("stdout does not say it stopped while waiting:\n%s", r.out)
			}
			if strings.Contains(r.log.String(), secret) {
				t.Errorf("the log shows the URL's password:\n%s", r.log)
			}
		})
	}
}

func TestStoreBackoff(t *testing.T) {
	b := defaultStoreBackoff
	for _, tc := range []struct {
		attempt int
		max     time.Duration
	}{
		{1, 500 * time.Millisecond},
		{2, time.Second},
		{3, 2 * time.Second},
		{6, 16 * time.Second},
		{7, 30 * time.Second},
		{50, 30 * time.Second},
		{1000, 30 * time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 20 {
			d := b.delay(tc.attempt)
			if d < tc.max/2 || d > tc.max {
				t.Errorf("delay after attempt %d = %v, want within [%v, %v]", tc.attempt, d, tc.max/2, tc.max)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("delay after attempt %d is always %v: no jitter", tc.attempt, seen)
		}
	}
}

func TestStoreFailure(t *testing.T) {
	for _, tc := range []struct {
		err          error
		backend, why string
		retry        bool
	}{
		{fmt.Errorf("%w: redis: dial tcp 127.0.0.1:6379: connect: connection refused", store.ErrUnavailable), "redis", "unreachable", true},
		{fmt.Errorf("%w: postgres: migrate: failed to connect", store.ErrUnavailable), "postgres", "unreachable", true},
		{fmt.Errorf("store: postgres: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}), "postgres", "refused: SQLSTATE 28P01", true},
		{errors.New("store: embedded: open /data/quaver.db: permission denied"), "", "", false},
		{errors.New("store: redis url: invalid URL scheme: http"), "", "", false},
	} {
		backend, why, retry := storeFailure(tc.err)
		if backend != tc.backend || why != tc.why || retry != tc.retry {
			t.Errorf("storeFailure(%q) = %q, %q, %v; want %q, %q, %v", tc.err, backend, why, retry, tc.backend, tc.why, tc.retry)
		}
	}
}

func TestRedactSecrets(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		urls []string
		want string
	}{
		{"dial redis://:hunter22@h/0 failed", []string{"redis://:hunter22@h/0"}, "dial redis://:xxxxx@h/0 failed"},
		{"auth p%40ss failed for p@ss", []string{"", "postgres://u:p%40ss@h/db"}, "auth xxxxx failed for xxxxx"},
		{"no secret here", []string{"redis://h/0", "postgres://u@h/db"}, "no secret here"},
		{`parse "redis://:pw@h:x/0": invalid port`, []string{"redis://:pw@h:x/0"}, `parse "redis://:xxxxx@h:x/0": invalid port`},
	} {
		if got := redactSecrets(tc.msg, tc.urls...); got != tc.want {
			t.Errorf("redactSecrets(%q, %q) = %q, want %q", tc.msg, tc.urls, got, tc.want)
		}
	}
}
