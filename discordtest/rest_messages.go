package discordtest

import (
	"encoding/json"
	"strconv"
	"time"
)

// allowedFlags are the message flags a bot may set on a response
// (suppress embeds, ephemeral, suppress notifications, components v2).
const allowedFlags = FlagSuppressEmbeds | FlagEphemeral | 1<<12 | 1<<15

// channelFlags are the flags a bot may set on a channel message: those of a
// response but ephemeral.
const channelFlags = allowedFlags &^ FlagEphemeral

// checkPayload validates a message payload as Discord does, in its order:
// the fields (prefix is the payload's path in the request body), then the
// flags against allowed.
func checkPayload(prefix []string, p *messagePayload, allowed int) *apiError {
	if e := p.validate(prefix); e != nil {
		return e
	}
	if p.Flags != nil && *p.Flags&^allowed != 0 {
		f := formErrors{}
		f.add(join(prefix, "flags"), "MESSAGE_FLAGS_INVALID", "Invalid flags")
		return formError(f)
	}
	return nil
}

// checkShows refuses p when the message it leaves (base with p applied;
// base nil for a new message) has nothing to show.
func checkShows(base *Message, p *messagePayload) *apiError {
	probe := &Message{}
	if base != nil {
		probe = base.clone()
	}
	p.apply(probe)
	if probe.empty() {
		return errEmptyMessage
	}
	return nil
}

// checkNewMessage validates p as a new message: checkPayload, then
// checkShows.
func checkNewMessage(p *messagePayload, allowed int) *apiError {
	if e := checkPayload(nil, p, allowed); e != nil {
		return e
	}
	return checkShows(nil, p)
}

func flagsOf(p *messagePayload) int {
	if p.Flags == nil {
		return 0
	}
	return *p.Flags & allowedFlags
}

func (s *Server) interactionMessageLocked(it *interaction, p *messagePayload, flags int) *Message {
	ch := s.w.channels[it.channelID]
	m := s.newMessageLocked(ch, p, flags)
	m.WebhookID = s.w.appID
	m.ApplicationID = s.w.appID
	m.InteractionMetadata = &MessageInteractionMetadata{ID: it.id, Type: it.typ,
		User: s.w.users[it.userID].object(), Name: it.name}
	if it.typ == InteractionCommand {
		m.Type = MessageChatInputCommand
	}
	return m
}

type callbackBody struct {
	Type *int            `json:"type"`
	Data *messagePayload `json:"data"`
}

