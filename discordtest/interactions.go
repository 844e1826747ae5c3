package discordtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Option is an option value a scripted user gives to a slash command.
type Option struct {
	Name    string
	Type    int // OptionString etc.; 0 takes the type the command declares
	Value   any
	Focused bool
	Options []Option // for subcommands and groups
}

// StringOption is a string option.
func StringOption(name, v string) Option { return Option{Name: name, Type: OptionString, Value: v} }

// IntegerOption is an integer option.
func IntegerOption(name string, v int64) Option {
	return Option{Name: name, Type: OptionInteger, Value: v}
}

// NumberOption is a number option.
func NumberOption(name string, v float64) Option {
	return Option{Name: name, Type: OptionNumber, Value: v}
}

// BooleanOption is a boolean option.
func BooleanOption(name string, v bool) Option {
	return Option{Name: name, Type: OptionBoolean, Value: v}
}

// UserOption names a user; the interaction resolves it.
func UserOption(name, userID string) Option {
	return Option{Name: name, Type: OptionUser, Value: userID}
}

// ChannelOption names a channel; the interaction resolves it.
func ChannelOption(name, channelID string) Option {
	return Option{Name: name, Type: OptionChannel, Value: channelID}
}

// RoleOption names a role; the interaction resolves it.
func RoleOption(name, roleID string) Option {
	return Option{Name: name, Type: OptionRole, Value: roleID}
}

// SubcommandOption invokes a subcommand with its options.
func SubcommandOption(name string, opts ...Option) Option {
	return Option{Name: name, Type: OptionSubcommand, Options: opts}
}

// GroupOption invokes a subcommand of a group.
func GroupOption(name string, sub Option) Option {
	return Option{Name: name, Type: OptionSubcommandGroup, Options: []Option{sub}}
}

// Focus marks the option the user is typing in, for Autocomplete.
func (o Option) Focus() Option { o.Focused = true; return o }

var (
	errUnknownCommand   = errors.New("discordtest: no such command registered for the guild")
	errBadOption        = errors.New("discordtest: option does not fit the command")
	errNoSession        = errors.New("discordtest: no gateway session receives the guild")
	errDidNotRespond    = errors.New("discordtest: the application did not respond in time")
	errNoMessage        = errors.New("discordtest: the callback carries no message")
	errUnknownMessage   = errors.New("discordtest: unknown message")
	errNoComponent      = errors.New("discordtest: message has no such enabled component")
	errNoChannelAccess  = errors.New("discordtest: user cannot use commands in the channel")
	errCommandForbidden = errors.New("discordtest: user lacks the command's default member permissions")
	errMessageDeleted   = errors.New("discordtest: the response message was deleted")
)

// Callback is how the bot answered an interaction.
type Callback struct {
	Type       int
	Content    string
	Embeds     []Embed
	Components []Component
	Flags      int
	Choices    []Choice
	CustomID   string // modal
	Title      string // modal
	At         time.Time
}

type interaction struct {
	id, token                  string
	typ                        int
	guildID, channelID, userID string
	name                       string
	created                    time.Time
	messageID                  string // component interactions: the clicked message
	cb                         *Callback
	originalID                 string
	origEdits                  int
	followups                  []string
}

// Interaction is a test's handle on an interaction it created.
type Interaction struct {
	ID, Token                  string
	Type                       int
	GuildID, ChannelID, UserID string
	srv                        *Server
	it                         *interaction
}

func newToken() string { return "aW50ZXJhY3Rpb24" + newSessionID() + newSessionID() }

// InvokeCommand makes a user run a slash command in a guild channel: it
// dispatches INTERACTION_CREATE (type 2) with resolved data, the member
// with permissions, an ID and a token to the guild's shard. The command
// must be registered (globally or for the guild) and the options must fit
// it, as a Discord client would ensure.
func (s *Server) InvokeCommand(ctx context.Context, guildID, channelID, userID, name string, options ...Option) (*Interaction, error) {
	return s.invoke(ctx, InteractionCommand, guildID, channelID, userID, name, options)
}

