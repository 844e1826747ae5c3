package discordtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// UserObject is a user as Discord serialises it.
type UserObject struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Discriminator string  `json:"discriminator"`
	GlobalName    *string `json:"global_name"`
	Avatar        *string `json:"avatar"`
	Bot           bool    `json:"bot,omitempty"`
	PublicFlags   int     `json:"public_flags"`
}

func (u *user) object() UserObject {
	return UserObject{ID: u.ID, Username: u.Username, Discriminator: "0", Bot: u.Bot}
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedMedia is an embed's image or thumbnail.
type EmbedMedia struct {
	URL    string `json:"url"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// EmbedAuthor is an embed's author line.
type EmbedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

// EmbedField is one field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// Embed is a rich embed (https://discord.com/developers/docs/resources/message#embed-object).
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Type        string       `json:"type,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color,omitempty"`
	Footer      *EmbedFooter `json:"footer,omitempty"`
	Image       *EmbedMedia  `json:"image,omitempty"`
	Thumbnail   *EmbedMedia  `json:"thumbnail,omitempty"`
	Author      *EmbedAuthor `json:"author,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
}

// Component is a message component: an action row (type 1) holding
// buttons (type 2) or select menus (types 3, 5-8)
// (https://discord.com/developers/docs/components/reference).
type Component struct {
	Type        int             `json:"type"`
	ID          int             `json:"id,omitempty"`
	CustomID    string          `json:"custom_id,omitempty"`
	Label       string          `json:"label,omitempty"`
	Style       int             `json:"style,omitempty"`
	Disabled    bool            `json:"disabled,omitempty"`
	URL         string          `json:"url,omitempty"`
	Emoji       json.RawMessage `json:"emoji,omitempty"`
	Placeholder string          `json:"placeholder,omitempty"`
	MinValues   *int            `json:"min_values,omitempty"`
	MaxValues   *int            `json:"max_values,omitempty"`
	Options     json.RawMessage `json:"options,omitempty"`
	Components  []Component     `json:"components,omitempty"`
}

// Attachment is a file sent with a message.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	URL         string `json:"url"`
}

// MessageInteractionMetadata tells which interaction a response answers.
type MessageInteractionMetadata struct {
	ID   string     `json:"id"`
	Type int        `json:"type"`
	User UserObject `json:"user"`
	Name string     `json:"name,omitempty"`
}

// Message is a message as Discord serialises it; the server records every
// message the bot sends, follow-ups and interaction responses included.
type Message struct {
	ID                  string                      `json:"id"`
	Type                int                         `json:"type"`
	ChannelID           string                      `json:"channel_id"`
	GuildID             string                      `json:"guild_id,omitempty"`
	Author              UserObject                  `json:"author"`
	Content             string                      `json:"content"`
	Timestamp           string                      `json:"timestamp"`
	EditedTimestamp     *string                     `json:"edited_timestamp"`
	TTS                 bool                        `json:"tts"`
	MentionEveryone     bool                        `json:"mention_everyone"`
	Mentions            []UserObject                `json:"mentions"`
	MentionRoles        []string                    `json:"mention_roles"`
	Attachments         []Attachment                `json:"attachments"`
	Embeds              []Embed                     `json:"embeds"`
	Components          []Component                 `json:"components"`
	Pinned              bool                        `json:"pinned"`
	Flags               int                         `json:"flags"`
	WebhookID           string                      `json:"webhook_id,omitempty"`
	ApplicationID       string                      `json:"application_id,omitempty"`
	InteractionMetadata *MessageInteractionMetadata `json:"interaction_metadata,omitempty"`
	// Deleted is set when the bot deleted the message.
	Deleted bool `json:"-"`
	// Edits counts the bot's edits.
	Edits int `json:"-"`
}

// Ephemeral reports whether only the invoking user sees the message.
func (m *Message) Ephemeral() bool { return m.Flags&FlagEphemeral != 0 }