// postCallback answers POST /interactions/{id}/{token}/callback
// (https://discord.com/developers/docs/interactions/receiving-and-responding#create-interaction-response).
func (s *Server) postCallback(q *request) (int, any, *apiError) {
	var body callbackBody
	raw, files, e := q.jsonBody()
	if e != nil {
		return 0, nil, e
	}
	if json.Unmarshal(raw, &body) != nil {
		return 0, nil, errInvalidJSON
	}
	if body.Data != nil {
		body.Data.files = files
	}
	if body.Type == nil {
		f := formErrors{}
		f.add([]string{"type"}, "BASE_TYPE_REQUIRED", "This field is required")
		return 0, nil, formError(f)
	}
	data := body.Data
	if data == nil {
		data = &messagePayload{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.w.inters[q.path("id")]
	if it == nil || it.token != q.path("token") || time.Since(it.created) > s.cfg.InteractionTimeout {
		return 0, nil, errUnknownInterAPI
	}
	if it.cb != nil {
		return 0, nil, errAcknowledged
	}
	if s.w.channels[it.channelID] == nil {
		return 0, nil, errUnknownChannelAPI // deleted since
	}
	typ := *body.Type
	if !callbackAllowed[it.typ][typ] {
		f := formErrors{}
		f.add([]string{"type"}, "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid for this interaction")
		return 0, nil, formError(f)
	}
	if e := checkPayload([]string{"data"}, data, allowedFlags); e != nil {
		return 0, nil, e
	}
	cb := &Callback{Type: typ, Flags: flagsOf(data), CustomID: data.CustomID, Title: data.Title, At: time.Now()}
	var msg *Message
	switch typ {
	case CallbackChannelMessage:
		if e := checkShows(nil, data); e != nil {
			return 0, nil, e
		}
		msg = s.interactionMessageLocked(it, data, flagsOf(data))
		it.originalID = msg.ID
	case CallbackDeferredChannelMessage:
		msg = s.interactionMessageLocked(it, &messagePayload{}, FlagLoading|flagsOf(data)&FlagEphemeral)
		it.originalID = msg.ID
	case CallbackDeferredUpdateMessage:
		msg = s.w.messages[it.messageID]
		it.originalID = msg.ID
		it.origEdits = msg.Edits
	case CallbackUpdateMessage:
		msg = s.w.messages[it.messageID]
		data.apply(msg)
		s.editedLocked(msg)
		it.originalID = msg.ID
		it.origEdits = msg.Edits
	case CallbackAutocompleteResult:
		if data.Choices == nil {
			f := formErrors{}
			f.add([]string{"data", "choices"}, "BASE_TYPE_REQUIRED", "This field is required")
			return 0, nil, formError(f)
		}
		cb.Choices = append([]Choice{}, *data.Choices...)
	case CallbackModal:
		if data.CustomID == "" || data.Title == "" {
			f := formErrors{}
			f.add([]string{"data"}, "BASE_TYPE_REQUIRED", "custom_id and title are required")
			return 0, nil, formError(f)
		}
	}
	if msg != nil {
		cb.Content = msg.Content
		cb.Embeds = append([]Embed(nil), msg.Embeds...)
		cb.Components = append([]Component(nil), msg.Components...)
	}
	it.cb = cb
	s.notifyLocked()
	if q.r.URL.Query().Get("with_response") != "true" {
		return 204, nil, nil
	}
	resp := map[string]any{"interaction": map[string]any{
		"id": it.id, "type": it.typ, "activity_instance_id": nil,
		"response_message_id":        nilIfEmpty(it.originalID),
		"response_message_loading":   typ == CallbackDeferredChannelMessage,
		"response_message_ephemeral": msg != nil && msg.Ephemeral(),
	}}
	if msg != nil {
		resp["resource"] = map[string]any{"type": typ, "message": msg}
	} else {
		resp["resource"] = map[string]any{"type": typ}
	}
	return 200, resp, nil
}

func (s *Server) editedLocked(m *Message) {
	m.Edits++
	ts := timestamp(time.Now())
	m.EditedTimestamp = &ts
	s.messageEventLocked(m, "MESSAGE_UPDATE")
	s.notifyLocked()
}

// webhookLocked finds the interaction of a webhook route.
func (s *Server) webhookLocked(q *request) (*interaction, *apiError) {
	it := s.w.byToken[q.path("token")]
	if it == nil || q.path("app") != s.w.appID {
		return nil, errUnknownWebhookAPI
	}
	if time.Since(it.created) > webhookTokenLife {
		return nil, errWebhookTokenExpire
	}
	return it, nil
}

// postFollowup answers POST /webhooks/{app}/{token} (a follow-up). After a
// deferred response, the first follow-up fills the loading message.
func (s *Server) postFollowup(q *request) (int, any, *apiError) {
	p, e := q.decodeMessage()
	if e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.webhookLocked(q)
	if e != nil {
		return 0, nil, e
	}
	if it.cb == nil {
		return 0, nil, errUnknownWebhookAPI
	}
	if s.w.channels[it.channelID] == nil {
		return 0, nil, errUnknownChannelAPI
	}
	if e := checkNewMessage(p, allowedFlags); e != nil {
		return 0, nil, e
	}
	var m *Message
	if orig := s.w.messages[it.originalID]; it.cb.Type == CallbackDeferredChannelMessage && orig != nil && orig.Flags&FlagLoading != 0 {
		p.apply(orig)
		orig.Flags &^= FlagLoading
		s.messageEventLocked(orig, "MESSAGE_UPDATE")
		m = orig
	} else {
		m = s.interactionMessageLocked(it, p, flagsOf(p))
		m.Type = MessageDefault
	}
	it.followups = append(it.followups, m.ID)
	s.notifyLocked()
	if q.r.URL.Query().Get("wait") != "true" {
		return 204, nil, nil
	}
	return 200, m, nil
}

// webhookMessageLocked resolves {msg} (an ID or @original) of an interaction.
func (s *Server) webhookMessageLocked(q *request) (*Message, *apiError) {
	it, e := s.webhookLocked(q)
	if e != nil {
		return nil, e
	}
	id := q.path("msg")
	if id == "@original" {
		id = it.originalID
	} else if id != it.originalID && !containsString(it.followups, id) {
		return nil, errUnknownMessageAPI
	}
	m := s.w.messages[id]
	if m == nil || m.Deleted {
		return nil, errUnknownMessageAPI
	}
	return m, nil
}

func (s *Server) getWebhookMessage(q *request) (int, any, *apiError) {
	return s.getMessageWith(q, s.webhookMessageLocked)
}

func (s *Server) editWebhookMessage(q *request) (int, any, *apiError) {
	return s.editMessageWith(q, s.webhookMessageLocked)
}

func (s *Server) deleteWebhookMessage(q *request) (int, any, *apiError) {
	return s.deleteMessageWith(q, s.webhookMessageLocked)
}

// A messageFinder resolves the message of a route; it runs under s.mu.
type messageFinder func(q *request) (*Message, *apiError)

// getMessageWith answers a GET of the message find resolves.
func (s *Server) getMessageWith(q *request, find messageFinder) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := find(q)
	if e != nil {
		return 0, nil, e
	}
	return 200, m, nil
}

// editMessageWith answers a PATCH of the message find resolves: the body is
// read first, then the message found, then the edit validated and applied.
func (s *Server) editMessageWith(q *request, find messageFinder) (int, any, *apiError) {
	p, e := q.decodeMessage()
	if e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := find(q)
	if e != nil {
		return 0, nil, e
	}
	if e := p.validate(nil); e != nil {
		return 0, nil, e
	}
	if e := checkShows(m, p); e != nil {
		return 0, nil, e
	}
	p.apply(m)
	if m.Flags&FlagLoading != 0 {
		// Editing a deferred response delivers it; it is not an edit.
		m.Flags &^= FlagLoading
		s.messageEventLocked(m, "MESSAGE_UPDATE")
		s.notifyLocked()
	} else {
		s.editedLocked(m)
	}
	return 200, m, nil
}

// deleteMessageWith answers a DELETE of the message find resolves.
func (s *Server) deleteMessageWith(q *request, find messageFinder) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := find(q)
	if e != nil {
		return 0, nil, e
	}
	s.deleteLocked(m)
	return 204, nil, nil
}