// Autocomplete makes a user type into a command option (the one marked
// with Focus): INTERACTION_CREATE type 4. Read the answer with Choices.
func (s *Server) Autocomplete(ctx context.Context, guildID, channelID, userID, name string, options ...Option) (*Interaction, error) {
	return s.invoke(ctx, InteractionAutocomplete, guildID, channelID, userID, name, options)
}

func (s *Server) invoke(ctx context.Context, typ int, guildID, channelID, userID, name string, options []Option) (*Interaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ch, err := s.interactionPlaceLocked(guildID, channelID, userID)
	if err != nil {
		return nil, err
	}
	cmd := s.w.commands.find(guildID, name, 1)
	if cmd == nil {
		return nil, fmt.Errorf("%w: /%s", errUnknownCommand, name)
	}
	if cmd.DefaultMemberPermissions != nil {
		need, _ := strconv.ParseUint(*cmd.DefaultMemberPermissions, 10, 64)
		perms, _ := g.permissions(ch, userID)
		if perms&need != need {
			return nil, fmt.Errorf("%w: /%s", errCommandForbidden, name)
		}
	}
	resolved := newResolved()
	opts, err := s.buildOptionsLocked(g, ch, cmd.Options, options, typ == InteractionAutocomplete, resolved)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", name, err)
	}
	data := map[string]any{"id": cmd.ID, "name": cmd.Name, "type": cmd.Type, "guild_id": guildID}
	if len(opts) > 0 {
		data["options"] = opts
	}
	if !resolved.empty() {
		data["resolved"] = resolved.json()
	}
	if cmd.GuildID == "" {
		delete(data, "guild_id")
	}
	it := &interaction{typ: typ, guildID: guildID, channelID: channelID, userID: userID, name: name}
	return s.startInteractionLocked(g, ch, it, data, nil)
}

// ClickButton makes a user click the button with customID on a message the
// bot sent: INTERACTION_CREATE type 3 with the message attached.
func (s *Server) ClickButton(ctx context.Context, messageID, customID, userID string) (*Interaction, error) {
	return s.component(ctx, messageID, customID, userID, nil)
}

// SelectMenu makes a user choose values in a select menu of a message.
func (s *Server) SelectMenu(ctx context.Context, messageID, customID, userID string, values ...string) (*Interaction, error) {
	if values == nil {
		values = []string{}
	}
	return s.component(ctx, messageID, customID, userID, values)
}

func (s *Server) component(ctx context.Context, messageID, customID, userID string, values []string) (*Interaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.messages[messageID]
	if m == nil || m.Deleted {
		return nil, errUnknownMessage
	}
	g, ch, err := s.interactionPlaceLocked(m.GuildID, m.ChannelID, userID)
	if err != nil {
		return nil, err
	}
	if m.Ephemeral() {
		// Only the user an ephemeral message was shown to can click it.
		if m.InteractionMetadata == nil || m.InteractionMetadata.User.ID != userID {
			return nil, errUnknownMessage
		}
	}
	var comp *Component
	var walk func([]Component)
	walk = func(cs []Component) {
		for i := range cs {
			if cs[i].CustomID == customID && !cs[i].Disabled && cs[i].Type != 1 {
				comp = &cs[i]
			}
			walk(cs[i].Components)
		}
	}
	walk(m.Components)
	if comp == nil || (values != nil) == (comp.Type == 2) {
		return nil, fmt.Errorf("%w: %q", errNoComponent, customID)
	}
	data := map[string]any{"custom_id": customID, "component_type": comp.Type}
	if values != nil {
		data["values"] = values
	}
	it := &interaction{typ: InteractionComponent, guildID: m.GuildID, channelID: m.ChannelID,
		userID: userID, messageID: m.ID}
	return s.startInteractionLocked(g, ch, it, data, m)
}

