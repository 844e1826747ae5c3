package bot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// call is one interaction being handled.
type call struct {
	b       *Bot
	s       *discordgo.Session
	i       *discordgo.Interaction
	ctx     context.Context
	guildID string
	userID  string
	perms   int64
	roles   []string
	opts    map[string]*discordgo.ApplicationCommandInteractionDataOption
	// outcome is how the command ended, for quaver_commands_total ("": ok).
	outcome string
}

func (c *call) str(name string) string {
	if o := c.opts[name]; o != nil {
		if v, ok := o.Value.(string); ok {
			return v
		}
	}
	return ""
}

func (c *call) num(name string) (float64, bool) {
	if o := c.opts[name]; o != nil {
		switch v := o.Value.(type) {
		case float64:
			return v, true
		case string:
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func (c *call) integer(name string) (int, bool) {
	f, ok := c.num(name)
	if !ok || math.IsNaN(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

func (c *call) boolean(name string) bool {
	if o := c.opts[name]; o != nil {
		v, _ := o.Value.(bool)
		return v
	}
	return false
}

// respond answers the interaction with a new message.
func (c *call) respond(e *discordgo.MessageEmbed, comps []discordgo.MessageComponent, ephemeral bool) {
	var flags discordgo.MessageFlags
	if ephemeral {
		flags = discordgo.MessageFlagsEphemeral
	}
	err := c.s.InteractionRespond(c.i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Embeds: []*discordgo.MessageEmbed{e}, Components: comps,
			Flags: flags, AllowedMentions: noMentions},
	})
	if err != nil {
		c.outcome = outcomeError
		c.b.log.Warn("interaction reply failed", "err", err)
	}
}

// fail answers with an ephemeral error that says what to do: the user's
// mistake, or something they must change.
func (c *call) fail(msg string) {
	c.outcome = outcomeUserError
	c.respond(errorEmbed(msg), nil, true)
}

// failAs answers like fail and records outcome (a store outage is not the
// user's mistake).
func (c *call) failAs(msg, outcome string) {
	c.outcome = outcome
	c.respond(errorEmbed(msg), nil, true)
}

// failErr answers err the way userMessage explains it.
func (c *call) failErr(err error) {
	msg, outcome := c.b.userMessage(c.guildID, err)
	c.failAs(msg, outcome)
}

// editErr fills a deferred response with err the way userMessage explains it.
func (c *call) editErr(err error) {
	msg, outcome := c.b.userMessage(c.guildID, err)
	c.outcome = outcome
	c.edit(errorEmbed(msg))
}

// update replaces the message a button was clicked on.
func (c *call) update(e *discordgo.MessageEmbed, comps []discordgo.MessageComponent) {
	if comps == nil {
		comps = []discordgo.MessageComponent{}
	}
	err := c.s.InteractionRespond(c.i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseUpdateMessage,
		Data: &discordgo.InteractionResponseData{Embeds: []*discordgo.MessageEmbed{e}, Components: comps,
			AllowedMentions: noMentions},
	})
	if err != nil {
		c.outcome = outcomeError
		c.b.log.Warn("interaction update failed", "err", err)
	}
}

// edit fills a deferred response.
func (c *call) edit(e *discordgo.MessageEmbed) {
	embeds := []*discordgo.MessageEmbed{e}
	if _, err := c.s.InteractionResponseEdit(c.i, &discordgo.WebhookEdit{Embeds: &embeds, AllowedMentions: noMentions}); err != nil {
		c.outcome = outcomeError
		c.b.log.Warn("interaction edit failed", "err", err)
	}
}

func (b *Bot) onInteraction(s *discordgo.Session, ic *discordgo.InteractionCreate) {
	defer func() {
		if r := recover(); r != nil { // a bug in one command must not take the bot down
			b.log.Error("interaction handler panicked", "panic", r)
		}
	}()
	i := ic.Interaction
	if i.GuildID == "" || i.Member == nil || i.Member.User == nil {
		if i.Type == discordgo.InteractionApplicationCommand {
			c := &call{b: b, s: s, i: i}
			c.fail("Use me in a server, not in direct messages.")
		}
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ResolveTimeout+b.cfg.VoiceJoinTimeout+10*time.Second)
	defer cancel()
	c := &call{b: b, s: s, i: i, ctx: ctx, guildID: i.GuildID, userID: i.Member.User.ID,
		perms: i.Member.Permissions, roles: i.Member.Roles,
		opts: map[string]*discordgo.ApplicationCommandInteractionDataOption{}}
	switch i.Type {
	case discordgo.InteractionApplicationCommandAutocomplete:
		b.autocomplete(c)
	case discordgo.InteractionApplicationCommand:
		data := i.ApplicationCommandData()
		for _, o := range data.Options {
			c.opts[o.Name] = o
		}
		b.command(c, data.Name)
	case discordgo.InteractionMessageComponent:
		b.component(c, i.MessageComponentData().CustomID)
	}
}

func (b *Bot) autocomplete(c *call) {
	var prefix string
	for _, o := range c.i.ApplicationCommandData().Options {
		if o.Focused {
			prefix, _ = o.Value.(string)
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	sugg, err := b.resolver.Suggest(ctx, prefix)
	if err != nil {
		b.log.Debug("autocomplete", "err", err)
	}
	choices := make([]*discordgo.ApplicationCommandOptionChoice, 0, min(len(sugg), 25))
	for _, s := range sugg {
		if len(choices) == 25 {
			break
		}
		choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: s.Name, Value: s.Value})
	}
	_ = c.s.InteractionRespond(c.i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices},
	})
}

