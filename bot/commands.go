package bot

import (
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// access says what a command requires of the user who runs it.
type access int

const (
	// anyone may run it anywhere in the guild.
	anyone access = iota
	// inVoice: the user must be in a voice channel, and in the bot's if it is connected.
	inVoice
	// dj: as inVoice, plus the DJ role or Manage Channels when a DJ role is set.
	dj
	// admin: Manage Server.
	admin
)

// command is one slash command: its definition and who may run it.
type command struct {
	def    *discordgo.ApplicationCommand
	access access
}

func f64(v float64) *float64 { return &v }

func intOpt(name, desc string, required bool, lo, hi float64) *discordgo.ApplicationCommandOption {
	return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: name,
		Description: desc, Required: required, MinValue: f64(lo), MaxValue: hi}
}

func simple(name, desc string, a access) command {
	return command{def: &discordgo.ApplicationCommand{Name: name, Description: desc}, access: a}
}

// commandTable lists every slash command.
// https://discord.com/developers/docs/interactions/application-commands
var commandTable = []command{
	{def: &discordgo.ApplicationCommand{Name: "play", Description: "Play a song or add it to the queue",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString,
			Name: "query", Description: "A link, a file:NAME from the media folder, or words to search for",
			Required: true, Autocomplete: true}}}, access: inVoice},
	{def: &discordgo.ApplicationCommand{Name: "search", Description: "Search and pick a result to play",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString,
			Name: "query", Description: "Words to search for", Required: true}}}, access: inVoice},
	simple("pause", "Pause playback", inVoice),
	simple("resume", "Resume playback", inVoice),
	simple("skip", "Skip the current track", dj),
	simple("voteskip", "Vote to skip the current track", inVoice),
	simple("stop", "Stop playback and clear the queue", dj),
	simple("leave", "Leave the voice channel", dj),
	{def: &discordgo.ApplicationCommand{Name: "queue", Description: "Show the queue",
		Options: []*discordgo.ApplicationCommandOption{intOpt("page", "Page number", false, 1, 1000)}}, access: anyone},
	simple("nowplaying", "Show what is playing, with controls", anyone),
	{def: &discordgo.ApplicationCommand{Name: "seek", Description: "Jump to a position in the track",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString,
			Name: "position", Description: "Seconds (90), m:ss (1:30) or h:mm:ss", Required: true}}}, access: dj},
	{def: &discordgo.ApplicationCommand{Name: "volume", Description: "Set the volume",
		Options: []*discordgo.ApplicationCommandOption{intOpt("percent", "0 to 1000 (100 is unchanged)", true, 0, 1000)}}, access: dj},
	{def: &discordgo.ApplicationCommand{Name: "loop", Description: "Loop the track or the queue",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString,
			Name: "mode", Description: "off, track or queue", Required: true,
			Choices: []*discordgo.ApplicationCommandOptionChoice{
				{Name: "off", Value: "off"}, {Name: "track", Value: "track"}, {Name: "queue", Value: "queue"}}}}}, access: dj},
	simple("shuffle", "Shuffle the queue", dj),
	{def: &discordgo.ApplicationCommand{Name: "remove", Description: "Remove a track from the queue",
		Options: []*discordgo.ApplicationCommandOption{intOpt("position", "Queue position", true, 1, 10000)}}, access: dj},
	{def: &discordgo.ApplicationCommand{Name: "move", Description: "Move a track within the queue",
		Options: []*discordgo.ApplicationCommandOption{intOpt("from", "Current position", true, 1, 10000),
			intOpt("to", "New position", true, 1, 10000)}}, access: dj},
	simple("clear", "Empty the queue (the current track keeps playing)", dj),
	{def: &discordgo.ApplicationCommand{Name: "skipto", Description: "Play a queued track now",
		Options: []*discordgo.ApplicationCommandOption{intOpt("position", "Queue position", true, 1, 10000)}}, access: dj},
	simple("replay", "Restart the current track", dj),
	{def: &discordgo.ApplicationCommand{Name: "settings", Description: "Show or change the bot's settings for this server",
		DefaultMemberPermissions: ptrInt64(discordgo.PermissionManageGuild),
		Options: []*discordgo.ApplicationCommandOption{
			{Type: discordgo.ApplicationCommandOptionRole, Name: "dj-role", Description: "Role allowed to skip, stop and edit the queue"},
			{Type: discordgo.ApplicationCommandOptionBoolean, Name: "clear-dj-role", Description: "Let everyone in voice control playback"},
			intOpt("default-volume", "Volume new players start at (0-1000)", false, 0, 1000),
			{Type: discordgo.ApplicationCommandOptionNumber, Name: "vote-skip-ratio", Description: "Share of listeners needed to vote-skip (0.1-1)",
				MinValue: f64(0.1), MaxValue: 1},
			{Type: discordgo.ApplicationCommandOptionChannel, Name: "announce-channel", Description: "Where to announce new tracks",
				ChannelTypes: []discordgo.ChannelType{discordgo.ChannelTypeGuildText}},
			intOpt("auto-leave-minutes", "Minutes to stay alone or idle before leaving (1-60)", false, 1, 60),
		}}, access: admin},
}

func ptrInt64(v int64) *int64 { return &v }

var commandAccess = func() map[string]access {
	m := map[string]access{}
	for _, c := range commandTable {
		m[c.def.Name] = c.access
	}
	return m
}()

// registerCommands overwrites the application's commands (globally or in the dev guild).
func (b *Bot) registerCommands() error {
	b.mu.Lock()
	var s *discordgo.Session
	for _, x := range b.sessions {
		s = x
		break
	}
	appID := b.botID
	b.mu.Unlock()
	if s == nil {
		return errNotStarted
	}
	defs := make([]*discordgo.ApplicationCommand, len(commandTable))
	for i, c := range commandTable {
		defs[i] = c.def
	}
	if _, err := s.ApplicationCommandBulkOverwrite(appID, b.cfg.DevGuild, defs); err != nil {
		return fmt.Errorf("bot: registering slash commands: %w", err)
	}
	return nil
}