func (s *Server) interactionPlaceLocked(guildID, channelID, userID string) (*guild, *channel, error) {
	g := s.w.guilds[guildID]
	if g == nil {
		return nil, nil, errUnknownGuild
	}
	ch := s.w.channels[channelID]
	if ch == nil || ch.GuildID != guildID {
		return nil, nil, errUnknownChannel
	}
	perms, err := g.permissions(ch, userID)
	if err != nil {
		return nil, nil, err
	}
	if perms&PermViewChannel == 0 || perms&PermUseApplicationCommands == 0 {
		return nil, nil, errNoChannelAccess
	}
	return g, ch, nil
}

func (s *Server) startInteractionLocked(g *guild, ch *channel, it *interaction, data map[string]any, msg *Message) (*Interaction, error) {
	sess := s.sessionForGuildLocked(g.ID)
	if sess == nil {
		return nil, errNoSession
	}
	it.id = s.snow.next()
	it.token = newToken()
	it.created = time.Now()
	perms, _ := g.permissions(ch, it.userID)
	botPerms, _ := g.permissions(ch, s.w.bot.ID)
	member := s.memberJSON(g, g.members[it.userID])
	member["permissions"] = permString(perms)
	payload := map[string]any{
		"id": it.id, "application_id": s.w.appID, "type": it.typ, "data": data,
		"guild_id": g.ID, "channel_id": ch.ID, "member": member, "token": it.token, "version": 1,
		"app_permissions": permString(botPerms), "locale": "en-US", "guild_locale": "en-US",
		"entitlements": []any{}, "authorizing_integration_owners": map[string]string{"0": g.ID},
		"context": 0, "attachment_size_limit": 10 << 20,
		"guild":   map[string]any{"id": g.ID, "locale": "en-US", "features": []string{}},
		"channel": s.channelJSON(ch, true),
	}
	if msg != nil {
		payload["message"] = msg
	}
	s.w.inters[it.id] = it
	s.w.byToken[it.token] = it
	s.emitLocked(sess, "INTERACTION_CREATE", mustJSON(payload))
	s.notifyLocked()
	return &Interaction{ID: it.id, Token: it.token, Type: it.typ, GuildID: it.guildID,
		ChannelID: it.channelID, UserID: it.userID, srv: s, it: it}, nil
}

type resolved struct {
	users, members, channels, roles map[string]any
}

func newResolved() *resolved {
	return &resolved{users: map[string]any{}, members: map[string]any{}, channels: map[string]any{}, roles: map[string]any{}}
}

func (r *resolved) empty() bool {
	return len(r.users)+len(r.members)+len(r.channels)+len(r.roles) == 0
}

func (r *resolved) json() map[string]any {
	out := map[string]any{}
	for k, v := range map[string]map[string]any{"users": r.users, "members": r.members, "channels": r.channels, "roles": r.roles} {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// buildOptionsLocked checks the given options against the declared ones
// and renders them, filling resolved.
func (s *Server) buildOptionsLocked(g *guild, ch *channel, decl []CommandOption, given []Option, autocomplete bool, res *resolved) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(given))
	seen := map[string]bool{}
	for _, o := range given {
		var d *CommandOption
		for i := range decl {
			if decl[i].Name == o.Name {
				d = &decl[i]
			}
		}
		if d == nil {
			return nil, fmt.Errorf("%w: no option %q", errBadOption, o.Name)
		}
		if o.Type == 0 {
			o.Type = d.Type
		}
		if o.Type != d.Type {
			return nil, fmt.Errorf("%w: option %q is type %d, not %d", errBadOption, o.Name, d.Type, o.Type)
		}
		seen[o.Name] = true
		r := map[string]any{"name": o.Name, "type": o.Type}
		switch o.Type {
		case OptionSubcommand, OptionSubcommandGroup:
			sub, err := s.buildOptionsLocked(g, ch, d.Options, o.Options, autocomplete, res)
			if err != nil {
				return nil, err
			}
			r["options"] = sub
		default:
			if o.Focused {
				r["focused"] = true
				// While typing, the value is the raw text.
				r["value"] = fmt.Sprint(o.Value)
				break
			}
			if err := s.resolveLocked(g, o, res); err != nil {
				return nil, err
			}
			if len(d.Choices) > 0 && !choiceAllowed(d.Choices, o.Value) {
				return nil, fmt.Errorf("%w: %v is not a choice of %q", errBadOption, o.Value, o.Name)
			}
			r["value"] = o.Value
		}
		out = append(out, r)
	}
	if !autocomplete {
		for _, d := range decl {
			if d.Required && !seen[d.Name] {
				return nil, fmt.Errorf("%w: required option %q missing", errBadOption, d.Name)
			}
		}
	}
	return out, nil
}

