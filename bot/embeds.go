package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// Embed colours.
const (
	colorInfo  = 0x5865F2
	colorOK    = 0x57F287
	colorError = 0xED4245
)

// queuePageSize is how many tracks one /queue page lists.
const queuePageSize = 10

// noMentions is sent with every message: titles come from the internet and
// must never ping anyone (resolve.SafeTitle is the first line of defence).
var noMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}

func infoEmbed(title, desc string) *discordgo.MessageEmbed {
	return &discordgo.MessageEmbed{Title: title, Description: desc, Color: colorInfo}
}

func okEmbed(title, desc string) *discordgo.MessageEmbed {
	return &discordgo.MessageEmbed{Title: title, Description: desc, Color: colorOK}
}

func errorEmbed(msg string) *discordgo.MessageEmbed {
	return &discordgo.MessageEmbed{Title: "Can't do that", Description: msg, Color: colorError}
}

// trackLine renders a track safely: escaped title, author and length.
func trackLine(t store.Track) string {
	s := "**" + resolve.SafeTitle(t.Title, 0) + "**"
	if t.Author != "" {
		s += " by " + resolve.SafeTitle(t.Author, 60)
	}
	if t.Duration > 0 {
		s += " (" + resolve.FormatDuration(t.Duration) + ")"
	}
	return s
}

// progressBar draws pos within dur as a 20-cell bar.
func progressBar(pos, dur time.Duration) string {
	const cells = 20
	if dur <= 0 {
		return "▶ " + resolve.FormatDuration(pos) + " (length unknown)"
	}
	n := int(int64(cells) * int64(min(max(pos, 0), dur)) / int64(dur))
	n = min(n, cells-1)
	return strings.Repeat("▬", n) + "🔘" + strings.Repeat("▬", cells-1-n) +
		" " + resolve.FormatDuration(pos) + " / " + resolve.FormatDuration(dur)
}

// nowPlaying is the /nowplaying message: track, progress, state and buttons.
func nowPlaying(st player.Status) (*discordgo.MessageEmbed, []discordgo.MessageComponent) {
	if st.Current == nil {
		return infoEmbed("Nothing is playing", "Start something with `/play`."), nil
	}
	e := infoEmbed("Now playing", trackLine(*st.Current)+"\n"+progressBar(st.Position, st.Current.Duration))
	e.Fields = []*discordgo.MessageEmbedField{
		{Name: "State", Value: st.State.String(), Inline: true},
		{Name: "Loop", Value: string(st.Loop), Inline: true},
		{Name: "Volume", Value: fmt.Sprintf("%d %%", st.Volume), Inline: true},
		{Name: "Up next", Value: count(len(st.Queue), "track", "tracks"), Inline: true},
	}
	if st.Current.RequestedBy != "" {
		e.Footer = &discordgo.MessageEmbedFooter{Text: "requested by user " + st.Current.RequestedBy}
	}
	pause := discordgo.Button{Label: "Pause", Style: discordgo.SecondaryButton, CustomID: "np:pause"}
	if st.State == player.StatePaused {
		pause = discordgo.Button{Label: "Resume", Style: discordgo.SuccessButton, CustomID: "np:resume"}
	}
	return e, []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		pause,
		discordgo.Button{Label: "Skip", Style: discordgo.PrimaryButton, CustomID: "np:skip"},
		discordgo.Button{Label: "Stop", Style: discordgo.DangerButton, CustomID: "np:stop"},
		discordgo.Button{Label: "Loop", Style: discordgo.SecondaryButton, CustomID: "np:loop"},
		discordgo.Button{Label: "Shuffle", Style: discordgo.SecondaryButton, CustomID: "np:shuffle"},
	}}}
}

// queuePage is one page (from 1) of /queue with previous/next buttons.
func queuePage(st player.Status, page int) (*discordgo.MessageEmbed, []discordgo.MessageComponent) {
	pages := max(1, (len(st.Queue)+queuePageSize-1)/queuePageSize)
	page = min(max(page, 1), pages)
	var sb strings.Builder
	if st.Current != nil {
		sb.WriteString("Now: " + trackLine(*st.Current) + "\n\n")
	}
	if len(st.Queue) == 0 {
		sb.WriteString("The queue is empty. Add tracks with `/play`.")
	}
	var total time.Duration
	for _, t := range st.Queue {
		total += t.Duration
	}
	for i := (page - 1) * queuePageSize; i < min(len(st.Queue), page*queuePageSize); i++ {
		fmt.Fprintf(&sb, "%d. %s\n", i+1, trackLine(st.Queue[i]))
	}
	e := infoEmbed("Queue", sb.String())
	e.Footer = &discordgo.MessageEmbedFooter{Text: fmt.Sprintf("page %d/%d · %s · %s · loop %s",
		page, pages, count(len(st.Queue), "track", "tracks"), resolve.FormatDuration(total), st.Loop)}
	if pages == 1 {
		return e, nil
	}
	return e, []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "◀ Previous", Style: discordgo.SecondaryButton,
			CustomID: fmt.Sprintf("q:%d", page-1), Disabled: page == 1},
		discordgo.Button{Label: "Next ▶", Style: discordgo.SecondaryButton,
			CustomID: fmt.Sprintf("q:%d", page+1), Disabled: page == pages},
	}}}
}

// parsePosition reads a seek position: seconds ("90"), m:ss or h:mm:ss.
func parsePosition(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%w: %q", errBadPosition, s)
	if s == "" || len(s) > 12 {
		return 0, bad
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, bad
	}
	var total time.Duration
	for i, p := range parts {
		if p == "" || len(p) > 6 {
			return 0, bad
		}
		n := 0
		for _, r := range p {
			if r < '0' || r > '9' {
				return 0, bad
			}
			n = n*10 + int(r-'0')
		}
		if i > 0 && n >= 60 {
			return 0, bad
		}
		total = total*60 + time.Duration(n)*time.Second
	}
	return total, nil
}
