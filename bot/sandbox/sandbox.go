// Package sandbox owns the bot's local world: an in-process local Discord
// (discordtest) joined to a local voice server (voicetest), a scripted guild
// with a listener, and the real bot connected to both. `quaver serve
// --sandbox` runs it as a demo, and the bot's end-to-end tests drive it.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/bot"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
	"github.com/quaverbot/quaver/voice/voicetest"
)

// Options configure a sandbox.
type Options struct {
	// MediaDir is the bot's media folder ("file:NAME" queries); empty makes a temporary one.
	MediaDir string
	// StorePath is the embedded store file; empty puts it in a temporary folder.
	StorePath string
	// Store, when set, is used instead of opening one (the caller closes it).
	Store *store.Store
	// Pacer, when set, is shared instead of starting one (the caller closes it).
	Pacer *pacer.Pacer
	// Guilds is how many guilds to script (default 1), each with a text
	// channel, a voice channel and a listener.
	Guilds int
	// Bot lets the caller adjust the bot's configuration before it starts.
	Bot func(*bot.Config)
	// Prepare runs after the guilds are scripted and the store is open, before
	// the bot starts (tests seed saved players with it).
	Prepare func(*Env) error
	// Shards is the shard count the local Discord recommends (default 1).
	// Discord allows 120 gateway commands per minute per connection, so
	// many guilds joining voice at once need several shards.
	Shards int
	// DiscardPayloads makes the voice server keep only packet statistics (load runs).
	DiscardPayloads bool
	// DAVE makes the voice server require DAVE end-to-end encryption, as
	// Discord does, with the listener as a group member (one guild only).
	DAVE bool
	// Log receives one line per step (nil: discarded).
	Log io.Writer
	// Logger receives the components' logs (nil: discarded).
	Logger *slog.Logger
}

// Guild is one scripted guild.
type Guild struct {
	ID, TextID, VoiceID, ListenerID string
}

// Env is a running sandbox.
type Env struct {
	Discord *discordtest.Server
	Voice   *voicetest.Server
	// DAVE is the voice server's DAVE role (nil unless Options.DAVE).
	DAVE     *voicetest.DAVE
	Bot      *bot.Bot
	Store    *store.Store
	Pacer    *pacer.Pacer
	Guilds   []Guild
	MediaDir string

	cfg    bot.Config // the bot's configuration, for RestartBot
	events chan player.Event
	log    io.Writer
	tmp    string
	closer []func() error
	once   sync.Once
}

