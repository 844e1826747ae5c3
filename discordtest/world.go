package discordtest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// ChannelType is a channel's kind
// (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
type ChannelType int

// Channel types the local Discord models.
const (
	ChannelText     ChannelType = 0
	ChannelVoice    ChannelType = 2
	ChannelCategory ChannelType = 4
	ChannelStage    ChannelType = 13
)

func (t ChannelType) isVoice() bool { return t == ChannelVoice || t == ChannelStage }

// OverwriteType says whether a permission overwrite targets a role or a member.
type OverwriteType int

// Overwrite targets.
const (
	OverwriteRole   OverwriteType = 0
	OverwriteMember OverwriteType = 1
)

// Overwrite is a channel permission overwrite for a role or member.
type Overwrite struct {
	ID    string
	Type  OverwriteType
	Allow uint64
	Deny  uint64
}

// Channel describes a channel to add to a guild.
type Channel struct {
	Name       string
	Type       ChannelType
	UserLimit  int    // voice and stage: 0 means unlimited
	Bitrate    int    // voice and stage: 0 means 64000
	ParentID   string // category, optional
	Topic      string
	Overwrites []Overwrite
}

// Role describes a role to add to a guild.
type Role struct {
	Name        string
	Permissions uint64
}

// User describes a scripted user.
type User struct {
	Username string
	Bot      bool
}

var (
	errUnknownGuild   = errors.New("discordtest: unknown guild")
	errUnknownChannel = errors.New("discordtest: unknown channel")
	errUnknownUser    = errors.New("discordtest: unknown user")
	errUnknownRole    = errors.New("discordtest: unknown role")
	errNotMember      = errors.New("discordtest: user is not a member of the guild")
	errBadChannel     = errors.New("discordtest: invalid channel description")
)

type user struct {
	ID       string
	Username string
	Bot      bool
}

type role struct {
	ID          string
	Name        string
	Permissions uint64
	Position    int
}

type channel struct {
	ID, GuildID string
	Channel
	Position      int
	lastMessageID string
	msgs          []*Message // in creation order
}

type member struct {
	UserID   string
	Roles    []string
	JoinedAt time.Time
}

type voiceState struct {
	UserID, ChannelID, SessionID string
	SelfMute, SelfDeaf           bool
	Suppress                     bool
	RequestToSpeak               *time.Time
	// owner is the bot's gateway session that joined (nil for scripted users):
	// Discord ties a voice session to the gateway session that opened it.
	owner *session
}

type guild struct {
	ID, Name, OwnerID string
	Created           time.Time
	roles             []*role
	channels          []*channel
	members           map[string]*member
	memberOrder       []string
	voice             map[string]*voiceState
	voiceToken        string
}

// world is the scripted state; every field is guarded by Server.mu.
type world struct {
	appID    string
	bot      *user
	users    map[string]*user
	guilds   map[string]*guild
	order    []string // guild IDs in creation order
	channels map[string]*channel
	messages map[string]*Message
	commands commandStore
	inters   map[string]*interaction // by interaction ID
	byToken  map[string]*interaction
}

func (w *world) init() {
	w.users = map[string]*user{}
	w.guilds = map[string]*guild{}
	w.channels = map[string]*channel{}
	w.messages = map[string]*Message{}
	w.commands.init()
	w.inters = map[string]*interaction{}
	w.byToken = map[string]*interaction{}
}

func (g *guild) role(id string) *role {
	for _, r := range g.roles {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// BotID returns the bot user's ID (also the application ID).
func (s *Server) BotID() string { return s.w.bot.ID }

// ApplicationID returns the application's ID.
func (s *Server) ApplicationID() string { return s.w.appID }

// AddUser makes a scripted user and returns its ID.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.snow.next()
	if u.Username == "" {
		u.Username = "user" + id[len(id)-4:]
	}
	s.w.users[id] = &user{ID: id, Username: u.Username, Bot: u.Bot}
	return id
}

// AddGuild makes a guild with an @everyone role holding
// DefaultEveryonePermissions, an owner user, and the bot as member; it
// dispatches GUILD_CREATE to a connected shard. It returns the guild ID.
func (s *Server) AddGuild(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.snow.nextGuild()
	ownerID := s.snow.next()
	s.w.users[ownerID] = &user{ID: ownerID, Username: name + "-owner"}
	g := &guild{
		ID: id, Name: name, OwnerID: ownerID, Created: time.Now().UTC(),
		members: map[string]*member{}, voice: map[string]*voiceState{},
	}
	// The @everyone role's ID is the guild's ID.
	g.roles = []*role{{ID: id, Name: "@everyone", Permissions: DefaultEveryonePermissions}}
	s.w.guilds[id] = g
	s.w.order = append(s.w.order, id)
	g.addMember(ownerID)
	g.addMember(s.w.bot.ID)
	s.dispatchGuildLocked(g, "GUILD_CREATE", s.guildCreateJSON(g, IntentGuildVoiceStates), IntentGuilds)
	s.notifyLocked()
	return id
}

// GuildOwner returns the ID of the guild's owner.
func (s *Server) GuildOwner(guildID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return "", errUnknownGuild
	}
	return g.OwnerID, nil
}