// allowed applies the per-user rate limit.
func (b *Bot) allowed(c *call) bool {
	d, err := b.cfg.Store.RateLimiter.Allow(c.ctx, "cmd:"+c.userID, b.cfg.CommandRate, b.cfg.CommandBurst)
	if err != nil {
		return true // a broken limiter must not lock everyone out
	}
	if !d.Allowed {
		c.failAs(fmt.Sprintf("You're sending commands too fast. Try again in %.0f s.", math.Ceil(d.RetryAfter.Seconds())), outcomeRateLimited)
		return false
	}
	return true
}

// userVoice returns the user's voice channel in the guild.
func (c *call) userVoice() string {
	vs, err := c.s.State.VoiceState(c.guildID, c.userID)
	if err != nil || vs == nil {
		return ""
	}
	return vs.ChannelID
}

// check enforces a command's access rule and returns the user's voice channel.
func (b *Bot) check(c *call, a access, set store.GuildSettings) (string, bool) {
	if a == anyone {
		return "", true
	}
	if a == admin {
		if c.perms&(discordgo.PermissionManageGuild|discordgo.PermissionAdministrator) == 0 {
			c.fail("Changing settings needs the Manage Server permission.")
			return "", false
		}
		return "", true
	}
	vc := c.userVoice()
	if vc == "" {
		c.fail("Join a voice channel first, then run the command again.")
		return "", false
	}
	if cur := b.voiceChannel(c.guildID); cur != "" && cur != vc {
		c.fail(fmt.Sprintf("I'm playing in <#%s>: join that channel to control the music.", cur))
		return "", false
	}
	if a == dj && set.DJRoleID != "" && !slices.Contains(c.roles, set.DJRoleID) &&
		c.perms&(discordgo.PermissionManageChannels|discordgo.PermissionAdministrator) == 0 {
		c.fail(fmt.Sprintf("Only members with the DJ role <@&%s> (or Manage Channels) can do that. Use `/voteskip` to skip by vote.", set.DJRoleID))
		return "", false
	}
	return vc, true
}

// command runs a slash command and counts it by outcome.
func (b *Bot) command(c *call, name string) {
	panicked := true
	defer func() {
		outcome := c.outcome
		switch {
		case panicked:
			outcome = outcomeError
		case outcome == "":
			outcome = outcomeOK
		}
		b.met.command(name, outcome)
	}()
	b.runCommand(c, name)
	panicked = false
}

