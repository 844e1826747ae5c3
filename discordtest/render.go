package discordtest

// Discord-shaped JSON objects of the world
// (https://discord.com/developers/docs/resources/guild,
// resources/channel, topics/permissions#role-object, resources/voice).

func roleJSON(r *role) map[string]any {
	return map[string]any{
		"id": r.ID, "name": r.Name, "color": 0, "hoist": false, "icon": nil,
		"unicode_emoji": nil, "position": r.Position, "permissions": permString(r.Permissions),
		"managed": false, "mentionable": false, "flags": 0,
	}
}

func (s *Server) channelJSON(ch *channel, withGuild bool) map[string]any {
	ows := make([]map[string]any, 0, len(ch.Overwrites))
	for _, o := range ch.Overwrites {
		ows = append(ows, map[string]any{
			"id": o.ID, "type": int(o.Type), "allow": permString(o.Allow), "deny": permString(o.Deny),
		})
	}
	m := map[string]any{
		"id": ch.ID, "type": int(ch.Type), "name": ch.Name, "position": ch.Position,
		"permission_overwrites": ows, "nsfw": false, "flags": 0,
	}
	if ch.ParentID != "" {
		m["parent_id"] = ch.ParentID
	} else {
		m["parent_id"] = nil
	}
	if withGuild {
		m["guild_id"] = ch.GuildID
	}
	switch ch.Type {
	case ChannelText:
		m["topic"] = nilIfEmpty(ch.Topic)
		m["last_message_id"] = nilIfEmpty(ch.lastMessageID)
		m["rate_limit_per_user"] = 0
	case ChannelVoice, ChannelStage:
		m["bitrate"] = ch.Bitrate
		m["user_limit"] = ch.UserLimit
		m["rtc_region"] = nil
		m["last_message_id"] = nilIfEmpty(ch.lastMessageID)
		m["rate_limit_per_user"] = 0
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) memberJSON(g *guild, m *member) map[string]any {
	roles := m.Roles
	if roles == nil {
		roles = []string{}
	}
	u := s.w.users[m.UserID]
	return map[string]any{
		"user": u.object(), "nick": nil, "avatar": nil, "banner": nil, "roles": roles,
		"joined_at": timestamp(m.JoinedAt), "premium_since": nil, "deaf": false, "mute": false,
		"flags": 0, "pending": false, "communication_disabled_until": nil,
	}
}

func (s *Server) voiceStateJSON(g *guild, vs *voiceState, withGuild bool) map[string]any {
	v := map[string]any{
		"channel_id": nilIfEmpty(vs.ChannelID), "user_id": vs.UserID, "session_id": vs.SessionID,
		"deaf": false, "mute": false, "self_deaf": vs.SelfDeaf, "self_mute": vs.SelfMute,
		"self_video": false, "suppress": vs.Suppress, "request_to_speak_timestamp": nil,
	}
	if vs.RequestToSpeak != nil {
		v["request_to_speak_timestamp"] = timestamp(*vs.RequestToSpeak)
	}
	if withGuild {
		v["guild_id"] = g.ID
		if m := g.members[vs.UserID]; m != nil {
			v["member"] = s.memberJSON(g, m)
		}
	}
	return v
}

// guildJSON is the REST guild object (GET /guilds/{id}).
func (s *Server) guildJSON(g *guild) map[string]any {
	roles := make([]map[string]any, 0, len(g.roles))
	for _, r := range g.roles {
		roles = append(roles, roleJSON(r))
	}
	return map[string]any{
		"id": g.ID, "name": g.Name, "icon": nil, "splash": nil, "discovery_splash": nil,
		"owner_id": g.OwnerID, "afk_channel_id": nil, "afk_timeout": 300,
		"verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
		"roles": roles, "emojis": []any{}, "features": []string{}, "mfa_level": 0,
		"application_id": nil, "system_channel_id": nil, "system_channel_flags": 0,
		"rules_channel_id": nil, "vanity_url_code": nil, "description": nil, "banner": nil,
		"premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": nil,
		"nsfw_level": 0, "stickers": []any{}, "premium_progress_bar_enabled": false,
		"safety_alerts_channel_id": nil, "max_members": 500000,
	}
}

// guildCreateJSON is the gateway GUILD_CREATE object: the REST guild plus
// channels, members and voice states (the latter only with the
// GUILD_VOICE_STATES intent).
func (s *Server) guildCreateJSON(g *guild, intents uint64) map[string]any {
	m := s.guildJSON(g)
	chans := make([]map[string]any, 0, len(g.channels))
	for _, ch := range g.channels {
		chans = append(chans, s.channelJSON(ch, false))
	}
	members := make([]map[string]any, 0, len(g.memberOrder))
	for _, id := range g.memberOrder {
		members = append(members, s.memberJSON(g, g.members[id]))
	}
	vss := []map[string]any{}
	if intents&IntentGuildVoiceStates != 0 {
		for _, id := range g.memberOrder {
			if vs := g.voice[id]; vs != nil {
				vss = append(vss, s.voiceStateJSON(g, vs, false))
			}
		}
	}
	m["joined_at"] = timestamp(g.Created)
	m["large"] = false
	m["unavailable"] = false
	m["member_count"] = len(g.members)
	m["channels"] = chans
	m["threads"] = []any{}
	m["members"] = members
	m["voice_states"] = vss
	m["presences"] = []any{}
	m["stage_instances"] = []any{}
	m["guild_scheduled_events"] = []any{}
	m["soundboard_sounds"] = []any{}
	return m
}
