// Package bot owns Quaver's Discord front end: the gateway sessions (one per
// shard of this process's range, through discordgo), the slash commands and
// buttons users drive the music with, the rules around them (voice channel,
// DJ role, vote-skip, rate limit, permissions), per-guild players wired to the
// audio engine and to Quaver's own voice client, announcements, and player
// snapshots persisted through the store so that a restart resumes playback.
//
// discordgo's voice code is not used: joining sends the voice state update
// (op 4) through the guild's shard and VOICE_STATE_UPDATE /
// VOICE_SERVER_UPDATE are handed to package voice.
package bot

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
)

var (
	errNoToken    = errors.New("bot: no token: set --token or QUAVER_TOKEN (or DISCORD_TOKEN)")
	errNoStore    = errors.New("bot: Config.Store is required")
	errNoPacer    = errors.New("bot: Config.Pacer is required")
	errBadShards  = errors.New("bot: shard range must lie inside 0 … shard count-1")
	errNotStarted = errors.New("bot: not started")
)

// Config configures a Bot. Start from DefaultConfig.
type Config struct {
	// Token is the bot token (without "Bot ").
	Token string
	// Shards is the total shard count; 0 asks GET /gateway/bot.
	Shards int
	// FirstShard and LastShard bound the shards this process runs (inclusive);
	// LastShard < 0 means up to Shards-1.
	FirstShard, LastShard int
	// DevGuild registers commands in this guild only (instant updates)
	// instead of globally.
	DevGuild string
	// HTTPClient replaces discordgo's HTTP client (the local Discord's, in tests).
	HTTPClient *http.Client
	// Dialer replaces discordgo's gateway WebSocket dialer.
	Dialer *websocket.Dialer
	// VoiceRootCAs verifies voice servers (nil: system roots).
	VoiceRootCAs *x509.CertPool
	// Store keeps settings, snapshots and rate limits. Required.
	Store *store.Store
	// Pacer sends every voice connection's frames. Required: one per process.
	Pacer *pacer.Pacer
	// Resolver turns /play queries into tracks; nil means resolve.New with MediaDir.
	Resolver *resolve.Resolver
	// MediaDir is the folder "file:NAME" queries may read (used when Resolver is nil).
	MediaDir string
	// Audio configures the engine for each track.
	Audio audio.Config
	// AutoLeave overrides every guild's auto-leave minutes when > 0 (tests).
	AutoLeave time.Duration
	// CommandRate and CommandBurst limit commands per user.
	CommandRate  store.Rate
	CommandBurst int
	// ResolveTimeout bounds resolving one /play query.
	ResolveTimeout time.Duration
	// VoiceJoinTimeout bounds waiting for Discord's voice state and server updates.
	VoiceJoinTimeout time.Duration
	// ServerUpdateWait and NullEndpointWait tune the voice client (0: its defaults).
	ServerUpdateWait time.Duration
	// NoDAVE turns off DAVE end-to-end encryption on voice connections. Discord
	// has refused voice connections without DAVE (close code 4017) since March
	// 2026, so only tests against an old local server set it.
	NoDAVE bool
	// OnEvent, when set, also receives every player event (the sandbox prints them).
	OnEvent func(player.Event)
	// Logger receives logs (nil: slog.Default()).
	Logger *slog.Logger
	// Registerer receives the bot's metrics (nil: not exported): shard
	// connections, guilds, players, voice connections and commands. New
	// registers them and Close unregisters them, so a restarted bot can use
	// the same registry.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the production settings: all shards from GET
// /gateway/bot, global commands, 5 commands per 10 s per user.
func DefaultConfig() Config {
	return Config{
		LastShard:        -1,
		Audio:            audio.DefaultConfig(),
		CommandRate:      store.Rate{Events: 5, Per: 10 * time.Second},
		CommandBurst:     5,
		ResolveTimeout:   20 * time.Second,
		VoiceJoinTimeout: 10 * time.Second,
	}
}

// Bot is a running Discord music bot.
type Bot struct {
	cfg      Config
	log      *slog.Logger
	resolver *resolve.Resolver
	met      *metrics

	mu       sync.Mutex
	sessions map[int]*discordgo.Session
	shards   int
	botID    string
	players  map[string]*player.Player
	voices   map[string]*guildVoice
	restore  map[string]store.PlayerSnapshot
	searches map[string][]store.Track // user ID → last /search results
	closed   bool

	ready chan struct{} // closed once every shard is READY
	wg    sync.WaitGroup
	ctx   context.Context
	stop  context.CancelFunc
}

// New returns a Bot for cfg; Start connects it.
func New(cfg Config) (*Bot, error) {
	def := DefaultConfig()
	if cfg.Token == "" {
		return nil, errNoToken
	}
	if cfg.Store == nil {
		return nil, errNoStore
	}
	if cfg.Pacer == nil {
		return nil, errNoPacer
	}
	if cfg.Audio.Bitrate == 0 {
		cfg.Audio = def.Audio
	}
	if cfg.CommandRate.Events <= 0 {
		cfg.CommandRate = def.CommandRate
	}
	if cfg.CommandBurst <= 0 {
		cfg.CommandBurst = def.CommandBurst
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = def.ResolveTimeout
	}
	if cfg.VoiceJoinTimeout <= 0 {
		cfg.VoiceJoinTimeout = def.VoiceJoinTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := cfg.Resolver
	if r == nil {
		r = resolve.New(resolve.Config{MediaDir: cfg.MediaDir, Logger: cfg.Logger})
	}
	b := &Bot{
		cfg: cfg, log: cfg.Logger, resolver: r,
		sessions: map[int]*discordgo.Session{},
		players:  map[string]*player.Player{},
		voices:   map[string]*guildVoice{},
		restore:  map[string]store.PlayerSnapshot{},
		searches: map[string][]store.Track{},
		ready:    make(chan struct{}),
	}
	b.met = newMetrics(b)
	if cfg.Registerer != nil {
		if err := b.met.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("bot: registering metrics: %w", err)
		}
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	return b, nil
}

// Start opens the gateway sessions of this process's shards, registers the
// slash commands and queues saved players for resumption. It returns once
// every shard is connected.
func (b *Bot) Start(ctx context.Context) error {
	first, err := b.newSession(0, 1)
	if err != nil {
		return err
	}
	shards := b.cfg.Shards
	if shards <= 0 {
		gb, err := first.GatewayBot()
		if err != nil {
			return fmt.Errorf("bot: GET /gateway/bot: %w", err)
		}
		shards = max(gb.Shards, 1)
	}
	lo, hi := b.cfg.FirstShard, b.cfg.LastShard
	if hi < 0 {
		hi = shards - 1
	}
	if lo < 0 || lo > hi || hi >= shards {
		return errBadShards
	}
	if snaps, err := b.cfg.Store.Snapshots.List(ctx); err != nil {
		b.log.Warn("some saved players could not be read", "err", err)
		b.queueRestore(snaps, shards, lo, hi)
	} else {
		b.queueRestore(snaps, shards, lo, hi)
	}
	b.mu.Lock()
	b.shards = shards
	b.mu.Unlock()
	readies := make(chan string, hi-lo+1)
	for id := lo; id <= hi; id++ {
		s, err := b.newSession(id, shards)
		if err != nil {
			return err
		}
		s.AddHandlerOnce(func(s *discordgo.Session, r *discordgo.Ready) { readies <- r.User.ID })
		b.watchShard(s, id)
		b.mu.Lock()
		b.sessions[id] = s
		b.mu.Unlock()
		if err := s.Open(); err != nil {
			return fmt.Errorf("bot: shard %d: %w", id, err)
		}
	}
	for n := lo; n <= hi; n++ {
		select {
		case id := <-readies:
			b.mu.Lock()
			b.botID = id
			b.mu.Unlock()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(b.ready)
	if err := b.registerCommands(); err != nil {
		return err
	}
	b.log.Info("bot started", "shards", shards, "range", fmt.Sprintf("%d-%d", lo, hi))
	return nil
}

func (b *Bot) newSession(id, count int) (*discordgo.Session, error) {
	s, err := discordgo.New("Bot " + b.cfg.Token)
	if err != nil {
		return nil, err
	}
	if b.cfg.HTTPClient != nil {
		s.Client = b.cfg.HTTPClient
	}
	if b.cfg.Dialer != nil {
		s.Dialer = b.cfg.Dialer
	}
	s.ShardID, s.ShardCount = id, count
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildVoiceStates
	s.StateEnabled = true
	s.LogLevel = -1
	// Handlers run in the gateway's order: voice updates must not overtake
	// each other (a null endpoint followed by a new server, a state followed
	// by a server update). Slow work (interactions) gets its own goroutine.
	s.SyncEvents = true
	s.AddHandler(b.onInteractionAsync)
	s.AddHandler(b.onVoiceState)
	s.AddHandler(b.onVoiceServer)
	s.AddHandler(b.onGuildCreate)
	return s, nil
}

// queueRestore remembers the snapshots of guilds on this process's shards
// that were in a voice channel; they resume when their guild arrives.
func (b *Bot) queueRestore(snaps []store.PlayerSnapshot, shards, lo, hi int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range snaps {
		if s.VoiceChannelID == "" {
			continue
		}
		if sh := shardOf(s.GuildID, shards); sh < lo || sh > hi {
			continue
		}
		b.restore[s.GuildID] = s
	}
}

func (b *Bot) onGuildCreate(s *discordgo.Session, g *discordgo.GuildCreate) {
	b.mu.Lock()
	snap, ok := b.restore[g.ID]
	delete(b.restore, g.ID)
	b.mu.Unlock()
	if !ok {
		return
	}
	b.spawn(func() {
		select {
		case <-b.ready:
		case <-b.ctx.Done():
			return
		}
		p, err := b.player(b.ctx, g.ID)
		if err != nil {
			return
		}
		if err := p.Restore(snap); err != nil {
			b.log.Warn("restore player", "guild", g.ID, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.VoiceJoinTimeout+10*time.Second)
		defer cancel()
		if err := p.Join(ctx, snap.VoiceChannelID); err != nil {
			b.log.Warn("rejoin after restart", "guild", g.ID, "err", err)
			return
		}
		b.log.Info("resumed saved player", "guild", g.ID, "channel", snap.VoiceChannelID)
	})
}

// onInteractionAsync handles an interaction on its own goroutine, owned by
// the bot (Close waits for it), so the gateway keeps reading meanwhile.
func (b *Bot) onInteractionAsync(s *discordgo.Session, ic *discordgo.InteractionCreate) {
	b.spawn(func() { b.onInteraction(s, ic) })
}

// spawn runs f on a goroutine the bot owns (Close waits for it), unless the
// bot is closing.
func (b *Bot) spawn(f func()) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// shardOf is Discord's sharding formula: (guild_id >> 22) % shards.
// https://discord.com/developers/docs/topics/gateway#sharding
func shardOf(guildID string, shards int) int {
	id, err := strconv.ParseUint(guildID, 10, 64)
	if err != nil || shards <= 0 {
		return 0
	}
	return int((id >> 22) % uint64(shards))
}

// session returns the gateway session that carries guildID's events.
func (b *Bot) session(guildID string) (*discordgo.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.sessions[shardOf(guildID, b.shards)]
	if !ok {
		return nil, errNotStarted
	}
	return s, nil
}

// BotID returns the bot user's ID once started.
func (b *Bot) BotID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.botID
}

// Player returns the guild's player, if one exists.
func (b *Bot) Player(guildID string) (*player.Player, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.players[guildID]
	return p, ok
}

// player returns the guild's player, creating it with the guild's settings.
func (b *Bot) player(ctx context.Context, guildID string) (*player.Player, error) {
	b.mu.Lock()
	if p, ok := b.players[guildID]; ok {
		b.mu.Unlock()
		return p, nil
	}
	b.mu.Unlock()
	set, _ := b.settings(ctx, guildID)
	leave := time.Duration(set.AutoLeaveMinutes) * time.Minute
	if b.cfg.AutoLeave > 0 {
		leave = b.cfg.AutoLeave
	}
	cfg := player.Config{
		GuildID:       guildID,
		Engine:        &engine{r: b.resolver, cfg: b.cfg.Audio},
		Voice:         (*voiceJoiner)(b),
		Persister:     persister{b.cfg.Store.Snapshots},
		OnEvent:       b.onPlayerEvent,
		AutoLeave:     leave,
		DefaultVolume: set.DefaultVolume,
		Logger:        b.log,
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errNotStarted
	}
	if p, ok := b.players[guildID]; ok {
		return p, nil
	}
	p := player.New(cfg)
	b.players[guildID] = p
	return p, nil
}

// settings returns the guild's settings. When the store cannot be read it
// returns the defaults with the error: commands go on with the defaults
// (music must not depend on the database), but /settings must not show
// them as if they were the saved settings.
func (b *Bot) settings(ctx context.Context, guildID string) (store.GuildSettings, error) {
	s, err := b.cfg.Store.Settings.Get(ctx, guildID)
	if err != nil {
		b.log.Warn("read settings", "guild", guildID, "err", err)
		return store.DefaultGuildSettings(guildID), err
	}
	return s, nil
}

// Close closes every player (each saves a last snapshot, so a restart
// resumes), then the gateway sessions. The bot stays in voice channels only
// as far as Discord keeps it there; a new process rejoins.
func (b *Bot) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.cfg.Registerer != nil {
		defer b.met.unregister(b.cfg.Registerer)
	}
	players := make([]*player.Player, 0, len(b.players))
	for _, p := range b.players {
		players = append(players, p)
	}
	sessions := make([]*discordgo.Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.mu.Unlock()
	b.stop()
	var wg sync.WaitGroup
	for _, p := range players {
		wg.Add(1)
		go func() { defer wg.Done(); p.Close() }()
	}
	wg.Wait()
	b.wg.Wait()
	var errs []error
	for _, s := range sessions {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// persister saves player snapshots through the store.
type persister struct{ s store.Snapshots }

func (p persister) Save(ctx context.Context, snap store.PlayerSnapshot) error {
	_, err := p.s.Update(ctx, snap.GuildID, func(cur *store.PlayerSnapshot) error {
		v := cur.Version
		*cur = snap
		cur.Version = v
		return nil
	})
	return err
}
