package bot_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/store"
)

// metric returns the value of the series name{labels} in reg (labels as
// "k", "v" pairs), and whether it exists.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			if len(have) != len(labels)/2 {
				continue
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			}
		}
	}
	return 0, false
}

// wantMetric fails unless name{labels} is want.
func wantMetric(t *testing.T, reg *prometheus.Registry, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := metric(t, reg, name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

// waitMetric waits until name{labels} is want (the registry has no event
// to wait on: it is polled).
func waitMetric(t *testing.T, ctx context.Context, reg *prometheus.Registry, want float64, name string, labels ...string) {
	t.Helper()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		got, ok := metric(t, reg, name, labels...)
		if ok && got == want {
			return
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("%s%v stayed %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
}

// gate holds back new gateway connections while shut.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// TestOperatorMetrics plays a track and reads what an operator's dashboard
// would: the shard is up, one guild, one player playing over one connected
// voice connection, commands counted by outcome; then the shard's gateway
// connection drops and stays down until let through, and the metrics show
// the outage and the reconnection.
func TestOperatorMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	gw := newGate()
	e, g, ctx := startEnv(t, sandbox.Options{Bot: func(c *bot.Config) {
		c.Registerer = reg
		d := *c.Dialer
		d.NetDialContext = gw.dial
		c.Dialer = &d
		c.CommandRate = store.Rate{Events: 1, Per: time.Hour}
		c.CommandBurst = 4
	}})
	t.Cleanup(gw.release) // runs before the sandbox closes: a held dial would block Close

	wantMetric(t, reg, 1, "quaver_gateway_shard_up", "shard", "0")
	wantMetric(t, reg, 0, "quaver_gateway_reconnects_total", "shard", "0")
	wantMetric(t, reg, 1, "quaver_guilds")
	wantMetric(t, reg, 0, "quaver_players")
	wantMetric(t, reg, 0, "quaver_voice_connections", "state", "connected")
	wantMetric(t, reg, 0, "quaver_commands_total", "command", "play", "outcome", "ok")

	rec := playing(t, ctx, e, g, writeMedia(t, e, "long.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatal(err)
	}
	m, err := e.Command(ctx, g, "seek", discordtest.StringOption("position", "soon"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Embeds[0].Color != errorColor || !strings.Contains(m.Embeds[0].Description, "not a position") {
		t.Fatalf("/seek soon: %q", m.Embeds[0].Description)
	}
	wantMetric(t, reg, 1, "quaver_players")
	wantMetric(t, reg, 1, "quaver_players_playing")
	wantMetric(t, reg, 1, "quaver_voice_connections", "state", "connected")
	wantMetric(t, reg, 0, "quaver_voice_connections", "state", "connecting")
	wantMetric(t, reg, 0, "quaver_voice_connections", "state", "reconnecting")
	// A command is counted once its answer is sent: the answer can arrive first.
	waitMetric(t, ctx, reg, 1, "quaver_commands_total", "command", "play", "outcome", "ok")
	waitMetric(t, ctx, reg, 1, "quaver_commands_total", "command", "seek", "outcome", "user_error")
	wantMetric(t, reg, 0, "quaver_commands_total", "command", "seek", "outcome", "ok")

	command(t, ctx, e, g, "pause")
	waitMetric(t, ctx, reg, 0, "quaver_players_playing")
	wantMetric(t, reg, 1, "quaver_players")

	// The network drops the shard's connection; new ones are held back.
	gw.shut()
	if n := e.Discord.DropConnections(0); n != 1 {
		t.Fatalf("dropped %d gateway connections, want 1", n)
	}
	waitMetric(t, ctx, reg, 0, "quaver_gateway_shard_up", "shard", "0")
	wantMetric(t, reg, 0, "quaver_gateway_reconnects_total", "shard", "0")
	gw.release()
	waitMetric(t, ctx, reg, 1, "quaver_gateway_shard_up", "shard", "0")
	wantMetric(t, reg, 1, "quaver_gateway_reconnects_total", "shard", "0")

	// Commands arrive over the new connection; the burst of 4 is spent.
	command(t, ctx, e, g, "resume")
	m, err = e.Command(ctx, g, "queue")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Embeds[0].Description, "too fast") {
		t.Fatalf("fifth command: %q, want the rate limit", m.Embeds[0].Description)
	}
	waitMetric(t, ctx, reg, 1, "quaver_commands_total", "command", "queue", "outcome", "rate_limited")
	waitMetric(t, ctx, reg, 1, "quaver_commands_total", "command", "resume", "outcome", "ok")
	wantMetric(t, reg, 1, "quaver_commands_total", "command", "pause", "outcome", "ok")
	wantMetric(t, reg, 0, "quaver_commands_total", "command", "queue", "outcome", "ok")
	wantMetric(t, reg, 1, "quaver_players_playing")
}

// TestTrackFailureHidesInternals: a queued link whose server breaks off
// before the track starts fails with an error that names the server's
// address and the link's path; the announcement says that something went
// wrong on the bot's side and shows neither.
func TestTrackFailureHidesInternals(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	wavBytes := audiotest.WAV(audiotest.Tone(48000, 2, 2, 550, 0.5))
	var broken atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			// Cut the connection mid-request, as a failing network would.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
		}
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "b.wav", time.Time{}, strings.NewReader(string(wavBytes)))
	}))
	defer web.Close()
	host := strings.TrimPrefix(web.URL, "http://")
	link := web.URL + "/srv/private/track.wav"

	rec := playing(t, ctx, e, g, writeMedia(t, e, "a.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	command(t, ctx, e, g, "play", discordtest.StringOption("query", link))
	if err := rec.WaitPackets(ctx, 10); err != nil {
		t.Fatal(err)
	}
	broken.Store(true)
	command(t, ctx, e, g, "skip")
	ev, err := e.WaitEvent(ctx, g.ID, player.EventTrackFailed)
	if err != nil {
		t.Fatal(err)
	}
	if raw := ev.Err.Error(); !strings.Contains(raw, host) {
		t.Fatalf("the failure %q does not name the server: the test proves nothing", raw)
	}
	msg, err := e.Discord.WaitMessage(ctx, g.TextID, func(m *discordtest.Message) bool {
		return len(m.Embeds) > 0 && strings.Contains(m.Embeds[0].Description, "Couldn't play")
	})
	if err != nil {
		t.Fatalf("failure not announced: %v", err)
	}
	desc := msg.Embeds[0].Description
	_, why, _ := strings.Cut(desc, "skipping it: ")
	t.Logf("announced: %s", desc)
	for _, s := range []string{host, "127.0.0.1", "/srv/private", "source:", "tcp", "EOF"} {
		if strings.Contains(why, s) {
			t.Errorf("the announcement's reason %q shows %q", why, s)
		}
	}
	if !strings.Contains(why, "operator") {
		t.Errorf("the reason %q does not say what to do", why)
	}
}