func (b *Bot) runCommand(c *call, name string) {
	a, ok := commandAccess[name]
	if !ok {
		c.fail("I don't know that command any more; it may take a minute for Discord to update the list.")
		return
	}
	if !b.allowed(c) {
		return
	}
	set, setErr := b.settings(c.ctx, c.guildID)
	vc, ok := b.check(c, a, set)
	if !ok {
		return
	}
	switch name {
	case "play":
		b.play(c, vc, set)
		return
	case "search":
		b.search(c)
		return
	case "settings":
		if setErr != nil {
			// Showing (or saving over) the defaults would pass them off as the saved settings.
			c.failAs(settingsUnreadable(setErr), outcomeError)
			return
		}
		b.changeSettings(c, set)
		return
	}
	p, ok := b.Player(c.guildID)
	if !ok {
		c.fail("Nothing is playing: start something with `/play`.")
		return
	}
	e, comps, err := b.act(c, p, name, set)
	if err != nil {
		c.failErr(err)
		return
	}
	c.respond(e, comps, false)
}

// act runs a player command and returns the reply.
func (b *Bot) act(c *call, p *player.Player, name string, set store.GuildSettings) (*discordgo.MessageEmbed, []discordgo.MessageComponent, error) {
	switch name {
	case "pause":
		return okEmbed("Paused", "Use `/resume` to continue."), nil, p.Pause()
	case "resume":
		return okEmbed("Resumed", ""), nil, p.Resume()
	case "skip":
		t, err := p.Skip()
		return okEmbed("Skipped", trackLine(t)), nil, err
	case "voteskip":
		_, ls := b.listeners(c.s, c.guildID)
		r, err := p.VoteSkip(c.userID, ls, set.VoteSkipRatio)
		if err != nil {
			return nil, nil, err
		}
		if r.Skipped {
			return okEmbed("Vote passed: skipped", trackLine(r.Track)), nil, nil
		}
		return infoEmbed("Vote to skip", voteText(r)), nil, nil
	case "stop":
		return okEmbed("Stopped", "The queue is cleared."), nil, p.Stop()
	case "leave":
		return okEmbed("Left the voice channel", ""), nil, p.Leave()
	case "queue":
		page, _ := c.integer("page")
		e, comps := queuePage(p.Status(), page)
		return e, comps, nil
	case "nowplaying":
		e, comps := nowPlaying(p.Status())
		return e, comps, nil
	case "seek":
		pos, err := parsePosition(c.str("position"))
		if err != nil {
			return nil, nil, err
		}
		if err := p.Seek(c.ctx, pos); err != nil {
			return nil, nil, err
		}
		return okEmbed("Seeked", "to "+resolve.FormatDuration(pos)), nil, nil
	case "volume":
		v, _ := c.integer("percent")
		return okEmbed("Volume", fmt.Sprintf("%d %%", v)), nil, p.SetVolume(v)
	case "loop":
		m := store.LoopMode(c.str("mode"))
		return okEmbed("Loop", string(m)), nil, p.SetLoop(m)
	case "shuffle":
		return okEmbed("Shuffled", ""), nil, p.Shuffle()
	case "remove":
		pos, _ := c.integer("position")
		t, err := p.Remove(pos)
		return okEmbed("Removed", trackLine(t)), nil, err
	case "move":
		from, _ := c.integer("from")
		to, _ := c.integer("to")
		return okEmbed("Moved", fmt.Sprintf("track %d to position %d", from, to)), nil, p.Move(from, to)
	case "clear":
		n, err := p.Clear()
		return okEmbed("Cleared", clearedText(n)), nil, err
	case "skipto":
		pos, _ := c.integer("position")
		t, err := p.SkipTo(pos)
		return okEmbed("Skipped to", trackLine(t)), nil, err
	case "replay":
		return okEmbed("Replaying", ""), nil, p.Replay()
	}
	return nil, nil, fmt.Errorf("unknown command %q", name)
}