func (s *Server) deleteLocked(m *Message) {
	m.Deleted = true
	s.messageEventLocked(m, "MESSAGE_DELETE")
	s.notifyLocked()
}

// channelLocked resolves {channel} for the bot, which needs View Channel
// (plus the extra permissions in need).
func (s *Server) channelLocked(q *request, need uint64) (*channel, *apiError) {
	ch := s.w.channels[q.path("channel")]
	if ch == nil {
		return nil, errUnknownChannelAPI
	}
	perms, err := s.w.guilds[ch.GuildID].permissions(ch, s.w.bot.ID)
	if err != nil || perms&PermViewChannel == 0 {
		return nil, errMissingAccess
	}
	if perms&need != need {
		return nil, errMissingPermissions
	}
	return ch, nil
}

func (s *Server) getChannel(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, e := s.channelLocked(q, 0)
	if e != nil {
		return 0, nil, e
	}
	return 200, s.channelJSON(ch, true), nil
}

func (s *Server) postMessage(q *request) (int, any, *apiError) {
	p, e := q.decodeMessage()
	if e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, e := s.channelLocked(q, PermSendMessages)
	if e != nil {
		return 0, nil, e
	}
	if ch.Type == ChannelCategory {
		return 0, nil, errNonTextChannel
	}
	if e := checkNewMessage(p, channelFlags); e != nil {
		return 0, nil, e
	}
	m := s.newMessageLocked(ch, p, flagsOf(p))
	return 200, m, nil
}

func (s *Server) listMessages(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, e := s.channelLocked(q, 0)
	if e != nil {
		return 0, nil, e
	}
	limit := 50
	if v := q.r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			f := formErrors{}
			f.add([]string{"limit"}, "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
			return 0, nil, formError(f)
		}
		limit = n
	}
	all := s.messagesLocked(ch.ID)
	out := []*Message{}
	for k := len(all) - 1; k >= 0 && len(out) < limit; k-- {
		if !all[k].Deleted && !all[k].Ephemeral() {
			out = append(out, all[k])
		}
	}
	return 200, out, nil
}