// CustomIDs lists the custom IDs of the message's buttons and menus.
func (m *Message) CustomIDs() []string {
	var out []string
	var walk func([]Component)
	walk = func(cs []Component) {
		for _, c := range cs {
			if c.CustomID != "" {
				out = append(out, c.CustomID)
			}
			walk(c.Components)
		}
	}
	walk(m.Components)
	return out
}

func (m *Message) clone() *Message {
	c := *m
	c.Embeds = append([]Embed(nil), m.Embeds...)
	c.Components = append([]Component(nil), m.Components...)
	c.Attachments = append([]Attachment(nil), m.Attachments...)
	return &c
}

// messagePayload is the body of message create/edit, webhook execute and
// the data of interaction callbacks; pointers tell absent from empty.
type messagePayload struct {
	Content     *string         `json:"content"`
	Embeds      *[]Embed        `json:"embeds"`
	Components  *[]Component    `json:"components"`
	Flags       *int            `json:"flags"`
	TTS         bool            `json:"tts"`
	Attachments json.RawMessage `json:"attachments"`
	// Choices are autocomplete results (callback type 8).
	Choices *[]Choice `json:"choices"`
	// CustomID and Title belong to modals (callback type 9).
	CustomID string `json:"custom_id"`
	Title    string `json:"title"`
	files    []Attachment
}

// Choice is an autocomplete choice or a command option choice.
type Choice struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// StringValue returns the choice's value when it is a string.
func (c Choice) StringValue() string {
	var s string
	if json.Unmarshal(c.Value, &s) == nil {
		return s
	}
	return string(c.Value)
}

const flagComponentsV2 = 1 << 15

// formErrors builds Discord's nested "errors" object of a 50035 reply.
type formErrors map[string]any

func (f formErrors) add(path []string, code, msg string) {
	cur := map[string]any(f)
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	list, _ := cur["_errors"].([]any)
	cur["_errors"] = append(list, map[string]any{"code": code, "message": msg})
}

func tooLong(f formErrors, path []string, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		f.add(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limit))
	}
}

func join(prefix []string, more ...string) []string {
	return append(append([]string(nil), prefix...), more...)
}

// validate checks the payload against Discord's limits, reporting under
// prefix (e.g. ["data"] for interaction callbacks).
func (p *messagePayload) validate(prefix []string) *apiError {
	f := formErrors{}
	if p.Content != nil {
		tooLong(f, join(prefix, "content"), *p.Content, maxContent)
	}
	if p.Embeds != nil {
		embeds := *p.Embeds
		if len(embeds) > maxEmbeds {
			f.add(join(prefix, "embeds"), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxEmbeds))
		}
		total := 0
		for i, e := range embeds {
			ep := join(prefix, "embeds", strconv.Itoa(i))
			tooLong(f, join(ep, "title"), e.Title, maxEmbedTitle)
			tooLong(f, join(ep, "description"), e.Description, maxEmbedDescription)
			total += utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
			if len(e.Fields) > maxEmbedFields {
				f.add(join(ep, "fields"), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxEmbedFields))
			}
			for j, fl := range e.Fields {
				fp := join(ep, "fields", strconv.Itoa(j))
				if fl.Name == "" {
					f.add(join(fp, "name"), "BASE_TYPE_REQUIRED", "This field is required")
				}
				if fl.Value == "" {
					f.add(join(fp, "value"), "BASE_TYPE_REQUIRED", "This field is required")
				}
				tooLong(f, join(fp, "name"), fl.Name, maxFieldName)
				tooLong(f, join(fp, "value"), fl.Value, maxFieldValue)
				total += utf8.RuneCountInString(fl.Name) + utf8.RuneCountInString(fl.Value)
			}
			if e.Footer != nil {
				tooLong(f, join(ep, "footer", "text"), e.Footer.Text, maxFooterText)
				total += utf8.RuneCountInString(e.Footer.Text)
			}
			if e.Author != nil {
				tooLong(f, join(ep, "author", "name"), e.Author.Name, maxAuthorName)
				total += utf8.RuneCountInString(e.Author.Name)
			}
		}
		if total > maxEmbedTotal {
			f.add(join(prefix, "embeds"), "MAX_EMBED_SIZE_EXCEEDED", fmt.Sprintf("Embed size exceeds maximum size of %d", maxEmbedTotal))
		}
	}
	// Components v2 messages (flag 1<<15) and modals (custom_id+title) lay
	// out other component types; only classic message rows are checked.
	v2 := p.Flags != nil && *p.Flags&flagComponentsV2 != 0
	if p.Components != nil && !v2 && p.CustomID == "" {
		validateComponents(f, join(prefix, "components"), *p.Components)
	}
	if p.Choices != nil {
		cs := *p.Choices
		if len(cs) > maxChoices {
			f.add(join(prefix, "choices"), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxChoices))
		}
		for i, c := range cs {
			cp := join(prefix, "choices", strconv.Itoa(i))
			if c.Name == "" {
				f.add(join(cp, "name"), "BASE_TYPE_REQUIRED", "This field is required")
			}
			tooLong(f, join(cp, "name"), c.Name, 100)
			if len(c.Value) == 0 {
				f.add(join(cp, "value"), "BASE_TYPE_REQUIRED", "This field is required")
			}
		}
	}
	if len(f) > 0 {
		return formError(f)
	}
	return nil
}