// Start brings up the local Discord and voice server, scripts the guilds
// and starts the bot against them.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	e := &Env{log: o.Log, events: make(chan player.Event, 256)}
	if e.log == nil {
		e.log = io.Discard
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if e.tmp, err = os.MkdirTemp("", "quaver-sandbox"); err != nil {
		return nil, err
	}
	e.MediaDir = o.MediaDir
	if e.MediaDir == "" {
		e.MediaDir = filepath.Join(e.tmp, "media")
		if err := os.Mkdir(e.MediaDir, 0o755); err != nil {
			return nil, err
		}
	}
	e.Discord = discordtest.New(discordtest.Config{Addr: "127.0.0.1:0", BotName: "Quaver", Shards: max(o.Shards, 1),
		InteractionTimeout: 10 * time.Second, RateLimit: 1000, RateLimitWindow: time.Second})
	if err := e.Discord.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: local Discord: %w", err)
	}
	e.closer = append(e.closer, e.Discord.Close)
	e.step("local Discord listening on %s", e.Discord.URL())
	for n := range max(o.Guilds, 1) {
		g := Guild{ID: e.Discord.AddGuild(fmt.Sprintf("sandbox %d", n+1))}
		if g.TextID, err = e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "music", Type: discordtest.ChannelText}); err != nil {
			return nil, err
		}
		if g.VoiceID, err = e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "Lounge", Type: discordtest.ChannelVoice}); err != nil {
			return nil, err
		}
		g.ListenerID = e.Discord.AddUser(discordtest.User{Username: fmt.Sprintf("listener%d", n+1)})
		if err := e.Discord.AddMember(g.ID, g.ListenerID); err != nil {
			return nil, err
		}
		e.Guilds = append(e.Guilds, g)
	}
	e.step("scripted %d guild(s), each with #music, a voice channel \"Lounge\" and a listener", len(e.Guilds))
	vcfg := voicetest.Config{DiscardPayloads: o.DiscardPayloads, UDPReaders: 2}
	if o.DAVE {
		if len(e.Guilds) != 1 {
			return nil, errors.New("sandbox: DAVE is played for one guild's call only")
		}
		g := e.Guilds[0]
		cid, _ := strconv.ParseUint(g.VoiceID, 10, 64)
		lid, _ := strconv.ParseUint(g.ListenerID, 10, 64)
		// As Discord does since March 2026: DAVE required (4017 otherwise), and
		// the listener is a group member that decrypts what it hears.
		if e.DAVE, err = voicetest.NewDAVE(voicetest.DAVEConfig{ChannelID: cid, ListenerUserID: lid, Require: true, Logger: logger}); err != nil {
			return nil, err
		}
		vcfg.DAVE = e.DAVE
	}
	if e.Voice, err = voicetest.New(vcfg); err != nil {
		return nil, fmt.Errorf("sandbox: voice server: %w", err)
	}
	e.closer = append(e.closer, e.Voice.Close)
	if e.DAVE != nil {
		e.DAVE.Attach(e.Voice)
	}
	e.Discord.SetVoiceBackend(e.Voice)
	e.step("local voice server listening on %s (DAVE required: %v)", e.Voice.Endpoint(), o.DAVE)

	e.Store = o.Store
	if e.Store == nil {
		path := o.StorePath
		if path == "" {
			path = filepath.Join(e.tmp, "quaver.db")
		}
		if e.Store, err = store.Open(ctx, store.Config{Path: path, Logger: logger}); err != nil {
			return nil, err
		}
		e.closer = append(e.closer, e.Store.Close)
	}
	e.Pacer = o.Pacer
	if e.Pacer == nil {
		if e.Pacer, err = pacer.New(pacer.Config{}); err != nil {
			return nil, err
		}
		e.closer = append(e.closer, e.Pacer.Close)
	}
	cfg := bot.DefaultConfig()
	cfg.Token = e.Discord.Token()
	cfg.HTTPClient = e.Discord.HTTPClient()
	cfg.Dialer = e.Discord.Dialer()
	cfg.VoiceRootCAs = e.Voice.CA().Pool()
	cfg.Store = e.Store
	cfg.Pacer = e.Pacer
	cfg.Logger = logger
	cfg.CommandRate = store.Rate{Events: 1000, Per: time.Second}
	cfg.CommandBurst = 1000
	cfg.Resolver = resolve.New(resolve.Config{MediaDir: e.MediaDir, AllowPrivateAddresses: true, Logger: logger,
		LookPath: func(string) (string, error) { return "", errors.New("yt-dlp is not used in the sandbox") }})
	cfg.OnEvent = func(ev player.Event) {
		select {
		case e.events <- ev:
		default:
		}
	}
	if o.Bot != nil {
		o.Bot(&cfg)
	}
	if o.Prepare != nil {
		if err := o.Prepare(e); err != nil {
			return nil, err
		}
	}
	e.cfg = cfg
	if err := e.startBot(ctx); err != nil {
		return nil, err
	}
	e.closer = append(e.closer, func() error { return e.Bot.Close() })
	e.step("bot connected to the local Discord and registered its slash commands")
	return e, nil
}

// startBot starts a bot with e.cfg and makes it Env.Bot.
func (e *Env) startBot(ctx context.Context) error {
	b, err := bot.New(e.cfg)
	if err != nil {
		return err
	}
	e.Bot = b
	if err := b.Start(ctx); err != nil {
		_ = b.Close()
		return err
	}
	return nil
}

