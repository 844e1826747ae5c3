package resolve

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	const id = "dQw4w9WgXcQ"
	const list = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
	tests := []struct {
		in       string
		kind     Kind
		video    string
		playlist string
		text     string
	}{
		{in: "https://www.youtube.com/watch?v=" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://youtube.com/watch?v=" + id + "&t=42s&feature=share", kind: KindYouTubeVideo, video: id},
		{in: "https://m.youtube.com/watch?feature=share&v=" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://music.youtube.com/watch?v=" + id + "&si=abc", kind: KindYouTubeVideo, video: id},
		{in: "https://youtu.be/" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://youtu.be/" + id + "?si=xyz&t=3", kind: KindYouTubeVideo, video: id},
		{in: "youtu.be/" + id, kind: KindYouTubeVideo, video: id},
		{in: "www.youtube.com/watch?v=" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://www.youtube.com/shorts/" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://youtube.com/shorts/" + id + "?feature=share", kind: KindYouTubeVideo, video: id},
		{in: "https://www.youtube.com/embed/" + id, kind: KindYouTubeVideo, video: id},
		{in: "https://www.youtube.com/live/" + id + "?si=1", kind: KindYouTubeVideo, video: id},
		{in: "https://www.youtube-nocookie.com/embed/" + id, kind: KindYouTubeVideo, video: id},
		{in: "HTTPS://WWW.YOUTUBE.COM/watch?v=" + id, kind: KindYouTubeVideo, video: id},
		{in: "  https://youtu.be/" + id + "  ", kind: KindYouTubeVideo, video: id},
		{in: "https://www.youtube.com/playlist?list=" + list, kind: KindYouTubePlaylist, playlist: list},
		{in: "https://music.youtube.com/playlist?list=" + list + "&si=q", kind: KindYouTubePlaylist, playlist: list},
		{in: "https://www.youtube.com/watch?v=" + id + "&list=" + list + "&index=3", kind: KindYouTubePlaylist, playlist: list, video: id},
		// A mix is an endless per-viewer radio: the video is played.
		{in: "https://www.youtube.com/watch?v=" + id + "&list=RD" + id, kind: KindYouTubeVideo, video: id},
		// Not a video id: too short, bad characters.
		{in: "https://www.youtube.com/watch?v=short", kind: KindURL},
		{in: "https://youtu.be/dQw4w9WgXc!", kind: KindURL},
		{in: "https://example.com/song.mp3", kind: KindURL},
		{in: "http://radio.example.net:8000/stream", kind: KindURL},
		{in: "ytsearch:never gonna give you up", kind: KindSearch, text: "never gonna give you up"},
		{in: "YTSEARCH:lofi", kind: KindSearch, text: "lofi"},
		{in: "never gonna give you up", kind: KindSearch, text: "never gonna give you up"},
		{in: "daft\tpunk\n\naround", kind: KindSearch, text: "daft punk around"},
		{in: "lofi", kind: KindSearch, text: "lofi"},
		{in: "file:music/song.ogg", kind: KindLocal, text: "music/song.ogg"},
		{in: "file:///etc/passwd", kind: KindLocal, text: "///etc/passwd"},
	}
	for _, tt := range tests {
		q, err := Classify(tt.in, 0)
		if err != nil {
			t.Errorf("Classify(%q): %v", tt.in, err)
			continue
		}
		if q.Kind != tt.kind || q.VideoID != tt.video || q.PlaylistID != tt.playlist {
			t.Errorf("Classify(%q) = %v video %q list %q, want %v video %q list %q", tt.in, q.Kind, q.VideoID, q.PlaylistID, tt.kind, tt.video, tt.playlist)
		}
		if tt.text != "" && q.Text != tt.text {
			t.Errorf("Classify(%q).Text = %q, want %q", tt.in, q.Text, tt.text)
		}
	}
}

func TestClassifyRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{in: strings.Repeat("a", 10000), want: ErrQueryTooLong, msg: "query too long (max 512 characters)"},
		{in: strings.Repeat("é", 513), want: ErrQueryTooLong},
		{in: strings.Repeat("\u200b", 600), want: ErrQueryTooLong},
		{in: "", want: ErrEmptyQuery},
		{in: " \t\n ", want: ErrEmptyQuery},
		{in: "\x00\x01\x7f", want: ErrEmptyQuery},
		{in: "\u202e\u200b", want: ErrEmptyQuery},
		{in: "ytsearch:   ", want: ErrEmptyQuery},
		{in: "bad\xffutf8", want: ErrBadEncoding},
		{in: "ftp://example.com/a.mp3", want: ErrBadScheme},
		{in: "javascript://alert(1)", want: ErrBadScheme},
		{in: "https://user:pw@example.com/a.mp3", want: ErrBadURL},
		{in: "http://[::1", want: ErrBadURL},
	}
	for _, tt := range tests {
		_, err := Classify(tt.in, 0)
		if !errors.Is(err, tt.want) {
			t.Errorf("Classify(%.40q) error = %v, want %v", tt.in, err, tt.want)
			continue
		}
		if tt.msg != "" && err.Error() != tt.msg {
			t.Errorf("Classify(%.40q) message = %q, want %q", tt.in, err.Error(), tt.msg)
		}
	}
}

func TestCleanStripsControlAndInvisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\x00b\x1bc", "abc"},
		{"rick\u202eroll", "rickroll"},
		{"zero\u200bwidth\ufeff", "zerowidth"},
		{"  many    spaces\r\n", "many spaces"},
		{"日本語 の 歌", "日本語 の 歌"},
		{"emoji 🎵 ok", "emoji 🎵 ok"},
		{"\u0085next line", "next line"},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in, 0)
		if err != nil || got != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzClassify checks that any input either fails with an error or yields a