func validateComponents(f formErrors, path []string, rows []Component) {
	if len(rows) > maxActionRows {
		f.add(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxActionRows))
	}
	seen := map[string]bool{}
	for i, row := range rows {
		rp := join(path, strconv.Itoa(i))
		if row.Type != 1 {
			f.add(join(rp, "type"), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,).")
			continue
		}
		if len(row.Components) == 0 || len(row.Components) > maxRowComponents {
			f.add(join(rp, "components"), "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", maxRowComponents))
		}
		for j, c := range row.Components {
			cp := join(rp, "components", strconv.Itoa(j))
			switch c.Type {
			case 2:
				if c.Style == 5 {
					if c.URL == "" {
						f.add(join(cp, "url"), "BASE_TYPE_REQUIRED", "This field is required")
					}
				} else if c.CustomID == "" {
					f.add(join(cp, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
				}
				if c.Style < 1 || c.Style > 6 {
					f.add(join(cp, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
				}
				tooLong(f, join(cp, "label"), c.Label, maxButtonLabel)
			case 3, 5, 6, 7, 8:
				if c.CustomID == "" {
					f.add(join(cp, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
				}
			default:
				f.add(join(cp, "type"), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (2, 3, 5, 6, 7, 8).")
			}
			tooLong(f, join(cp, "custom_id"), c.CustomID, maxCustomID)
			if c.CustomID != "" {
				if seen[c.CustomID] {
					f.add(join(cp, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
				}
				seen[c.CustomID] = true
			}
		}
	}
}

// empty reports whether a message would have nothing to show.
func (m *Message) empty() bool {
	return m.Content == "" && len(m.Embeds) == 0 && len(m.Components) == 0 && len(m.Attachments) == 0
}

// apply copies the present payload fields into m.
func (p *messagePayload) apply(m *Message) {
	if p.Content != nil {
		m.Content = *p.Content
	}
	if p.Embeds != nil {
		m.Embeds = append([]Embed{}, *p.Embeds...)
		for i := range m.Embeds {
			if m.Embeds[i].Type == "" {
				m.Embeds[i].Type = "rich"
			}
		}
	}
	if p.Components != nil {
		m.Components = append([]Component{}, *p.Components...)
	}
	if p.files != nil {
		m.Attachments = append(m.Attachments, p.files...)
	}
	m.TTS = p.TTS
}
