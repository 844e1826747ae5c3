package discordtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Application command option types
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type).
const (
	OptionSubcommand      = 1
	OptionSubcommandGroup = 2
	OptionString          = 3
	OptionInteger         = 4
	OptionBoolean         = 5
	OptionUser            = 6
	OptionChannel         = 7
	OptionRole            = 8
	OptionMentionable     = 9
	OptionNumber          = 10
	OptionAttachment      = 11
)

// Command limits (https://discord.com/developers/docs/interactions/application-commands#registering-a-command).
const (
	maxCommandName        = 32
	maxCommandDescription = 100
	maxCommandOptions     = 25
	maxChatInputCommands  = 100
)

// commandName is Discord's CHAT_INPUT naming rule
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-naming).
var commandName = regexp.MustCompile(`^[-_'\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

// CommandOption is a registered command option.
type CommandOption struct {
	Type                     int             `json:"type"`
	Name                     string          `json:"name"`
	NameLocalizations        json.RawMessage `json:"name_localizations,omitempty"`
	Description              string          `json:"description"`
	DescriptionLocalizations json.RawMessage `json:"description_localizations,omitempty"`
	Required                 bool            `json:"required,omitempty"`
	Choices                  []Choice        `json:"choices,omitempty"`
	Options                  []CommandOption `json:"options,omitempty"`
	ChannelTypes             []int           `json:"channel_types,omitempty"`
	MinValue                 *float64        `json:"min_value,omitempty"`
	MaxValue                 *float64        `json:"max_value,omitempty"`
	MinLength                *int            `json:"min_length,omitempty"`
	MaxLength                *int            `json:"max_length,omitempty"`
	Autocomplete             bool            `json:"autocomplete,omitempty"`
}

// Command is a registered application command.
type Command struct {
	ID                       string          `json:"id"`
	Type                     int             `json:"type"`
	ApplicationID            string          `json:"application_id"`
	GuildID                  string          `json:"guild_id,omitempty"`
	Name                     string          `json:"name"`
	NameLocalizations        json.RawMessage `json:"name_localizations"`
	Description              string          `json:"description"`
	DescriptionLocalizations json.RawMessage `json:"description_localizations"`
	Options                  []CommandOption `json:"options,omitempty"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
	DMPermission             *bool           `json:"dm_permission,omitempty"`
	NSFW                     bool            `json:"nsfw"`
	IntegrationTypes         json.RawMessage `json:"integration_types,omitempty"`
	Contexts                 json.RawMessage `json:"contexts"`
	Version                  string          `json:"version"`
}

// commandInput is a command as clients send it; default_member_permissions
// may be a string, a number or null.
type commandInput struct {
	Command
	DefaultMemberPermissions json.RawMessage `json:"default_member_permissions"`
	NSFW                     *bool           `json:"nsfw"`
}

func (in *commandInput) toCommand() (Command, bool) {
	c := in.Command
	if c.Type == 0 {
		c.Type = 1
	}
	if in.NSFW != nil {
		c.NSFW = *in.NSFW
	}
	c.DefaultMemberPermissions = nil
	raw := strings.TrimSpace(string(in.DefaultMemberPermissions))
	if raw != "" && raw != "null" {
		v := strings.Trim(raw, `"`)
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return c, false
		}
		c.DefaultMemberPermissions = &v
	}
	if len(c.NameLocalizations) == 0 {
		c.NameLocalizations = json.RawMessage("null")
	}
	if len(c.DescriptionLocalizations) == 0 {
		c.DescriptionLocalizations = json.RawMessage("null")
	}
	if len(c.Contexts) == 0 {
		c.Contexts = json.RawMessage("null")
	}
	if len(c.IntegrationTypes) == 0 {
		c.IntegrationTypes = json.RawMessage("[0]")
	}
	return c, true
}

type commandStore struct {
	global []*Command
	guild  map[string][]*Command
}

func (c *commandStore) init() { c.guild = map[string][]*Command{} }

func (c *commandStore) list(guildID string) []*Command {
	if guildID == "" {
		return c.global
	}
	return c.guild[guildID]
}

func (c *commandStore) set(guildID string, cmds []*Command) {
	if guildID == "" {
		c.global = cmds
	} else {
		c.guild[guildID] = cmds
	}
}

// find returns the command a user in guildID sees under name: the guild's
// own first, then the global one.
func (c *commandStore) find(guildID, name string, typ int) *Command {
	for _, list := range [][]*Command{c.guild[guildID], c.global} {
		for _, cmd := range list {
			if cmd.Name == name && cmd.Type == typ {
				return cmd
			}
		}
	}
	return nil
}

// validateCommand checks a command against Discord's rules, reporting
// under prefix.
func validateCommand(f formErrors, prefix []string, c *Command) {
	switch c.Type {
	case 1:
		if !commandName.MatchString(c.Name) || strings.ToLower(c.Name) != c.Name {
			f.add(join(prefix, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
		}
		n := utf8.RuneCountInString(c.Description)
		if n < 1 || n > maxCommandDescription {
			f.add(join(prefix, "description"), "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", maxCommandDescription))
		}
		validateOptions(f, join(prefix, "options"), c.Options, 0)
	case 2, 3:
		n := utf8.RuneCountInString(c.Name)
		if n < 1 || n > maxCommandName {
			f.add(join(prefix, "name"), "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", maxCommandName))
		}
		if c.Description != "" {
			f.add(join(prefix, "description"), "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Context menu commands cannot have description")
		}
		if len(c.Options) > 0 {
			f.add(join(prefix, "options"), "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS", "Context menu commands cannot have options")
		}
	default:
		f.add(join(prefix, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
	}
}

func validateOptions(f formErrors, prefix []string, opts []CommandOption, depth int) {
	if len(opts) > maxCommandOptions {
		f.add(prefix, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxCommandOptions))
	}
	seen := map[string]bool{}
	optional := false
	for i, o := range opts {
		p := join(prefix, strconv.Itoa(i))
		if o.Type < OptionSubcommand || o.Type > OptionAttachment {
			f.add(join(p, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
		}
		if !commandName.MatchString(o.Name) || strings.ToLower(o.Name) != o.Name {
			f.add(join(p, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
		}
		if seen[o.Name] {
			f.add(join(p, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Command option names must be unique")
		}
		seen[o.Name] = true
		n := utf8.RuneCountInString(o.Description)
		if n < 1 || n > maxCommandDescription {
			f.add(join(p, "description"), "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", maxCommandDescription))
		}
		if o.Required && optional {
			f.add(join(p, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options")
		}
		if !o.Required {
			optional = true
		}
		if len(o.Choices) > maxChoices {
			f.add(join(p, "choices"), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxChoices))
		}
		if o.Autocomplete && len(o.Choices) > 0 {
			f.add(join(p, "autocomplete"), "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES", "Autocomplete cannot be set with choices")
		}
		switch o.Type {
		case OptionSubcommand, OptionSubcommandGroup:
			if depth >= 2 || (o.Type == OptionSubcommandGroup && depth >= 1) {
				f.add(join(p, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command and sub-command group option types are mutually exclusive to all other types")
			}
			validateOptions(f, join(p, "options"), o.Options, depth+1)
		}
	}
}
