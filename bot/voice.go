package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice"
	"github.com/quaverbot/quaver/voice/dave"
)

// Errors a join can meet, written for the user who asked for music.
var (
	errStageChannel = errors.New("stage channels are not supported: pick a normal voice channel")
	errNoView       = errors.New("the bot can't see that voice channel: give it the View Channel permission there")
	errNoConnect    = errors.New("the bot is not allowed to join that voice channel: give it the Connect permission there")
	errNoSpeak      = errors.New("the bot is not allowed to speak in that voice channel: give it the Speak permission there")
	errChannelFull  = errors.New("that voice channel is full: raise its user limit or give the bot Move Members")
	errNoChannel    = errors.New("that voice channel no longer exists")
	errJoinTimeout  = errors.New("discord did not let the bot into the voice channel in time; try again in a moment")
	errNoPermsInfo  = errors.New("the bot can't work out its permissions in that channel yet; try again in a moment")
	// errVoiceRequest and errVoiceConnect wrap the cause (logged, not shown).
	errVoiceRequest = errors.New("the bot could not ask Discord to join the voice channel; try again in a moment")
	errVoiceConnect = errors.New("the bot could not connect to the voice server; try again in a moment")
)

// guildVoice is the bot's voice presence in one guild: the credentials from
// VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE and, once both came, the
// voice.Conn they feed.
type guildVoice struct {
	mu        sync.Mutex
	channelID string
	sessionID string
	endpoint  string
	token     string
	ready     chan struct{} // closed once session, endpoint and token are known
	readyDone bool
	conn      *voice.Conn
	dave      *dave.Session // nil with Config.NoDAVE
	// state is the connection's state for quaver_voice_connections
	// (voiceConnecting until the connection reports otherwise).
	state atomic.Int32
}

func (g *guildVoice) checkReadyLocked() {
	if !g.readyDone && g.sessionID != "" && g.endpoint != "" && g.token != "" {
		g.readyDone = true
		close(g.ready)
	}
}

// voiceJoiner implements player.Voice over the bot's gateway sessions and
// package voice.
type voiceJoiner Bot

// Join sends op 4 through the guild's shard, waits for both voice updates
// and connects a voice.Conn on the shared pacer.
func (vj *voiceJoiner) Join(ctx context.Context, guildID, channelID string) (player.VoiceConn, error) {
	b := (*Bot)(vj)
	s, err := b.session(guildID)
	if err != nil {
		return nil, err
	}
	if err := b.canJoin(s, guildID, channelID); err != nil {
		return nil, err
	}
	gv := &guildVoice{channelID: channelID, ready: make(chan struct{})}
	b.mu.Lock()
	old := b.voices[guildID]
	b.voices[guildID] = gv
	b.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		c := old.conn
		old.mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
	}
	if err := b.gatewaySlot(ctx, s.ShardID); err != nil {
		b.dropVoice(guildID, gv)
		return nil, err
	}
	if err := s.ChannelVoiceJoinManual(guildID, channelID, false, true); err != nil {
		b.dropVoice(guildID, gv)
		return nil, fmt.Errorf("%w: %w", errVoiceRequest, err)
	}
	wait, cancel := context.WithTimeout(ctx, b.cfg.VoiceJoinTimeout)
	defer cancel()
	select {
	case <-gv.ready:
	case <-wait.Done():
		b.dropVoice(guildID, gv)
		_ = s.ChannelVoiceJoinManual(guildID, "", false, true)
		return nil, errJoinTimeout
	}
	gv.mu.Lock()
	vc := voice.Config{
		Endpoint: gv.endpoint, GuildID: guildID, ChannelID: channelID, UserID: b.BotID(),
		SessionID: gv.sessionID, Token: gv.token, RootCAs: b.cfg.VoiceRootCAs, Pacer: b.cfg.Pacer,
		ServerUpdateWait: b.cfg.ServerUpdateWait, Logger: b.log,
	}
	if !b.cfg.NoDAVE {
		// DAVE: the session keeps the call's MLS group over the voice gateway and
		// encrypts every Opus frame before transport encryption.
		uid, _ := strconv.ParseUint(b.BotID(), 10, 64)
		cid, _ := strconv.ParseUint(channelID, 10, 64)
		gv.dave = dave.NewSession(dave.Config{UserID: uid, ChannelID: cid, Logger: b.log})
		vc.MaxDAVEProtocolVersion = dave.ProtocolVersion
		vc.Encryptor, vc.DAVE = gv.dave, gv.dave
		vc.OnEvent = b.daveOnReconnect(guildID, gv.dave)
	}
	daveHook := vc.OnEvent
	vc.OnEvent = func(ev voice.Event) {
		gv.state.Store(voiceStateOf(ev.State))
		if daveHook != nil {
			daveHook(ev)
		}
	}
	sess := gv.dave
	gv.mu.Unlock()
	c := voice.New(vc)
	if err := c.Connect(ctx); err != nil {
		b.dropVoice(guildID, gv)
		_ = s.ChannelVoiceJoinManual(guildID, "", false, true)
		return nil, fmt.Errorf("%w: %w", errVoiceConnect, err)
	}
	if sess != nil {
		// Send our key package right after Session Description, as Discord expects.
		if err := sess.Connected(ctx, c); err != nil {
			b.log.Warn("dave: could not start end-to-end encryption", "guild", guildID, "err", err)
		}
	}
	gv.mu.Lock()
	gv.conn = c
	endpoint, token, session, channel := gv.endpoint, gv.token, gv.sessionID, gv.channelID
	gv.mu.Unlock()
	// Updates that arrived while connecting.
	if endpoint != vc.Endpoint || token != vc.Token {
		c.UpdateServer(endpoint, token)
	}
	if session != vc.SessionID || channel != vc.ChannelID {
		c.UpdateState(session, channel)
	}
	b.updateListeners(s, guildID)
	return &voiceConn{b: b, s: s, guildID: guildID, gv: gv, c: c}, nil
}

