// Package discordtest owns a local stand-in for Discord: the REST API
// (gateway discovery, application commands, interaction callbacks and
// webhook follow-ups, channel messages, guilds) and the gateway WebSocket
// (hello, identify, resume, heartbeats, sharding, dispatches), both served
// over TLS from a certificate authority made when the server is created. A
// scripted world of guilds, channels, roles, members and voice states lets
// tests join users to voice, invoke slash commands and click buttons, then
// wait for what the bot answered.
//
// A discordgo bot reaches it with Session.Client = srv.HTTPClient() (which
// sends discord.com requests here and trusts the CA) and Session.Dialer =
// srv.Dialer(); the gateway URL comes from GET /gateway/bot. Node clients
// use NODE_EXTRA_CA_CERTS (CACertPEM) and @discordjs/rest's api option
// (APIURL). Voice: VOICE_SERVER_UPDATE carries the endpoint of the
// VoiceBackend, which is told every (guild, user, session, token) it must
// accept.
//
// Compression: zlib-stream transport compression (?compress=zlib-stream)
// and payload compression (Identify "compress": payloads of 1 KiB and more
// go out as zlib binary messages, as discordgo asks by default).
//
// Limits as Discord's: 120 client events a minute (4008), 4096-byte
// payloads (4002), 2500 guilds a shard (4011), optional identify
// concurrency (op 9), REST buckets with X-RateLimit headers and 429s, and
// message limits (2000 characters, 10 embeds, 4096-character descriptions,
// 6000 in all, 5 rows of 5 components) answered with 50035 errors.
//
// Not modelled: ETF encoding, zstd-stream, presences, threads, DMs, HTTP
// interactions (PING/PONG), user-sent messages and MESSAGE_CONTENT
// stripping.
//
// Reference: https://discord.com/developers/docs (topics/gateway,
// topics/opcodes-and-status-codes, interactions/receiving-and-responding,
// interactions/application-commands, resources/message).
package discordtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config describes the local Discord. Zero fields take the values of
// DefaultConfig.
type Config struct {
	// Addr is the TCP address the HTTPS+WSS listener binds.
	Addr string
	// Token is the bot token. REST wants "Authorization: Bot <Token>"; the
	// gateway accepts the token with or without the "Bot " prefix.
	Token string
	// BotName is the bot user's username.
	BotName string
	// Shards is the shard count recommended by GET /gateway/bot.
	Shards int
	// MaxGuildsPerShard makes Identify fail with close code 4011 (sharding
	// required) when a shard would hold more guilds. Zero means 2500.
	MaxGuildsPerShard int
	// PrivilegedIntents lists the privileged intents enabled for the
	// application; asking for any other privileged intent closes with 4014.
	PrivilegedIntents uint64
	// IdentifyInterval, when set, limits Identify to one per interval per
	// rate-limit key (shard % MaxConcurrency); an Identify too early gets
	// op 9 Invalid Session, as Discord answers (5 s there). Zero: no limit.
	IdentifyInterval time.Duration
	// MaxConcurrency is session_start_limit.max_concurrency (default 1).
	MaxConcurrency int
	// HeartbeatInterval is sent in Hello.
	HeartbeatInterval time.Duration
	// ResumeWindow is how long a session whose socket dropped stays resumable.
	ResumeWindow time.Duration
	// ResumeBuffer is how many dispatches a session keeps for replay.
	ResumeBuffer int
	// InteractionTimeout is the time a bot has to call back an interaction
	// (Discord: 3 s); a later callback gets 10062 Unknown interaction.
	InteractionTimeout time.Duration
	// GatewayEventLimit client events are allowed per connection per
	// GatewayEventWindow (Discord: 120 per 60 s); more close with 4008.
	GatewayEventLimit  int
	GatewayEventWindow time.Duration
	// RateLimit requests are allowed per RateLimitWindow per route bucket;
	// more get 429.
	RateLimit       int
	RateLimitWindow time.Duration
	// Voice issues voice server endpoints and credentials; nil uses a
	// backend whose endpoint accepts nothing.
	Voice VoiceBackend
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration used for zero Config fields.
func DefaultConfig() Config {
	return Config{
		Addr:               "127.0.0.1:0",
		Token:              "quaver-test-token",
		BotName:            "Quaver",
		Shards:             1,
		MaxGuildsPerShard:  2500,
		HeartbeatInterval:  41250 * time.Millisecond,
		ResumeWindow:       2 * time.Minute,
		ResumeBuffer:       4096,
		InteractionTimeout: 3 * time.Second,
		GatewayEventLimit:  120,
		GatewayEventWindow: time.Minute,
		RateLimit:          50,
		RateLimitWindow:    time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Token == "" {
		c.Token = d.Token
	}
	if c.BotName == "" {
		c.BotName = d.BotName
	}
	if c.Shards <= 0 {
		c.Shards = d.Shards
	}
	if c.MaxGuildsPerShard <= 0 {
		c.MaxGuildsPerShard = d.MaxGuildsPerShard
	}
	if c.MaxConcurrency <= 0 {
		c.MaxConcurrency = 1
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.ResumeWindow <= 0 {
		c.ResumeWindow = d.ResumeWindow
	}
	if c.ResumeBuffer <= 0 {
		c.ResumeBuffer = d.ResumeBuffer
	}
	if c.InteractionTimeout <= 0 {
		c.InteractionTimeout = d.InteractionTimeout
	}
	if c.GatewayEventLimit <= 0 {
		c.GatewayEventLimit = d.GatewayEventLimit
	}
	if c.GatewayEventWindow <= 0 {
		c.GatewayEventWindow = d.GatewayEventWindow
	}
	if c.RateLimit <= 0 {
		c.RateLimit = d.RateLimit
	}
	if c.RateLimitWindow <= 0 {
		c.RateLimitWindow = d.RateLimitWindow
	}
	if c.Voice == nil {
		c.Voice = noVoice{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

type noVoice struct{}

func (noVoice) Endpoint() string               { return "127.0.0.1:9" }
func (noVoice) AllowSession(_, _, _, _ string) {}

var (
	errNotStarted     = errors.New("discordtest: server not started")
	errAlreadyStarted = errors.New("discordtest: server already started")
)

// Server is a local Discord: REST API, gateway and scripted world.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ca   *authority
	pool *x509.CertPool

	ln      net.Listener
	addr    atomic.Pointer[string]
	httpSrv *http.Server
	wg      sync.WaitGroup
	closing chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every world change
	snow    snowflakes
	w       world
	gw      gatewayState
	rl      rateLimits
}

// New makes a server with a fresh certificate authority. It listens only
// after Start.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	ca, err := newAuthority()
	if err != nil {
		// Key generation from crypto/rand does not fail on supported systems.
		panic("discordtest: making certificate authority: " + err.Error())
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		ca:      ca,
		pool:    ca.pool(),
		closing: make(chan struct{}),
		changed: make(chan struct{}),
	}
	s.w.init()
	s.gw.init()
	s.rl.init()
	s.w.bot = &user{ID: s.snow.next(), Username: cfg.BotName, Bot: true}
	s.w.users[s.w.bot.ID] = s.w.bot
	s.w.appID = s.w.bot.ID
	return s
}

// Start listens on Config.Addr and serves HTTPS and WSS until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.ln != nil {
		s.mu.Unlock()
		return errAlreadyStarted
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.ln = ln
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Unlock()
	tlsLn := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{s.ca.leaf},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(tlsLn)
	}()
	return nil
}

// Close stops the listener, drops every gateway connection and waits for
// every goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.ln == nil {
		s.mu.Unlock()
		return errNotStarted
	}
	select {
	case <-s.closing:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.closing)
	conns := s.gw.allConns()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.httpSrv.Shutdown(ctx)
	for _, c := range conns {
		c.kill()
	}
	s.wg.Wait()
	return err
}