// RestartBot closes the bot and starts a new one with the same
// configuration against the same local Discord and voice server, as a
// restart of the bot's process does. When st is not nil the new bot uses it
// (and Env.Store becomes it; the caller closes it). Tests simulate kill -9
// by closing the old bot's store first, so that nothing the old bot saves
// on its way out is kept, and passing the store reopened on the same file.
func (e *Env) RestartBot(ctx context.Context, st *store.Store) error {
	if err := e.Bot.Close(); err != nil {
		return fmt.Errorf("sandbox: closing the old bot: %w", err)
	}
	if st != nil {
		e.Store, e.cfg.Store = st, st
	}
	if err := e.startBot(ctx); err != nil {
		return err
	}
	e.step("bot restarted")
	return nil
}

// decryptHeard returns pkts with each payload decrypted by the listener's DAVE
// member; silence frames pass through as they were sent.
func (e *Env) decryptHeard(pkts []voicetest.Packet) ([]voicetest.Packet, error) {
	botID, _ := strconv.ParseUint(e.Bot.BotID(), 10, 64)
	out := make([]voicetest.Packet, len(pkts))
	for i, p := range pkts {
		plain, err := e.DAVE.Listener().DecryptFrame(botID, nil, p.Opus)
		if err != nil {
			return nil, fmt.Errorf("sandbox: the listener could not decrypt packet %d: %w", i, err)
		}
		p.Opus = plain
		out[i] = p
	}
	return out, nil
}

func (e *Env) step(format string, args ...any) {
	fmt.Fprintf(e.log, "[sandbox] "+format+"\n", args...)
}

// Events returns the player events of every guild, as the bot announces them.
func (e *Env) Events() <-chan player.Event { return e.events }

// WaitEvent waits for an event of type t in guild.
func (e *Env) WaitEvent(ctx context.Context, guildID string, t player.EventType) (player.Event, error) {
	for {
		select {
		case ev := <-e.events:
			if ev.GuildID == guildID && ev.Type == t {
				return ev, nil
			}
		case <-ctx.Done():
			return player.Event{}, fmt.Errorf("sandbox: waiting for player event %d: %w", t, ctx.Err())
		}
	}
}

// Command makes the guild's listener run a slash command and waits for the
// visible answer.
func (e *Env) Command(ctx context.Context, g Guild, name string, opts ...discordtest.Option) (*discordtest.Message, error) {
	return e.CommandAs(ctx, g, g.ListenerID, name, opts...)
}

// CommandAs makes userID run a slash command in g's text channel and waits
// for the visible answer.
func (e *Env) CommandAs(ctx context.Context, g Guild, userID, name string, opts ...discordtest.Option) (*discordtest.Message, error) {
	inv, err := e.Discord.InvokeCommand(ctx, g.ID, g.TextID, userID, name, opts...)
	if err != nil {
		return nil, err
	}
	return inv.WaitResponse(ctx)
}

// BotSession waits for the bot's voice session on the local voice server.
func (e *Env) BotSession(ctx context.Context) (*voicetest.Session, error) {
	return e.Voice.WaitSession(ctx, e.Bot.BotID())
}

// WriteDemo writes a music-like WAV of the given length into the media
// folder and returns the /play query that names it.
func (e *Env) WriteDemo(name string, seconds float64) (string, error) {
	return "file:" + name, os.WriteFile(filepath.Join(e.MediaDir, name), synth.WAV(synth.Music(44100, 2, seconds)), 0o644)
}

// Close stops the bot and the local servers; it is safe to call twice.
func (e *Env) Close() {
	e.once.Do(func() {
		for i := len(e.closer) - 1; i >= 0; i-- {
			_ = e.closer[i]()
		}
		if e.tmp != "" {
			_ = os.RemoveAll(e.tmp)
		}
	})
}