func choiceAllowed(choices []Choice, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	for _, c := range choices {
		if string(c.Value) == string(b) {
			return true
		}
		var f1, f2 float64
		if json.Unmarshal(c.Value, &f1) == nil && json.Unmarshal(b, &f2) == nil && f1 == f2 {
			return true
		}
	}
	return false
}

func (s *Server) resolveLocked(g *guild, o Option, res *resolved) error {
	id, _ := o.Value.(string)
	switch o.Type {
	case OptionUser, OptionMentionable:
		u := s.w.users[id]
		if u == nil {
			if o.Type == OptionMentionable && g.role(id) != nil {
				res.roles[id] = roleJSON(g.role(id))
				return nil
			}
			return fmt.Errorf("%w: unknown user %q", errBadOption, id)
		}
		res.users[id] = u.object()
		if m := g.members[id]; m != nil {
			mj := s.memberJSON(g, m)
			delete(mj, "user")
			perms, _ := g.permissions(nil, id)
			mj["permissions"] = permString(perms)
			res.members[id] = mj
		}
	case OptionChannel:
		c := s.w.channels[id]
		if c == nil || c.GuildID != g.ID {
			return fmt.Errorf("%w: unknown channel %q", errBadOption, id)
		}
		res.channels[id] = map[string]any{"id": c.ID, "name": c.Name, "type": int(c.Type),
			"permissions": permString(0), "parent_id": nilIfEmpty(c.ParentID)}
	case OptionRole:
		r := g.role(id)
		if r == nil {
			return fmt.Errorf("%w: unknown role %q", errBadOption, id)
		}
		res.roles[id] = roleJSON(r)
	}
	return nil
}

// waitCallback waits for the callback, failing once the interaction
// timed out without one.
func (i *Interaction) waitCallback(ctx context.Context) error {
	s := i.srv
	dctx, cancel := context.WithDeadline(ctx, i.it.created.Add(s.cfg.InteractionTimeout))
	defer cancel()
	err := s.wait(dctx, func() bool { return i.it.cb != nil })
	if err != nil && ctx.Err() == nil {
		s.mu.Lock()
		got := i.it.cb != nil
		s.mu.Unlock()
		if got {
			return nil
		}
		return errDidNotRespond
	}
	return err
}

// WaitCallback waits for the bot's interaction callback; it fails with an
// error once Config.InteractionTimeout passed without one, as a Discord
// user would see "The application did not respond".
func (i *Interaction) WaitCallback(ctx context.Context) (Callback, error) {
	if err := i.waitCallback(ctx); err != nil {
		return Callback{}, err
	}
	s := i.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	cb := *i.it.cb
	return cb, nil
}

// Choices waits for an autocomplete answer and returns its choices.
func (i *Interaction) Choices(ctx context.Context) ([]Choice, error) {
	cb, err := i.WaitCallback(ctx)
	if err != nil {
		return nil, err
	}
	if cb.Type != CallbackAutocompleteResult {
		return nil, fmt.Errorf("%w: callback type %d", errNoMessage, cb.Type)
	}
	return cb.Choices, nil
}