func (s *Server) channelMessageLocked(q *request, need uint64) (*Message, *apiError) {
	ch, e := s.channelLocked(q, need)
	if e != nil {
		return nil, e
	}
	m := s.w.messages[q.path("msg")]
	if m == nil || m.Deleted || m.ChannelID != ch.ID || m.Ephemeral() {
		return nil, errUnknownMessageAPI
	}
	return m, nil
}

func (s *Server) getMessage(q *request) (int, any, *apiError) {
	return s.getMessageWith(q, func(q *request) (*Message, *apiError) {
		return s.channelMessageLocked(q, PermReadMessageHistory)
	})
}

func (s *Server) editMessage(q *request) (int, any, *apiError) {
	return s.editMessageWith(q, func(q *request) (*Message, *apiError) {
		m, e := s.channelMessageLocked(q, 0)
		if e == nil && m.Author.ID != s.w.bot.ID {
			return nil, &apiError{status: 403, code: codeCannotEditOther, message: "Cannot edit a message authored by another user"}
		}
		return m, e
	})
}

func (s *Server) deleteMessage(q *request) (int, any, *apiError) {
	return s.deleteMessageWith(q, func(q *request) (*Message, *apiError) {
		return s.channelMessageLocked(q, 0)
	})
}

func (s *Server) guildLocked(q *request) (*guild, *apiError) {
	g := s.w.guilds[q.path("guild")]
	if g == nil {
		return nil, errUnknownGuildAPI
	}
	if g.members[s.w.bot.ID] == nil {
		return nil, errMissingAccess
	}
	return g, nil
}

func (s *Server) getGuild(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildLocked(q)
	if e != nil {
		return 0, nil, e
	}
	return 200, s.guildJSON(g), nil
}

func (s *Server) getGuildChannels(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildLocked(q)
	if e != nil {
		return 0, nil, e
	}
	out := make([]map[string]any, 0, len(g.channels))
	for _, ch := range g.channels {
		out = append(out, s.channelJSON(ch, true))
	}
	return 200, out, nil
}

func (s *Server) getGuildRoles(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildLocked(q)
	if e != nil {
		return 0, nil, e
	}
	out := make([]map[string]any, 0, len(g.roles))
	for _, r := range g.roles {
		out = append(out, roleJSON(r))
	}
	return 200, out, nil
}

// guildUserLocked resolves {guild} and {user} of a route; @me is the bot.
func (s *Server) guildUserLocked(q *request) (*guild, string, *apiError) {
	g, e := s.guildLocked(q)
	if e != nil {
		return nil, "", e
	}
	uid := q.path("user")
	if uid == "@me" {
		uid = s.w.bot.ID
	}
	return g, uid, nil
}

func (s *Server) getMember(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, uid, e := s.guildUserLocked(q)
	if e != nil {
		return 0, nil, e
	}
	m := g.members[uid]
	if m == nil {
		if s.w.users[uid] == nil {
			return 0, nil, errUnknownUserAPI
		}
		return 0, nil, errUnknownMemberAPI
	}
	return 200, s.memberJSON(g, m), nil
}

func (s *Server) getVoiceState(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, uid, e := s.guildUserLocked(q)
	if e != nil {
		return 0, nil, e
	}
	vs := g.voice[uid]
	if vs == nil {
		return 0, nil, errUnknownVoiceAPI
	}
	return 200, s.voiceStateJSON(g, vs, true), nil
}

func (s *Server) patchVoiceState(q *request) (int, any, *apiError) {
	var body struct {
		ChannelID      *string         `json:"channel_id"`
		Suppress       *bool           `json:"suppress"`
		RequestToSpeak json.RawMessage `json:"request_to_speak_timestamp"`
	}
	if json.Unmarshal(q.body, &body) != nil {
		return 0, nil, errInvalidJSON
	}
	var req *string
	if len(body.RequestToSpeak) > 0 {
		v := ""
		if string(body.RequestToSpeak) != "null" {
			v = "now"
		}
		req = &v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildLocked(q)
	if e != nil {
		return 0, nil, e
	}
	if e := s.setSuppressLocked(g, s.w.bot.ID, body.Suppress, req); e != nil {
		return 0, nil, e
	}
	return 204, nil, nil
}