// Addr returns the listener's host:port.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// URL returns the HTTPS base URL, e.g. https://127.0.0.1:1234 (the REST API
// is under /api/v10 and /api/v9).
func (s *Server) URL() string { return "https://" + s.Addr() }

// APIURL returns the REST API base without version, for @discordjs/rest's
// api option: https://127.0.0.1:1234/api.
func (s *Server) APIURL() string { return s.URL() + "/api" }

// GatewayURL returns the WSS URL that GET /gateway/bot reports.
func (s *Server) GatewayURL() string { return "wss://" + s.Addr() }

// Token returns the bot token (without the "Bot " prefix).
func (s *Server) Token() string { return s.cfg.Token }

// CertPool returns a pool holding the server's certificate authority.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CACertPEM returns the certificate authority in PEM, for
// NODE_EXTRA_CA_CERTS.
func (s *Server) CACertPEM() []byte { return s.ca.certPEM }

// TLSConfig returns a client TLS configuration trusting the server.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
}

// discordHosts are the names whose requests HTTPClient sends to this server.
var discordHosts = map[string]bool{
	"discord.com": true, "discordapp.com": true, "gateway.discord.gg": true,
}

// HTTPClient returns a client that sends requests for discord.com (and
// discordapp.com, gateway.discord.gg) to this server and trusts its
// certificate authority: set it as discordgo's Session.Client.
func (s *Server) HTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:     s.TLSConfig(),
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err == nil && discordHosts[strings.ToLower(host)] {
				addr = s.Addr()
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// Dialer returns a gorilla WebSocket dialer trusting the server: set it as
// discordgo's Session.Dialer.
func (s *Server) Dialer() *websocket.Dialer {
	return &websocket.Dialer{
		TLSClientConfig:  s.TLSConfig(),
		HandshakeTimeout: 10 * time.Second,
	}
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait calls cond under s.mu until it reports true or ctx ends.
func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