// WaitResponse waits for the interaction's visible response: the message
// of a type 4 callback, the deferred (type 5) message once edited or
// filled by the first follow-up, the clicked message updated by type 7,
// or edited after type 6.
func (i *Interaction) WaitResponse(ctx context.Context) (*Message, error) {
	if err := i.waitCallback(ctx); err != nil {
		return nil, err
	}
	s := i.srv
	var out *Message
	var fail error
	err := s.wait(ctx, func() bool {
		it := i.it
		switch it.cb.Type {
		case CallbackAutocompleteResult, CallbackModal, CallbackPong:
			fail = fmt.Errorf("%w: callback type %d", errNoMessage, it.cb.Type)
			return true
		}
		m := s.w.messages[it.originalID]
		if m == nil {
			return false
		}
		if m.Deleted {
			fail = errMessageDeleted
			return true
		}
		switch it.cb.Type {
		case CallbackDeferredChannelMessage:
			if m.Flags&FlagLoading != 0 {
				return false
			}
		case CallbackDeferredUpdateMessage:
			if m.Edits <= it.origEdits {
				return false
			}
		}
		out = m.clone()
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, fail
}

// WaitFollowup waits for the n-th (from 0) follow-up message.
func (i *Interaction) WaitFollowup(ctx context.Context, n int) (*Message, error) {
	s := i.srv
	var out *Message
	err := s.wait(ctx, func() bool {
		if len(i.it.followups) <= n {
			return false
		}
		out = s.w.messages[i.it.followups[n]].clone()
		return true
	})
	return out, err
}

// Followups returns the follow-up messages sent so far.
func (i *Interaction) Followups() []*Message {
	s := i.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Message, 0, len(i.it.followups))
	for _, id := range i.it.followups {
		out = append(out, s.w.messages[id].clone())
	}
	return out
}

// newMessageLocked records a message from the bot in a channel and
// dispatches MESSAGE_CREATE unless it is ephemeral.
func (s *Server) newMessageLocked(ch *channel, p *messagePayload, flags int) *Message {
	m := &Message{
		ID: s.snow.next(), ChannelID: ch.ID, GuildID: ch.GuildID, Author: s.w.bot.object(),
		Timestamp: timestamp(time.Now()), Mentions: []UserObject{}, MentionRoles: []string{},
		Attachments: []Attachment{}, Embeds: []Embed{}, Components: []Component{}, Flags: flags,
	}
	p.apply(m)
	s.w.messages[m.ID] = m
	ch.msgs = append(ch.msgs, m)
	ch.lastMessageID = m.ID
	s.messageEventLocked(m, "MESSAGE_CREATE")
	s.notifyLocked()
	return m
}

func (s *Server) messageEventLocked(m *Message, event string) {
	if m.Ephemeral() {
		return
	}
	g := s.w.guilds[m.GuildID]
	if event == "MESSAGE_DELETE" {
		s.dispatchGuildLocked(g, event, map[string]any{"id": m.ID, "channel_id": m.ChannelID, "guild_id": m.GuildID}, IntentGuildMessages)
		return
	}
	s.dispatchGuildLocked(g, event, m, IntentGuildMessages)
}

// Messages returns the messages recorded in a channel, oldest first,
// ephemeral and deleted ones included.
func (s *Server) Messages(channelID string) []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(channelID)
}

func (s *Server) messagesLocked(channelID string) []*Message {
	ch := s.w.channels[channelID]
	if ch == nil {
		return nil
	}
	out := make([]*Message, 0, len(ch.msgs))
	for _, m := range ch.msgs {
		out = append(out, m.clone())
	}
	return out
}

// WaitMessage waits until a message in the channel satisfies match and
// returns it (the newest matching one). match runs with the server locked:
// it must not call the Server.
func (s *Server) WaitMessage(ctx context.Context, channelID string, match func(*Message) bool) (*Message, error) {
	var out *Message
	err := s.wait(ctx, func() bool {
		ch := s.w.channels[channelID]
		if ch == nil {
			return false
		}
		for k := len(ch.msgs) - 1; k >= 0; k-- {
			if c := ch.msgs[k].clone(); match(c) {
				out = c
				return true
			}
		}
		return false
	})
	return out, err
}