func (g *guild) addMember(userID string) *member {
	if m := g.members[userID]; m != nil {
		return m
	}
	m := &member{UserID: userID, JoinedAt: time.Now().UTC()}
	g.members[userID] = m
	g.memberOrder = append(g.memberOrder, userID)
	return m
}

// AddChannel adds a channel to a guild, dispatches CHANNEL_CREATE and returns
// its ID.
func (s *Server) AddChannel(guildID string, c Channel) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return "", errUnknownGuild
	}
	switch c.Type {
	case ChannelText, ChannelVoice, ChannelCategory, ChannelStage:
	default:
		return "", fmt.Errorf("%w: type %d", errBadChannel, c.Type)
	}
	if c.Name == "" || len(c.Name) > 100 || c.UserLimit < 0 || c.UserLimit > 99 {
		return "", fmt.Errorf("%w: name %q, user limit %d", errBadChannel, c.Name, c.UserLimit)
	}
	if c.Type.isVoice() && c.Bitrate == 0 {
		c.Bitrate = 64000
	}
	c.Overwrites = slices.Clone(c.Overwrites)
	ch := &channel{ID: s.snow.next(), GuildID: guildID, Channel: c, Position: len(g.channels)}
	g.channels = append(g.channels, ch)
	s.w.channels[ch.ID] = ch
	s.dispatchGuildLocked(g, "CHANNEL_CREATE", s.channelJSON(ch, true), IntentGuilds)
	s.notifyLocked()
	return ch.ID, nil
}

// SetOverwrites replaces a channel's permission overwrites and dispatches
// CHANNEL_UPDATE.
func (s *Server) SetOverwrites(channelID string, ows ...Overwrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.w.channels[channelID]
	if ch == nil {
		return errUnknownChannel
	}
	ch.Overwrites = slices.Clone(ows)
	s.dispatchGuildLocked(s.w.guilds[ch.GuildID], "CHANNEL_UPDATE", s.channelJSON(ch, true), IntentGuilds)
	s.notifyLocked()
	return nil
}

// AddRole adds a role to a guild, dispatches GUILD_ROLE_CREATE and returns
// its ID.
func (s *Server) AddRole(guildID string, r Role) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return "", errUnknownGuild
	}
	ro := &role{ID: s.snow.next(), Name: r.Name, Permissions: r.Permissions, Position: len(g.roles)}
	g.roles = append(g.roles, ro)
	s.dispatchGuildLocked(g, "GUILD_ROLE_CREATE", map[string]any{"guild_id": g.ID, "role": roleJSON(ro)}, IntentGuilds)
	s.notifyLocked()
	return ro.ID, nil
}

// SetRolePermissions changes a role's permissions (the @everyone role's ID
// is the guild's ID) and dispatches GUILD_ROLE_UPDATE.
func (s *Server) SetRolePermissions(guildID, roleID string, perms uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return errUnknownGuild
	}
	r := g.role(roleID)
	if r == nil {
		return errUnknownRole
	}
	r.Permissions = perms
	s.dispatchGuildLocked(g, "GUILD_ROLE_UPDATE", map[string]any{"guild_id": g.ID, "role": roleJSON(r)}, IntentGuilds)
	s.notifyLocked()
	return nil
}