// daveOnReconnect returns a voice event hook that restarts DAVE after the
// connection opened a new voice session (Connected is a no-op for a resumed
// one, which keeps its group; the first Ready, during Join, finds no
// connection registered yet and is handled by Join itself). The
// hook must not block, so the key package is sent from a goroutine the bot
// owns (one per reconnect, bounded by a timeout).
func (b *Bot) daveOnReconnect(guildID string, sess *dave.Session) func(voice.Event) {
	return func(ev voice.Event) {
		if ev.State != voice.StateReady {
			return
		}
		c := b.voiceConn(guildID)
		if c == nil {
			return
		}
		b.spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := sess.Connected(ctx, c); err != nil {
				b.log.Warn("dave: restart after reconnect failed", "guild", guildID, "err", err)
			}
		})
	}
}

// voiceConn returns the guild's voice connection, if any.
func (b *Bot) voiceConn(guildID string) *voice.Conn {
	gv := b.guildVoice(guildID)
	if gv == nil {
		return nil
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	return gv.conn
}

// guildVoice returns the guild's voice presence (nil when none).
func (b *Bot) guildVoice(guildID string) *guildVoice {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.voices[guildID]
}

// dropVoice forgets gv if it is still the guild's voice presence.
func (b *Bot) dropVoice(guildID string, gv *guildVoice) {
	b.mu.Lock()
	if b.voices[guildID] == gv {
		delete(b.voices, guildID)
	}
	b.mu.Unlock()
}

// canJoin checks what Discord would refuse or what would leave the bot mute.
func (b *Bot) canJoin(s *discordgo.Session, guildID, channelID string) error {
	ch, err := s.State.Channel(channelID)
	if err != nil {
		return errNoChannel
	}
	if ch.Type == discordgo.ChannelTypeGuildStageVoice {
		return errStageChannel
	}
	perms, err := s.State.UserChannelPermissions(b.BotID(), channelID)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoPermsInfo, err)
	}
	admin := perms&discordgo.PermissionAdministrator != 0
	switch {
	case admin:
	case perms&discordgo.PermissionViewChannel == 0:
		return errNoView
	case perms&discordgo.PermissionVoiceConnect == 0:
		return errNoConnect
	case perms&discordgo.PermissionVoiceSpeak == 0:
		return errNoSpeak
	}
	if ch.UserLimit > 0 && !admin && perms&discordgo.PermissionVoiceMoveMembers == 0 {
		if g, err := s.State.Guild(guildID); err == nil {
			n := 0
			for _, vs := range g.VoiceStates {
				if vs.ChannelID == channelID && vs.UserID != b.BotID() {
					n++
				}
			}
			if n >= ch.UserLimit {
				return errChannelFull
			}
		}
	}
	return nil
}

func (b *Bot) onVoiceState(s *discordgo.Session, e *discordgo.VoiceStateUpdate) {
	if e.VoiceState == nil {
		return
	}
	if e.UserID != b.BotID() {
		b.updateListeners(s, e.GuildID)
		return
	}
	gv := b.guildVoice(e.GuildID)
	if gv == nil {
		return
	}
	gv.mu.Lock()
	c := gv.conn
	if c == nil {
		// Still joining: a null channel is the echo of an earlier leave.
		if e.ChannelID == gv.channelID {
			gv.sessionID = e.SessionID
			gv.checkReadyLocked()
		}
		gv.mu.Unlock()
		return
	}
	gv.sessionID = e.SessionID
	moved := e.ChannelID != "" && e.ChannelID != gv.channelID
	gv.channelID = e.ChannelID
	if gv.dave != nil && e.ChannelID != "" {
		// A new channel is a new call: its MLS group is named by the new channel id.
		cid, _ := strconv.ParseUint(e.ChannelID, 10, 64)
		gv.dave.SetChannel(cid)
	}
	gv.mu.Unlock()
	c.UpdateState(e.SessionID, e.ChannelID)
	if e.ChannelID == "" {
		b.dropVoice(e.GuildID, gv)
	}
	if p, ok := b.Player(e.GuildID); ok && moved {
		// Moved by a moderator: saved at once, so a restart rejoins this channel.
		p.SetVoiceChannel(e.ChannelID)
	}
	b.updateListeners(s, e.GuildID)
}