// dbUnavailable starts every answer about a store outage.
const dbUnavailable = "The bot's database is temporarily unavailable"

// settingsUnreadable answers /settings when the saved settings cannot be
// read; like userMessage, it never shows the store's error (connection details).
func settingsUnreadable(err error) string {
	if errors.Is(err, store.ErrUnavailable) {
		return dbUnavailable + ", so the settings can't be shown or changed right now: try again in a minute. Playback is not affected."
	}
	return "The saved settings could not be read, so they can't be shown or changed: ask the bot's operator to check its logs."
}

// settingsUnsaved logs why /settings could not save and returns the answer
// for the user: what happened and what to do, never the store's error (it
// names hosts, databases, files and Go internals), which only the log gets.
func (b *Bot) settingsUnsaved(guildID string, err error) string {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		b.log.Warn("save settings: store unavailable", "guild", guildID, "err", err)
		return dbUnavailable + ", so those settings were not saved: try again in a minute. Playback is not affected."
	case errors.Is(err, store.ErrInvalid):
		// The command's option limits should have stopped these values.
		b.log.Error("save settings: values refused by the store", "guild", guildID, "err", err)
		return "Those settings are outside the allowed ranges, so nothing was saved: check the limits in each option's description."
	}
	b.log.Error("save settings", "guild", guildID, "err", err)
	return "Those settings could not be saved, so nothing changed: ask the bot's operator to check its logs."
}

func (b *Bot) play(c *call, vc string, set store.GuildSettings) {
	query := c.str("query")
	if _, err := resolve.Classify(query, resolve.DefaultMaxQueryLen); err != nil {
		c.failErr(err)
		return
	}
	if !b.deferJoin(c, vc) {
		return
	}
	rctx, cancel := context.WithTimeout(c.ctx, b.cfg.ResolveTimeout)
	tracks, err := b.resolver.Resolve(rctx, query)
	cancel()
	if err != nil {
		c.editErr(err)
		return
	}
	b.enqueue(c, vc, set, tracks)
}

// deferJoin answers at once why the bot cannot join vc, or defers the
// reply while the tracks are resolved and the bot joins. It says whether to go on.
func (b *Bot) deferJoin(c *call, vc string) bool {
	if err := b.canJoin(c.s, c.guildID, vc); err != nil {
		c.failErr(err)
		return false
	}
	if err := c.s.InteractionRespond(c.i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}); err != nil {
		c.outcome = outcomeError
		b.log.Warn("deferring the reply failed", "err", err)
		return false
	}
	return true
}

// enqueue plays or queues tracks for the user and edits the deferred reply.
func (b *Bot) enqueue(c *call, vc string, set store.GuildSettings, tracks []store.Track) {
	for i := range tracks {
		tracks[i].RequestedBy = c.userID
		if i < 10 && tracks[i].Duration == 0 {
			d, err := b.probeDuration(c.ctx, tracks[i])
			if err != nil && len(tracks) == 1 {
				c.editErr(err)
				return
			}
			tracks[i].Duration = d
		}
	}
	p, err := b.player(c.ctx, c.guildID)
	if err != nil {
		c.editErr(err)
		return
	}
	announce := c.i.ChannelID
	if set.AnnounceChannelID != "" {
		announce = set.AnnounceChannelID
	}
	p.SetTextChannel(announce)
	pos, err := p.Play(c.ctx, vc, tracks...)
	if err != nil {
		c.editErr(err)
		return
	}
	title := "Playing"
	desc := trackLine(tracks[0])
	if pos > 0 {
		title = fmt.Sprintf("Queued at position %d", pos)
	}
	if len(tracks) > 1 {
		desc += "\n" + moreTracksText(len(tracks)-1)
	}
	c.edit(okEmbed(title, desc))
}

// count is n followed by the noun in the number that goes with it:
// "0 tracks", "1 track", "2 tracks".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// clearedText is the /clear reply for n tracks removed from the queue.
func clearedText(n int) string { return count(n, "track", "tracks") + " removed" }

