package discordtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// VoiceBackend is the voice server that VOICE_SERVER_UPDATE points at
// (https://discord.com/developers/docs/topics/voice-connections). Endpoint
// returns the host:port sent to clients; AllowSession tells the backend to
// accept an Identify with these credentials (serverID is the guild ID).
// The local voice server voice/voicetest implements it.
type VoiceBackend interface {
	Endpoint() string
	AllowSession(serverID, userID, sessionID, token string)
}

// VoiceSession is what a client needs to identify to the voice server.
type VoiceSession struct {
	GuildID, ChannelID, UserID string
	SessionID, Token, Endpoint string
}

// VoiceStateInfo is a user's voice state.
type VoiceStateInfo struct {
	UserID, ChannelID, SessionID string
	SelfMute, SelfDeaf, Suppress bool
}

var (
	errNotVoiceChannel = errors.New("discordtest: not a voice or stage channel")
	errNoConnect       = errors.New("discordtest: user lacks View Channel or Connect in the channel")
	errChannelFull     = errors.New("discordtest: voice channel is full")
	errNotInVoice      = errors.New("discordtest: user is not in a voice channel")
)

// SetVoiceBackend replaces the voice backend (for a voice server started
// after this server).
func (s *Server) SetVoiceBackend(v VoiceBackend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		v = noVoice{}
	}
	s.cfg.Voice = v
}

func newVoiceToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// grant asks the backend to admit a session; it must be called without
// s.mu held, since the backend is foreign code.
func (s *Server) grant(guildID, userID, sessionID string) (endpoint, token string) {
	s.mu.Lock()
	v := s.cfg.Voice
	s.mu.Unlock()
	token = newVoiceToken()
	endpoint = v.Endpoint()
	v.AllowSession(guildID, userID, sessionID, token)
	return endpoint, token
}

// canJoinLocked checks Connect, View Channel and the user limit.
func (s *Server) canJoinLocked(g *guild, ch *channel, userID string) error {
	perms, err := g.permissions(ch, userID)
	if err != nil {
		return err
	}
	if perms&PermViewChannel == 0 || perms&PermConnect == 0 {
		return errNoConnect
	}
	if ch.UserLimit > 0 && ch.Type == ChannelVoice && perms&PermMoveMembers == 0 {
		n := 0
		for _, vs := range g.voice {
			if vs.ChannelID == ch.ID && vs.UserID != userID {
				n++
			}
		}
		if n >= ch.UserLimit {
			return errChannelFull
		}
	}
	return nil
}

func (s *Server) voiceChannelLocked(guildID, channelID string) (*guild, *channel, error) {
	g := s.w.guilds[guildID]
	if g == nil {
		return nil, nil, errUnknownGuild
	}
	ch := s.w.channels[channelID]
	if ch == nil || ch.GuildID != guildID {
		return nil, nil, errUnknownChannel
	}
	if !ch.Type.isVoice() {
		return nil, nil, errNotVoiceChannel
	}
	return g, ch, nil
}

// setVoiceLocked moves userID into channel (new session when newSession)
// and dispatches VOICE_STATE_UPDATE.
func (s *Server) setVoiceLocked(g *guild, userID string, ch *channel, mute, deaf bool) *voiceState {
	vs := g.voice[userID]
	if vs == nil {
		vs = &voiceState{UserID: userID, SessionID: newSessionID()}
		g.voice[userID] = vs
	}
	if vs.ChannelID != ch.ID {
		vs.Suppress = ch.Type == ChannelStage
		vs.RequestToSpeak = nil
	}
	vs.ChannelID = ch.ID
	vs.SelfMute, vs.SelfDeaf = mute, deaf
	s.dispatchGuildLocked(g, "VOICE_STATE_UPDATE", s.voiceStateJSON(g, vs, true), IntentGuildVoiceStates)
	s.notifyLocked()
	return vs
}

// leaveVoiceLocked removes the user's voice state and dispatches
// VOICE_STATE_UPDATE with a null channel.
func (s *Server) leaveVoiceLocked(g *guild, userID string) bool {
	vs := g.voice[userID]
	if vs == nil {
		return false
	}
	delete(g.voice, userID)
	left := *vs
	left.ChannelID = ""
	s.dispatchGuildLocked(g, "VOICE_STATE_UPDATE", s.voiceStateJSON(g, &left, true), IntentGuildVoiceStates)
	s.notifyLocked()
	return true
}

