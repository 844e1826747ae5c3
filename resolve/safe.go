package resolve

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultTitleLen is the longest title SafeTitle returns, in characters.
const DefaultTitleLen = 100

// markdownSpecial are the characters Discord's markdown gives meaning to.
// https://support.discord.com/hc/en-us/articles/210298617 (Markdown Text 101)
const markdownSpecial = "\\*_~`|[]()<"

// lineStartSpecial only format at the start of a line (headings, lists, quotes).
const lineStartSpecial = "#->"

// SafeTitle returns s ready to be shown inside a Discord message: control and
// invisible characters removed, whitespace collapsed, markdown characters
// escaped with a backslash, and @everyone, @here and <@id>/<@&id>/<#id>
// mentions broken with a zero-width space so they neither format nor ping.
// The result holds at most maxLen characters of the original text (before
// escaping), ending in "…" when cut; maxLen <= 0 means DefaultTitleLen.
// Empty input gives "Untitled". Bots should still send messages with
// allowed_mentions empty: this is the second line of defence.
func SafeTitle(s string, maxLen int) string {
	if maxLen <= 0 {
		maxLen = DefaultTitleLen
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	n := 0
	space := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if unicode.IsControl(r) || isInvisible(r) {
			continue
		}
		sep := space && b.Len() > 0
		if sep {
			n++
		}
		if n >= maxLen {
			b.WriteString("…")
			break
		}
		if sep {
			b.WriteByte(' ')
		}
		space = false
		switch {
		case r == '@':
			b.WriteString("@\u200b")
		case r < utf8.RuneSelf && (strings.IndexByte(markdownSpecial, byte(r)) >= 0 ||
			n == 0 && strings.IndexByte(lineStartSpecial, byte(r)) >= 0):
			// '<' only matters before a mention or a link; escaping it always is harmless.
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '/' && i+1 < len(s) && s[i+1] == '/':
			// "https://" would make a link embed; break the double slash.
			b.WriteString("/\u200b")
		default:
			b.WriteRune(r)
		}
		n++
	}
	if b.Len() == 0 {
		return "Untitled"
	}
	return b.String()
}
