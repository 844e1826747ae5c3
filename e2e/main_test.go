package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/quaverbot/quaver/bot"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
)

// Environment of a child bot process (the test binary re-executed).
const (
	envChild      = "QUAVER_E2E_CHILD"
	envAddr       = "QUAVER_E2E_DISCORD_ADDR"
	envToken      = "QUAVER_E2E_TOKEN"
	envDiscordCA  = "QUAVER_E2E_DISCORD_CA"
	envVoiceCA    = "QUAVER_E2E_VOICE_CA"
	envDataDir    = "QUAVER_E2E_DATA"
	envRedisURL   = "QUAVER_E2E_REDIS_URL"
	childReadyTag = "QUAVER-E2E-READY"
)

// quietRedis drops go-redis's own log lines (a dial error per retry while
// the test's Redis is down); the store reports outages itself.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	if os.Getenv(envChild) == "1" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child bot:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// net/http and pgx keep idle connections' goroutines briefly after Close.
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// runChild is a bot process: it connects to the parent's local Discord and
// voice server with the store in QUAVER_E2E_DATA, says READY on stdout and
// runs until stdin closes (or it is killed, which is the point).
func runChild() error {
	ctx := context.Background()
	addr, token, dir := os.Getenv(envAddr), os.Getenv(envToken), os.Getenv(envDataDir)
	discordCAs, voiceCAs := x509.NewCertPool(), x509.NewCertPool()
	if !discordCAs.AppendCertsFromPEM([]byte(os.Getenv(envDiscordCA))) || !voiceCAs.AppendCertsFromPEM([]byte(os.Getenv(envVoiceCA))) {
		return errors.New("bad CA PEM in the environment")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(dir, "quaver.db"), RedisURL: os.Getenv(envRedisURL), Logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	pc, err := pacer.New(pacer.Config{})
	if err != nil {
		return err
	}
	defer pc.Close()
	tlsCfg := &tls.Config{RootCAs: discordCAs, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	cfg := bot.DefaultConfig()
	cfg.Token = token
	cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsCfg,
		// Everything (discord.com, the gateway host) goes to the local Discord.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	cfg.Dialer = &websocket.Dialer{TLSClientConfig: tlsCfg, HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}}
	cfg.VoiceRootCAs = voiceCAs
	cfg.Store = st
	cfg.Pacer = pc
	cfg.Logger = logger
	cfg.CommandRate = store.Rate{Events: 1000, Per: time.Second}
	cfg.CommandBurst = 1000
	cfg.Resolver = resolve.New(resolve.Config{MediaDir: filepath.Join(dir, "media"), Logger: logger,
		LookPath: func(string) (string, error) { return "", errors.New("yt-dlp is not used in e2e tests") }})
	b, err := bot.New(cfg)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		_ = b.Close()
		return err
	}
	fmt.Println(childReadyTag)
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return b.Close()
}

// maxGap returns the longest time between consecutive arrivals in ts.
func maxGap(ts []time.Time) (time.Duration, time.Time) {
	var worst time.Duration
	var at time.Time
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d > worst {
			worst, at = d, ts[i-1]
		}
	}
	return worst, at
}

// tail returns the last n lines of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