// AddMember makes a user a member of a guild with the given roles and
// dispatches GUILD_MEMBER_ADD (GUILD_MEMBERS intent).
func (s *Server) AddMember(guildID, userID string, roleIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return errUnknownGuild
	}
	u := s.w.users[userID]
	if u == nil {
		return errUnknownUser
	}
	for _, r := range roleIDs {
		if g.role(r) == nil || r == g.ID {
			return fmt.Errorf("%w: %s", errUnknownRole, r)
		}
	}
	existed := g.members[userID] != nil
	m := g.addMember(userID)
	m.Roles = slices.Clone(roleIDs)
	ev := s.memberJSON(g, m)
	ev["guild_id"] = g.ID
	if existed {
		s.dispatchGuildLocked(g, "GUILD_MEMBER_UPDATE", ev, IntentGuildMembers)
	} else {
		s.dispatchGuildLocked(g, "GUILD_MEMBER_ADD", ev, IntentGuildMembers)
	}
	s.notifyLocked()
	return nil
}

// Permissions returns a member's computed permissions in a channel, or in
// the guild when channelID is empty.
func (s *Server) Permissions(guildID, channelID, userID string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return 0, errUnknownGuild
	}
	var ch *channel
	if channelID != "" {
		ch = s.w.channels[channelID]
		if ch == nil || ch.GuildID != guildID {
			return 0, errUnknownChannel
		}
	}
	return g.permissions(ch, userID)
}

// permissions follows
// https://discord.com/developers/docs/topics/permissions#permission-overwrites.
func (g *guild) permissions(ch *channel, userID string) (uint64, error) {
	m := g.members[userID]
	if m == nil {
		return 0, errNotMember
	}
	if userID == g.OwnerID {
		return PermAll, nil
	}
	perms := g.roles[0].Permissions
	for _, id := range m.Roles {
		if r := g.role(id); r != nil {
			perms |= r.Permissions
		}
	}
	if perms&PermAdministrator != 0 {
		return PermAll, nil
	}
	if ch == nil {
		return perms, nil
	}
	apply := func(allow, deny uint64) { perms = perms&^deny | allow }
	for _, o := range ch.Overwrites {
		if o.Type == OverwriteRole && o.ID == g.ID {
			apply(o.Allow, o.Deny)
		}
	}
	var allow, deny uint64
	for _, o := range ch.Overwrites {
		if o.Type == OverwriteRole && o.ID != g.ID && slices.Contains(m.Roles, o.ID) {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	apply(allow, deny)
	for _, o := range ch.Overwrites {
		if o.Type == OverwriteMember && o.ID == userID {
			apply(o.Allow, o.Deny)
		}
	}
	// A member who cannot see a channel has no permission in it.
	if perms&PermViewChannel == 0 {
		return 0, nil
	}
	return perms, nil
}

// guildsOfShardLocked lists the guilds a shard owns, in creation order.
func (s *Server) guildsOfShardLocked(shard, count int) []*guild {
	var out []*guild
	for _, id := range s.w.order {
		if ShardOf(id, count) == shard {
			out = append(out, s.w.guilds[id])
		}
	}
	return out
}

// timestamp formats t the way Discord does: ISO 8601 with microseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

func permString(p uint64) string { return strconv.FormatUint(p, 10) }

// DeleteChannel deletes a channel: users in it (the bot included) are
// disconnected from voice (VOICE_STATE_UPDATE, null channel), then
// CHANNEL_DELETE is dispatched.
func (s *Server) DeleteChannel(channelID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.w.channels[channelID]
	if ch == nil {
		return errUnknownChannel
	}
	g := s.w.guilds[ch.GuildID]
	for _, uid := range g.memberOrder {
		if vs := g.voice[uid]; vs != nil && vs.ChannelID == ch.ID {
			s.leaveVoiceLocked(g, uid)
		}
	}
	g.channels = slices.DeleteFunc(g.channels, func(c *channel) bool { return c.ID == ch.ID })
	delete(s.w.channels, ch.ID)
	s.dispatchGuildLocked(g, "CHANNEL_DELETE", s.channelJSON(ch, true), IntentGuilds)
	s.notifyLocked()
	return nil
}

// RemoveBot removes the bot from a guild, as a kick or ban does: its
// sessions get GUILD_DELETE (unavailable absent) and the guild no longer
// reaches it; the guild's state is forgotten.
func (s *Server) RemoveBot(guildID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.w.guilds[guildID]
	if g == nil {
		return errUnknownGuild
	}
	s.dispatchGuildLocked(g, "GUILD_DELETE", map[string]any{"id": g.ID}, IntentGuilds)
	for _, ch := range g.channels {
		delete(s.w.channels, ch.ID)
	}
	delete(s.w.guilds, g.ID)
	s.w.order = slices.DeleteFunc(s.w.order, func(id string) bool { return id == g.ID })
	delete(s.w.commands.guild, g.ID)
	s.notifyLocked()
	return nil
}