// botVoiceUpdateLocked handles the bot's op 4 Voice State Update: joining
// dispatches VOICE_STATE_UPDATE and, for a new voice session,
// VOICE_SERVER_UPDATE once the backend admitted it; null channel leaves.
// Like Discord, it silently ignores a guild of another shard, a channel
// the bot may not connect to, or a full channel.
func (s *Server) botVoiceUpdateLocked(c *conn, d voiceStateData) {
	sess := c.sess
	g := s.w.guilds[d.GuildID]
	if g == nil || ShardOf(g.ID, sess.shards) != sess.shard {
		return
	}
	botID := s.w.bot.ID
	if d.ChannelID == nil || *d.ChannelID == "" {
		s.leaveVoiceLocked(g, botID)
		return
	}
	_, ch, err := s.voiceChannelLocked(g.ID, *d.ChannelID)
	if err != nil {
		s.log.Debug("discordtest: op 4 to unusable channel ignored", "channel", *d.ChannelID, "err", err)
		return
	}
	if err := s.canJoinLocked(g, ch, botID); err != nil {
		s.log.Debug("discordtest: op 4 ignored", "channel", ch.ID, "err", err)
		return
	}
	old := g.voice[botID]
	fresh := old == nil
	if old != nil && old.owner != sess {
		// A new gateway session (the bot restarted, perhaps after a crash that
		// left its voice state behind) opens a new voice session: new id, and a
		// VOICE_SERVER_UPDATE with fresh credentials.
		old.SessionID = newSessionID()
		fresh = true
	}
	vs := s.setVoiceLocked(g, botID, ch, d.SelfMute, d.SelfDeaf)
	vs.owner = sess
	if !fresh {
		return
	}
	guildID, sessionID := g.ID, vs.SessionID
	c.after = append(c.after, func() { s.sendVoiceServer(guildID, sessionID, false) })
}

// sendVoiceServer admits the bot's voice session at the backend and
// dispatches VOICE_SERVER_UPDATE (endpoint null when unavailable).
func (s *Server) sendVoiceServer(guildID, sessionID string, unavailable bool) {
	botID := s.w.bot.ID
	var endpoint, token string
	if !unavailable {
		endpoint, token = s.grant(guildID, botID, sessionID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return
	}
	vs := g.voice[botID]
	if vs == nil || vs.SessionID != sessionID {
		return // left or rejoined meanwhile
	}
	d := map[string]any{"guild_id": guildID, "endpoint": nil, "token": token}
	if !unavailable {
		d["endpoint"] = endpoint
		g.voiceToken = token
	}
	if sess := s.sessionForGuildLocked(guildID); sess != nil {
		s.emitLocked(sess, "VOICE_SERVER_UPDATE", mustJSON(d))
	}
	s.notifyLocked()
}

// ChangeVoiceServer makes the bot's voice server in a guild change, as on
// a region change or server failover: a fresh token is admitted and sent
// in VOICE_SERVER_UPDATE.
func (s *Server) ChangeVoiceServer(guildID string) error {
	return s.changeVoiceServer(guildID, false)
}

// VoiceServerUnavailable sends VOICE_SERVER_UPDATE with a null endpoint:
// the voice server went away and a new one is being allocated.
func (s *Server) VoiceServerUnavailable(guildID string) error {
	return s.changeVoiceServer(guildID, true)
}

func (s *Server) changeVoiceServer(guildID string, unavailable bool) error {
	s.mu.Lock()
	g := s.w.guilds[guildID]
	if g == nil {
		s.mu.Unlock()
		return errUnknownGuild
	}
	vs := g.voice[s.w.bot.ID]
	if vs == nil {
		s.mu.Unlock()
		return errNotInVoice
	}
	sessionID := vs.SessionID
	s.mu.Unlock()
	s.sendVoiceServer(guildID, sessionID, unavailable)
	return nil
}

// JoinVoice puts a scripted user into a voice channel (checking View
// Channel, Connect and the user limit as a Discord client would),
// dispatches VOICE_STATE_UPDATE and returns the credentials the backend
// admitted for the user's own voice connection. Joining while in another
// channel of the guild moves the user, keeping the session.
func (s *Server) JoinVoice(guildID, userID, channelID string) (VoiceSession, error) {
	s.mu.Lock()
	g, ch, err := s.voiceChannelLocked(guildID, channelID)
	if err == nil {
		err = s.canJoinLocked(g, ch, userID)
	}
	if err != nil {
		s.mu.Unlock()
		return VoiceSession{}, err
	}
	vs := s.setVoiceLocked(g, userID, ch, false, false)
	sessionID := vs.SessionID
	s.mu.Unlock()
	endpoint, token := s.grant(guildID, userID, sessionID)
	return VoiceSession{GuildID: guildID, ChannelID: channelID, UserID: userID,
		SessionID: sessionID, Token: token, Endpoint: endpoint}, nil
}

// LeaveVoice takes a user out of voice (VOICE_STATE_UPDATE, null channel).
func (s *Server) LeaveVoice(guildID, userID string) error {
	return s.DisconnectUser(guildID, userID)
}

// DisconnectUser disconnects any user, the bot included, from voice as a
// moderator would: VOICE_STATE_UPDATE with a null channel.
func (s *Server) DisconnectUser(guildID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return errUnknownGuild
	}
	if !s.leaveVoiceLocked(g, userID) {
		return errNotInVoice
	}
	return nil
}