// WriteHeard writes the packets a voice recorder received as an Ogg Opus
// file, one 20 ms frame each, in arrival order. Gaps (pauses) are not
// filled in: the file holds what was sent.
func WriteHeard(path string, pkts []voicetest.Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := ogg.NewOpusWriter(f, ogg.DefaultOpusWriterConfig())
	if err != nil {
		return err
	}
	for _, p := range pkts {
		if len(p.Opus) == 0 {
			continue
		}
		n, err := ogg.PacketSamples(p.Opus)
		if err != nil {
			continue // not an Opus packet we can place in time; leave it out
		}
		if err := w.WritePacket(p.Opus, n); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

// RunOptions configure Run.
type RunOptions struct {
	Options
	// Input is a file path or http(s) URL to play; empty plays a generated demo.
	Input string
	// DemoSeconds is the generated demo's length (default 20).
	DemoSeconds float64
	// HeardPath is where what the listener heard is written (default sandbox-heard.ogg).
	HeardPath string
	// Timeout bounds waiting for the track to end (default: its length + 30 s, or 10 min).
	Timeout time.Duration
}

// Run is the scripted demo: the listener joins voice, runs /play with the
// input (or a generated demo), and once the track has ended what the bot
// sent to the voice channel is written to HeardPath.
func Run(ctx context.Context, o RunOptions) error {
	if o.HeardPath == "" {
		o.HeardPath = "sandbox-heard.ogg"
	}
	if o.DemoSeconds <= 0 {
		o.DemoSeconds = 20
	}
	query := ""
	if o.Input != "" {
		if strings.HasPrefix(o.Input, "http://") || strings.HasPrefix(o.Input, "https://") {
			query = o.Input
		} else {
			abs, err := filepath.Abs(o.Input)
			if err != nil {
				return err
			}
			if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() {
				return fmt.Errorf("sandbox: %s is not a file", o.Input)
			}
			o.MediaDir, query = filepath.Dir(abs), "file:"+filepath.Base(abs)
		}
	}
	o.Options.DAVE = true // the sandbox behaves like Discord: DAVE required
	e, err := Start(ctx, o.Options)
	if err != nil {
		return err
	}
	defer e.Close()
	if query == "" {
		if query, err = e.WriteDemo("demo.wav", o.DemoSeconds); err != nil {
			return err
		}
		e.step("generated a %.0f s music-like demo track (44.1 kHz stereo WAV)", o.DemoSeconds)
	}
	g := e.Guilds[0]
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
		return err
	}
	e.step("listener joined voice channel Lounge")
	e.step("listener runs /play %s", query)
	msg, err := e.Command(ctx, g, "play", discordtest.StringOption("query", query))
	if err != nil {
		return err
	}
	for _, em := range msg.Embeds {
		e.step("bot replied: %s: %s", em.Title, em.Description)
		if em.Color == 0xED4245 {
			return fmt.Errorf("sandbox: /play failed: %s", em.Description)
		}
	}
	sess, err := e.BotSession(ctx)
	if err != nil {
		return err
	}
	e.step("bot joined the voice channel (SSRC %d, DAVE version %d)", sess.SSRC, sess.DAVEVersion())
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
		if o.Input == "" {
			timeout = time.Duration(o.DemoSeconds*float64(time.Second)) + 30*time.Second
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	rec := sess.Recorder()
wait:
	for {
		select {
		case ev := <-e.events:
			switch ev.Type {
			case player.EventTrackStart:
				e.step("now playing: %s", resolve.SafeTitle(ev.Track.Title, 0))
			case player.EventTrackFailed:
				return fmt.Errorf("sandbox: the track failed: %v", ev.Err)
			case player.EventQueueEnd:
				e.step("track ended")
				break wait
			case player.EventDisconnected, player.EventStopped:
				return fmt.Errorf("sandbox: playback stopped: %v", ev.Err)
			}
		case <-tick.C:
			st := rec.Stats()
			e.step("listener has received %d packets (%.1f s of audio), lost %d", st.Received, float64(st.Received)*0.02, st.Lost)
		case <-wctx.Done():
			return fmt.Errorf("sandbox: the track did not end in time: %w", wctx.Err())
		}
	}
	pkts := rec.Packets()
	if e.DAVE != nil {
		// What the listener hears is what its DAVE member decrypts.
		if pkts, err = e.decryptHeard(pkts); err != nil {
			return err
		}
		e.step("the listener decrypted every frame end to end (DAVE epoch %d)", e.DAVE.Epoch())
	}
	if err := WriteHeard(o.HeardPath, pkts); err != nil {
		return err
	}
	st := rec.Stats()
	e.step("wrote what the listener heard to %s: %d packets, %.1f s, lost %d, jitter %s",
		o.HeardPath, len(pkts), float64(len(pkts))*0.02, st.Lost, st.Jitter.Round(time.Microsecond))
	return nil
}
