package resolve

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what a query names.
type Kind int

// Query kinds, as Classify finds them.
const (
	// KindSearch is free text (or "ytsearch:" text) to search for.
	KindSearch Kind = iota + 1
	// KindURL is an http(s) link to a media file or stream.
	KindURL
	// KindYouTubeVideo is a link to one YouTube video.
	KindYouTubeVideo
	// KindYouTubePlaylist is a link to a YouTube playlist.
	KindYouTubePlaylist
	// KindLocal is "file:NAME", a file inside the operator's media folder.
	KindLocal
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindSearch:
		return "search"
	case KindURL:
		return "url"
	case KindYouTubeVideo:
		return "youtube-video"
	case KindYouTubePlaylist:
		return "youtube-playlist"
	case KindLocal:
		return "local"
	}
	return "unknown"
}

// Query is a classified, cleaned user query.
type Query struct {
	Kind Kind
	// Text is the cleaned query: search words for KindSearch, the URL for
	// KindURL and YouTube kinds, the relative name for KindLocal.
	Text string
	// VideoID is the 11-character YouTube video id (KindYouTubeVideo, and
	// KindYouTubePlaylist when the link also selects a video).
	VideoID string
	// PlaylistID is the YouTube playlist id (KindYouTubePlaylist).
	PlaylistID string
}

// Errors Classify returns. Their messages are written for the person who typed the query.
var (
	ErrEmptyQuery   = errors.New("the query is empty: give a link or some words to search for")
	ErrQueryTooLong = errors.New("query too long")
	ErrBadEncoding  = errors.New("the query is not valid text (UTF-8)")
	ErrBadURL       = errors.New("that link is not a valid http(s) URL")
	ErrBadScheme    = errors.New("only http and https links can be played")
)

// DefaultMaxQueryLen is the longest query accepted, in characters.
const DefaultMaxQueryLen = 512

// Prefixes that select a source explicitly.
const (
	searchPrefix = "ytsearch:"
	localPrefix  = "file:"
)

// Clean removes control and invisible formatting characters from q (tabs and
// newlines become spaces), collapses runs of spaces and trims it. It rejects
// queries longer than maxLen characters (counted before cleaning, so a long
// run of invisible characters cannot hide) and invalid UTF-8.
func Clean(q string, maxLen int) (string, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxQueryLen
	}
	// Cheap bound first: more bytes than 4 per allowed rune is always too long.
	if len(q) > 4*maxLen || utf8.RuneCountInString(q) > maxLen {
		return "", fmt.Errorf("%w (max %d characters)", ErrQueryTooLong, maxLen)
	}
	if !utf8.ValidString(q) {
		return "", ErrBadEncoding
	}
	var b strings.Builder
	b.Grow(len(q))
	space := false
	for _, r := range q {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || isInvisible(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" {
		return "", ErrEmptyQuery
	}
	return out, nil
}

// isInvisible reports format characters that change how text looks without
// being seen: zero-width characters, bidirectional overrides, the BOM.
func isInvisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F, // zero width space/joiners, LRM, RLM
		r >= 0x202A && r <= 0x202E, // bidi embeddings and overrides
		r >= 0x2060 && r <= 0x2064, // word joiner, invisible operators
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0xFEFF, r == 0x00AD, r == 0x180E:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// Classify cleans q and says what it names. Plain text and "ytsearch:" text
// are searches, "file:NAME" is a local file, and links are sorted into
// YouTube videos, YouTube playlists and other http(s) media.
func Classify(q string, maxLen int) (Query, error) {
	text, err := Clean(q, maxLen)
	if err != nil {
		return Query{}, err
	}
	lower := strings.ToLower(text)
	switch {
	case strings.HasPrefix(lower, searchPrefix):
		s := strings.TrimSpace(text[len(searchPrefix):])
		if s == "" {
			return Query{}, ErrEmptyQuery
		}
		return Query{Kind: KindSearch, Text: s}, nil
	case strings.HasPrefix(lower, localPrefix):
		return Query{Kind: KindLocal, Text: text[len(localPrefix):]}, nil
	}
	if strings.Contains(text, " ") {
		return Query{Kind: KindSearch, Text: text}, nil
	}
	if !strings.Contains(lower, "://") {
		// A bare "youtu.be/ID" or "youtube.com/watch?v=ID" without a scheme.
		if looksLikeYouTubeHost(lower) {
			text = "https://" + text
			lower = "https://" + lower
		} else {
			return Query{Kind: KindSearch, Text: text}, nil
		}
	}
	u, err := url.Parse(text)
	if err != nil || u.Host == "" {
		if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
			return Query{}, ErrBadURL
		}
		return Query{}, ErrBadScheme
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return Query{}, ErrBadScheme
	}
	if u.User != nil {
		return Query{}, fmt.Errorf("%w (links with a user name or password are not accepted)", ErrBadURL)
	}
	if q, ok := classifyYouTube(u); ok {
		q.Text = u.String()
		return q, nil
	}
	return Query{Kind: KindURL, Text: u.String()}, nil
}

// YouTube hosts whose links are read as YouTube videos and playlists.
var youTubeHosts = map[string]bool{
	"youtube.com":              true,
	"www.youtube.com":          true,
	"m.youtube.com":            true,
	"music.youtube.com":        true,
	"youtu.be":                 true,
	"www.youtu.be":             true,
	"youtube-nocookie.com":     true,
	"www.youtube-nocookie.com": true,
}

func looksLikeYouTubeHost(lower string) bool {
	host, _, _ := strings.Cut(lower, "/")
	return youTubeHosts[host]
}

// classifyYouTube reads the common YouTube link forms: watch?v=ID,
// youtu.be/ID, shorts/ID, embed/ID, live/ID, v/ID and playlist?list=ID,
// with any extra parameters. A watch link that also carries a (non-mix)
// list= is a playlist starting at that video.
func classifyYouTube(u *url.URL) (Query, bool) {
	host := strings.ToLower(u.Hostname())
	if !youTubeHosts[host] {
		return Query{}, false
	}
	vals := u.Query()
	list := vals.Get("list")
	if !validPlaylistID(list) {
		list = ""
	}
	var id string
	path := strings.Trim(u.Path, "/")
	if host == "youtu.be" || host == "www.youtu.be" {
		id, _, _ = strings.Cut(path, "/")
	} else {
		first, rest, _ := strings.Cut(path, "/")
		switch strings.ToLower(first) {
		case "watch":
			id = vals.Get("v")
		case "shorts", "embed", "live", "v", "e":
			id, _, _ = strings.Cut(rest, "/")
		case "playlist":
			if list != "" {
				return Query{Kind: KindYouTubePlaylist, PlaylistID: list}, true
			}
			return Query{}, false
		}
	}
	if !validVideoID(id) {
		if list != "" {
			return Query{Kind: KindYouTubePlaylist, PlaylistID: list}, true
		}
		return Query{}, false
	}
	// Mixes ("RD...") are endless radio lists generated per viewer: play the video.
	if list != "" && !strings.HasPrefix(list, "RD") {
		return Query{Kind: KindYouTubePlaylist, PlaylistID: list, VideoID: id}, true
	}
	return Query{Kind: KindYouTubeVideo, VideoID: id}, true
}

// validVideoID reports whether id has the shape of a YouTube video id: 11
// characters from the URL-safe base64 alphabet.
func validVideoID(id string) bool {
	if len(id) != 11 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return false
		}
	}
	return true
}

// validPlaylistID reports whether id has the shape of a YouTube playlist id.
func validPlaylistID(id string) bool {
	if len(id) < 2 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