// MoveUser moves a user already in voice (the bot included) to another
// voice channel as a moderator would, without permission checks:
// VOICE_STATE_UPDATE with the new channel and the same session.
func (s *Server) MoveUser(guildID, userID, channelID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ch, err := s.voiceChannelLocked(guildID, channelID)
	if err != nil {
		return err
	}
	vs := g.voice[userID]
	if vs == nil {
		return errNotInVoice
	}
	s.setVoiceLocked(g, userID, ch, vs.SelfMute, vs.SelfDeaf)
	return nil
}

// VoiceState returns a user's voice state in a guild.
func (s *Server) VoiceState(guildID, userID string) (VoiceStateInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.voiceStateLocked(guildID, userID)
}

func (s *Server) voiceStateLocked(guildID, userID string) (VoiceStateInfo, bool) {
	g := s.w.guilds[guildID]
	if g == nil {
		return VoiceStateInfo{}, false
	}
	vs := g.voice[userID]
	if vs == nil {
		return VoiceStateInfo{}, false
	}
	return VoiceStateInfo{UserID: vs.UserID, ChannelID: vs.ChannelID, SessionID: vs.SessionID,
		SelfMute: vs.SelfMute, SelfDeaf: vs.SelfDeaf, Suppress: vs.Suppress}, true
}

// WaitVoice waits until a user's voice channel in a guild is channelID
// ("" waits until the user is out of voice).
func (s *Server) WaitVoice(ctx context.Context, guildID, userID, channelID string) (VoiceStateInfo, error) {
	var out VoiceStateInfo
	err := s.wait(ctx, func() bool {
		vs, ok := s.voiceStateLocked(guildID, userID)
		out = vs
		if channelID == "" {
			return !ok
		}
		return ok && vs.ChannelID == channelID
	})
	return out, err
}

// setSuppressLocked implements PATCH /guilds/{id}/voice-states/@me for a
// stage channel: unsuppressing needs Mute Members; requesting to speak
// needs Request to Speak.
func (s *Server) setSuppressLocked(g *guild, userID string, suppress *bool, request *string) *apiError {
	vs := g.voice[userID]
	if vs == nil {
		return &apiError{status: 400, code: codeNotVoiceMember, message: "Unknown Voice State"}
	}
	ch := s.w.channels[vs.ChannelID]
	if ch == nil || ch.Type != ChannelStage {
		return &apiError{status: 400, code: codeInvalidFormBody, message: "Invalid Form Body",
			errors: formErrors{"channel_id": map[string]any{"_errors": []any{map[string]any{"code": "CHANNEL_TYPE_INVALID", "message": "Not a stage channel"}}}}}
	}
	perms, _ := g.permissions(ch, userID)
	if suppress != nil {
		if !*suppress && perms&PermMuteMembers == 0 {
			return errMissingPermissions
		}
		vs.Suppress = *suppress
	}
	if request != nil {
		if perms&PermRequestToSpeak == 0 {
			return errMissingPermissions
		}
		if *request == "" {
			vs.RequestToSpeak = nil
		} else {
			t := time.Now().UTC()
			vs.RequestToSpeak = &t
		}
	}
	s.dispatchGuildLocked(g, "VOICE_STATE_UPDATE", s.voiceStateJSON(g, vs, true), IntentGuildVoiceStates)
	s.notifyLocked()
	return nil
}