func (b *Bot) onVoiceServer(_ *discordgo.Session, e *discordgo.VoiceServerUpdate) {
	gv := b.guildVoice(e.GuildID)
	if gv == nil {
		return
	}
	gv.mu.Lock()
	gv.endpoint, gv.token = e.Endpoint, e.Token
	c := gv.conn
	if c == nil {
		gv.checkReadyLocked()
	}
	gv.mu.Unlock()
	if c != nil {
		c.UpdateServer(e.Endpoint, e.Token)
	}
}

// listeners returns the members in the bot's voice channel of a guild.
func (b *Bot) listeners(s *discordgo.Session, guildID string) (channelID string, ls []player.Listener) {
	gv := b.guildVoice(guildID)
	if gv == nil {
		return "", nil
	}
	gv.mu.Lock()
	channelID = gv.channelID
	gv.mu.Unlock()
	g, err := s.State.Guild(guildID)
	if err != nil {
		return channelID, nil
	}
	s.State.RLock()
	states := append([]*discordgo.VoiceState(nil), g.VoiceStates...)
	s.State.RUnlock()
	me := b.BotID()
	for _, vs := range states {
		if vs.ChannelID != channelID || vs.UserID == me {
			continue
		}
		bot := false
		if vs.Member != nil && vs.Member.User != nil {
			bot = vs.Member.User.Bot
		} else if m, err := s.State.Member(guildID, vs.UserID); err == nil && m.User != nil {
			bot = m.User.Bot
		}
		ls = append(ls, player.Listener{ID: vs.UserID, Bot: bot})
	}
	return channelID, ls
}

// updateListeners tells the guild's player how many people listen.
func (b *Bot) updateListeners(s *discordgo.Session, guildID string) {
	p, ok := b.Player(guildID)
	if !ok {
		return
	}
	ch, ls := b.listeners(s, guildID)
	if ch == "" {
		return
	}
	humans := 0
	for _, l := range ls {
		if !l.Bot {
			humans++
		}
	}
	p.SetListeners(humans)
}

// voiceConn is one voice connection as the player sees it.
type voiceConn struct {
	b       *Bot
	s       *discordgo.Session
	guildID string
	gv      *guildVoice
	c       *voice.Conn
	once    sync.Once
}

func (v *voiceConn) SetSource(src player.FrameSource) {
	if src == nil {
		v.c.SetSource(nil)
		return
	}
	v.c.SetSource(src)
}

func (v *voiceConn) Leave() {
	v.once.Do(func() {
		v.b.mu.Lock()
		mine := v.b.voices[v.guildID] == v.gv
		if mine {
			delete(v.b.voices, v.guildID)
		}
		v.b.mu.Unlock()
		if mine {
			_ = v.s.ChannelVoiceJoinManual(v.guildID, "", false, true)
		}
		_ = v.c.Close()
	})
}

func (v *voiceConn) Done() <-chan struct{} { return v.c.Done() }

func (v *voiceConn) Err() error { return v.c.Err() }

// gatewayRate keeps voice joins under Discord's limit of 120 gateway
// commands per 60 s per connection; more would close the shard with 4008.
// With a burst of 55 and 55 per minute, no 60 s window holds more than 110
// joins, leaving room for heartbeats and other commands.
// https://discord.com/developers/docs/topics/gateway#rate-limiting
var gatewayRate = store.Rate{Events: 55, Per: time.Minute}

const gatewayBurst = 55

// gatewaySlot waits until shard may send one more gateway command.
func (b *Bot) gatewaySlot(ctx context.Context, shard int) error {
	key := fmt.Sprintf("gateway:%s:%d", b.BotID(), shard)
	for {
		d, err := b.cfg.Store.RateLimiter.Allow(ctx, key, gatewayRate, gatewayBurst)
		if err != nil || d.Allowed {
			return nil // a broken limiter must not stop joins
		}
		t := time.NewTimer(d.RetryAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errJoinTimeout
		}
	}
}

// voiceChannel returns the channel the bot is connected to in a guild ("" when
// not connected). It follows moves by moderators from the voice state updates
// (onVoiceState also tells the player, which saves the new channel).
func (b *Bot) voiceChannel(guildID string) string {
	gv := b.guildVoice(guildID)
	if gv == nil {
		return ""
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	if gv.conn == nil {
		return ""
	}
	return gv.channelID
}