// query whose fields are consistent and safe to pass to other tools.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123456789012345",
		"youtu.be/dQw4w9WgXcQ", "https://youtube.com/shorts/dQw4w9WgXcQ?x=1",
		"ytsearch:hello", "file:../../etc/passwd", "http://[::1]:80/a.mp3",
		"https://music.youtube.com/playlist?list=OLAK5uy_abc", "plain words", "\x00\u202e",
		"https://exa mple.com", "HTTP://x/%zz", "https://youtu.be/?list=PLabc",
		strings.Repeat("x", 600),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := Classify(in, 100)
		if err != nil {
			if q != (Query{}) {
				t.Fatalf("error %v with non-empty query %+v", err, q)
			}
			return
		}
		if q.Text == "" && q.Kind != KindYouTubePlaylist && q.Kind != KindYouTubeVideo {
			t.Fatalf("empty text for %v from %q", q.Kind, in)
		}
		if utf8.RuneCountInString(in) > 100 {
			t.Fatalf("accepted %d characters with max 100", utf8.RuneCountInString(in))
		}
		for _, r := range q.Text {
			if r < 0x20 || r == 0x7f || isInvisible(r) {
				t.Fatalf("control/invisible %U left in %q", r, q.Text)
			}
		}
		switch q.Kind {
		case KindYouTubeVideo:
			if !validVideoID(q.VideoID) {
				t.Fatalf("bad video id %q", q.VideoID)
			}
		case KindYouTubePlaylist:
			if !validPlaylistID(q.PlaylistID) || (q.VideoID != "" && !validVideoID(q.VideoID)) {
				t.Fatalf("bad ids %+v", q)
			}
		case KindURL:
			l := strings.ToLower(q.Text)
			if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
				t.Fatalf("url kind without http(s): %q", q.Text)
			}
		case KindSearch:
			if strings.HasPrefix(strings.ToLower(q.Text), "ytsearch:") && !strings.HasPrefix(strings.ToLower(in), "ytsearch:") && !strings.Contains(strings.ToLower(in), "ytsearch:") {
				t.Fatalf("search text %q grew a prefix", q.Text)
			}
		case KindLocal:
		default:
			t.Fatalf("unknown kind %v", q.Kind)
		}
	})
}

func TestSafeTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Plain Song", "Plain Song"},
		{"**bold** _it_ ~~s~~ `code` ||spoiler||", `\*\*bold\*\* \_it\_ \~\~s\~\~ \` + "`" + `code\` + "`" + ` \|\|spoiler\|\|`},
		{"@everyone listen", "@\u200beveryone listen"},
		{"hi @here", "hi @\u200bhere"},
		{"<@123456789> and <@&42> <#7>", `\<@` + "\u200b" + `123456789> and \<@` + "\u200b" + `&42> \<#7>`},
		{"[click](https://evil.example)", `\[click\]\(https:/` + "\u200b" + `/evil.example\)`},
		{"# Heading", `\# Heading`},
		{"> quote", `\> quote`},
		{"- item", `\- item`},
		{"AC-DC - Thunder", "AC-DC - Thunder"},
		{"line1\nline2\t\tend", "line1 line2 end"},
		{"rtl\u202eevil", "rtlevil"},
		{"", "Untitled"},
		{"\u200b\u200b", "Untitled"},
		{"bad\xffbyte", "bad\ufffdbyte"},
		{"日本語の歌", "日本語の歌"},
	}
	for _, tt := range tests {
		if got := SafeTitle(tt.in, 0); got != tt.want {
			t.Errorf("SafeTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("ab", 300)
	got := SafeTitle(long, 50)
	if utf8.RuneCountInString(got) != 51 || !strings.HasSuffix(got, "…") {
		t.Errorf("SafeTitle(600 chars, 50) = %q (%d runes), want 50 characters and …", got, utf8.RuneCountInString(got))
	}
}

func TestBestAudio(t *testing.T) {
	opus160 := Format{Itag: 251, MimeType: `audio/webm; codecs="opus"`, Bitrate: 160000}
	opus70 := Format{Itag: 250, MimeType: `audio/webm; codecs="opus"`, Bitrate: 70000}
	opus50 := Format{Itag: 249, MimeType: `audio/webm; codecs="opus"`, Bitrate: 50000}
	m4a := Format{Itag: 140, MimeType: `audio/mp4; codecs="mp4a.40.2"`, Bitrate: 128000}
	m4aLow := Format{Itag: 139, MimeType: `audio/mp4; codecs="mp4a.40.5"`, Bitrate: 48000}
	muxed := Format{Itag: 18, MimeType: `video/mp4`, Bitrate: 500000, AudioChannels: 2}
	videoOnly := Format{Itag: 137, MimeType: `video/mp4`, Bitrate: 4000000}
	tests := []struct {
		name    string
		formats []Format
		want    int
		ok      bool
	}{
		{"251 first", []Format{videoOnly, m4a, opus50, opus160, opus70}, 251, true},
		{"250 over 249", []Format{opus50, m4a, opus70}, 250, true},
		{"249 over m4a", []Format{m4a, opus50}, 249, true},
		{"best audio-only bitrate", []Format{m4aLow, muxed, m4a}, 140, true},
		{"muxed when no audio-only", []Format{videoOnly, muxed}, 18, true},
		{"nothing with audio", []Format{videoOnly}, 0, false},
		{"empty", nil, 0, false},
	}
	for _, tt := range tests {
		f, ok := BestAudio(tt.formats)
		if ok != tt.ok || f.Itag != tt.want {
			t.Errorf("%s: BestAudio = itag %d ok %v, want %d %v", tt.name, f.Itag, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Classify("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=3", 0)
	}
}

func BenchmarkSafeTitle(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		SafeTitle("**Artist** - Song (Official Video) @everyone [HD]", 0)
	}
}