// voteText is the /voteskip reply while the vote has not passed yet.
func voteText(r player.VoteResult) string {
	msg := fmt.Sprintf("%d of %s needed to skip %s.", r.Votes, count(r.Needed, "vote", "votes"), trackLine(r.Track))
	if r.AlreadyVoted {
		msg = "You already voted. " + msg
	}
	return msg
}

// moreTracksText follows the first track of a playlist added with /play.
func moreTracksText(n int) string { return "and " + count(n, "more track", "more tracks") }

func (b *Bot) search(c *call) {
	if err := c.s.InteractionRespond(c.i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}); err != nil {
		c.outcome = outcomeError
		b.log.Warn("deferring the reply failed", "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(c.ctx, b.cfg.ResolveTimeout)
	tracks, err := b.resolver.Search(rctx, c.str("query"), 5)
	cancel()
	if err != nil {
		c.editErr(err)
		return
	}
	b.mu.Lock()
	b.searches[c.userID] = tracks
	b.mu.Unlock()
	var sb strings.Builder
	row := discordgo.ActionsRow{}
	for n, t := range tracks {
		fmt.Fprintf(&sb, "%d. %s\n", n+1, trackLine(t))
		row.Components = append(row.Components, discordgo.Button{Label: strconv.Itoa(n + 1),
			Style: discordgo.PrimaryButton, CustomID: fmt.Sprintf("pick:%d", n)})
	}
	embeds := []*discordgo.MessageEmbed{infoEmbed("Search results", sb.String()+"\nPick one to play it.")}
	comps := []discordgo.MessageComponent{row}
	if _, err := c.s.InteractionResponseEdit(c.i, &discordgo.WebhookEdit{Embeds: &embeds, Components: &comps,
		AllowedMentions: noMentions}); err != nil {
		c.outcome = outcomeError
		b.log.Warn("search reply", "err", err)
	}
}

func (b *Bot) changeSettings(c *call, set store.GuildSettings) {
	changed := false
	if o := c.opts["dj-role"]; o != nil {
		set.DJRoleID, _ = o.Value.(string)
		changed = true
	}
	if c.boolean("clear-dj-role") {
		set.DJRoleID, changed = "", true
	}
	if v, ok := c.integer("default-volume"); ok {
		set.DefaultVolume, changed = v, true
	}
	if v, ok := c.num("vote-skip-ratio"); ok {
		set.VoteSkipRatio, changed = v, true
	}
	if o := c.opts["announce-channel"]; o != nil {
		set.AnnounceChannelID, _ = o.Value.(string)
		changed = true
	}
	if v, ok := c.integer("auto-leave-minutes"); ok {
		set.AutoLeaveMinutes, changed = v, true
	}
	if changed {
		if err := b.cfg.Store.Settings.Put(c.ctx, set); err != nil {
			c.failAs(b.settingsUnsaved(c.guildID, err), outcomeError)
			return
		}
	}
	dj := "none (everyone in voice)"
	if set.DJRoleID != "" {
		dj = "<@&" + set.DJRoleID + ">"
	}
	ann := "the channel /play was used in"
	if set.AnnounceChannelID != "" {
		ann = "<#" + set.AnnounceChannelID + ">"
	}
	e := infoEmbed("Settings", "")
	if changed {
		e = okEmbed("Settings saved", "")
	}
	e.Fields = []*discordgo.MessageEmbedField{
		{Name: "DJ role", Value: dj, Inline: true},
		{Name: "Default volume", Value: fmt.Sprintf("%d %%", set.DefaultVolume), Inline: true},
		{Name: "Vote-skip ratio", Value: fmt.Sprintf("%.0f %%", set.VoteSkipRatio*100), Inline: true},
		{Name: "Announcements", Value: ann, Inline: true},
		{Name: "Auto-leave", Value: fmt.Sprintf("%d min", set.AutoLeaveMinutes), Inline: true},
	}
	c.respond(e, nil, false)
}

// component handles button clicks: now-playing controls, queue pages, search picks.
func (b *Bot) component(c *call, id string) {
	if !b.allowed(c) {
		return
	}
	set, _ := b.settings(c.ctx, c.guildID)
	kind, arg, _ := strings.Cut(id, ":")
	switch kind {
	case "q":
		p, ok := b.Player(c.guildID)
		if !ok {
			c.fail("Nothing is playing: start something with `/play`.")
			return
		}
		page, _ := strconv.Atoi(arg)
		e, comps := queuePage(p.Status(), page)
		c.update(e, comps)
	case "pick":
		n, err := strconv.Atoi(arg)
		b.mu.Lock()
		res := b.searches[c.userID]
		b.mu.Unlock()
		if err != nil || n < 0 || n >= len(res) {
			c.fail("That search has expired: run `/search` again.")
			return
		}
		vc, ok := b.check(c, inVoice, set)
		if !ok {
			return
		}
		if !b.deferJoin(c, vc) {
			return
		}
		b.enqueue(c, vc, set, []store.Track{res[n]})
	case "np":
		p, ok := b.Player(c.guildID)
		if !ok {
			c.fail("Nothing is playing: start something with `/play`.")
			return
		}
		a := dj
		if arg == "pause" || arg == "resume" {
			a = inVoice
		}
		if _, ok := b.check(c, a, set); !ok {
			return
		}
		var err error
		switch arg {
		case "pause":
			err = p.Pause()
		case "resume":
			err = p.Resume()
		case "skip":
			_, err = p.Skip()
		case "stop":
			err = p.Stop()
		case "loop":
			next := map[store.LoopMode]store.LoopMode{store.LoopOff: store.LoopTrack,
				store.LoopTrack: store.LoopQueue, store.LoopQueue: store.LoopOff}
			m, ok := next[p.Status().Loop]
			if !ok {
				m = store.LoopOff
			}
			err = p.SetLoop(m)
		case "shuffle":
			err = p.Shuffle()
		default:
			err = errOldButton
		}
		if err != nil {
			c.failErr(err)
			return
		}
		e, comps := nowPlaying(p.Status())
		c.update(e, comps)
	default:
		c.fail("That button is from an older version of the bot; run the command again.")
	}
}

// onPlayerEvent announces track changes, failures and departures.
func (b *Bot) onPlayerEvent(ev player.Event) {
	if b.cfg.OnEvent != nil {
		b.cfg.OnEvent(ev)
	}
	var e *discordgo.MessageEmbed
	switch ev.Type {
	case player.EventTrackStart:
		e = infoEmbed("Now playing", trackLine(ev.Track))
	case player.EventTrackFailed:
		msg, _ := b.userMessage(ev.GuildID, ev.Err)
		e = errorEmbed(fmt.Sprintf("Couldn't play %s, skipping it: %s", trackLine(ev.Track), msg))
	case player.EventQueueEnd:
		e = infoEmbed("Queue finished", "Add more with `/play`.")
	case player.EventAutoLeave:
		why := "nobody was listening"
		if ev.Reason == "idle" {
			why = "nothing was playing"
		}
		e = infoEmbed("Left the voice channel", "I left because "+why+".")
	case player.EventDisconnected:
		// Why is for the log: voice close codes and servers mean nothing to users.
		b.log.Warn("disconnected from voice", "guild", ev.GuildID, "err", ev.Err)
		e = errorEmbed("I was disconnected from voice. Use `/play` to bring me back.")
	case player.EventStopped:
		e = errorEmbed("Playback stopped: too many tracks failed in a row. Check the links and try again.")
	default:
		return
	}
	if ev.TextChannelID == "" {
		return
	}
	s, err := b.session(ev.GuildID)
	if err != nil {
		return
	}
	if _, err := s.ChannelMessageSendComplex(ev.TextChannelID, &discordgo.MessageSend{
		Embeds: []*discordgo.MessageEmbed{e}, AllowedMentions: noMentions}); err != nil {
		b.log.Warn("announcement failed", "guild", ev.GuildID, "err", err)
	}
}
