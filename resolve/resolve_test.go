package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaverbot/quaver/store"
)

// fakeYouTube serves canned metadata and counts calls.
type fakeYouTube struct {
	mu        sync.Mutex
	videos    map[string]Video
	playlists map[string]Playlist
	search    map[string][]Video
	searchErr error
	calls     map[string]int
}

func (f *fakeYouTube) count(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
}

func (f *fakeYouTube) Calls(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeYouTube) Video(_ context.Context, id string) (Video, error) {
	f.count("video")
	v, ok := f.videos[id]
	if !ok {
		return Video{}, errors.New("video unavailable")
	}
	return v, nil
}

func (f *fakeYouTube) StreamURL(_ context.Context, v Video, fm Format) (string, error) {
	f.count("stream")
	return fmt.Sprintf("https://media.example/%s/%d", v.ID, fm.Itag), nil
}

func (f *fakeYouTube) Playlist(_ context.Context, id string) (Playlist, error) {
	f.count("playlist")
	p, ok := f.playlists[id]
	if !ok {
		return Playlist{}, errors.New("playlist unavailable")
	}
	return p, nil
}

func (f *fakeYouTube) Search(_ context.Context, text string, limit int) ([]Video, error) {
	f.count("search")
	if f.searchErr != nil {
		return nil, f.searchErr
	}
	r := f.search[strings.ToLower(text)]
	if len(r) > limit {
		r = r[:limit]
	}
	return r, nil
}

func opusFormats() []Format {
	return []Format{
		{Itag: 18, MimeType: "video/mp4", AudioChannels: 2, Bitrate: 500000},
		{Itag: 140, MimeType: "audio/mp4", Bitrate: 128000},
		{Itag: 251, MimeType: `audio/webm; codecs="opus"`, Bitrate: 160000},
	}
}

func noYTDLP(string) (string, error) { return "", errors.New("not found") }

func newTestResolver(t *testing.T, yt YouTube, mutate func(*Config)) *Resolver {
	t.Helper()
	cfg := Config{YouTube: yt, LookPath: noYTDLP, AllowPrivateAddresses: true, ProbeTimeout: 3 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	r := New(cfg)
	t.Cleanup(r.hc.CloseIdleConnections)
	return r
}

func mediaServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	ogg := append([]byte("OggS\x00\x02"), make([]byte, 600)...)
	mux.HandleFunc("/song.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write([]byte("ID3\x04"))
	})
	mux.HandleFunc("/My_Track%20Name.ogg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ogg")
		w.Write(ogg)
	})
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(ogg)
	})
	mux.HandleFunc("/nohead.opus", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "audio/ogg")
		w.Write(ogg)
	})
	mux.HandleFunc("/radio", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("icy-name", "Night **Radio** @everyone")
		w.Write([]byte{0xFF, 0xFB, 0x90, 0x00})
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><html><body>hi</body></html>"))
	})
	mux.HandleFunc("/untyped-page", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		w.Write([]byte("<html><head><title>x</title></head><body>not audio</body></html>"))
	})
	mux.HandleFunc("/data.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"a":1}`))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/song.mp3", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestResolveHTTP(t *testing.T) {
	srv := mediaServer(t)
	r := newTestResolver(t, &fakeYouTube{}, nil)
	tests := []struct {
		path    string
		title   string
		wantErr string
		is      error
	}{
		{path: "/song.mp3", title: "song"},
		{path: "/My_Track%20Name.ogg", title: "My Track Name"},
		{path: "/blob", title: "blob"},
		{path: "/nohead.opus", title: "nohead"},
		{path: "/radio", title: "Night **Radio** @everyone"},
		{path: "/redirect", title: "redirect"},
		{path: "/missing.mp3", wantErr: "the server answered 404 Not Found"},
		{path: "/gone", wantErr: "the server answered 410 Gone"},
		{path: "/page", wantErr: "that link is a web page, not audio", is: ErrWebPage},
		{path: "/untyped-page", wantErr: "that link is a web page, not audio", is: ErrWebPage},
		{path: "/data.json", wantErr: "that link is not audio (the server says it is application/json)", is: ErrNotAudio},
		{path: "/loop", wantErr: "that link redirects too many times", is: ErrTooManyHops},
	}
	for _, tt := range tests {
		ts, err := r.Resolve(context.Background(), srv.URL+tt.path)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("%s: error %v, want %q", tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if len(ts) != 1 || ts[0].Title != tt.title || ts[0].URL != srv.URL+tt.path || ts[0].ID != "url:"+srv.URL+tt.path {
			t.Errorf("%s: got %+v, want one track titled %q", tt.path, ts, tt.title)
		}
	}
}

func TestResolveHTTPRefusesPrivateByDefault(t *testing.T) {
	srv := mediaServer(t)
	r := New(Config{YouTube: &fakeYouTube{}, LookPath: noYTDLP})
	t.Cleanup(r.hc.CloseIdleConnections)
	_, err := r.Resolve(context.Background(), srv.URL+"/song.mp3")
	if !errors.Is(err, ErrPrivateTarget) {
		t.Fatalf("loopback link: error %v, want %v", err, ErrPrivateTarget)
	}
}

func TestResolveHTTPUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	r := newTestResolver(t, &fakeYouTube{}, nil)
	_, err := r.Resolve(context.Background(), addr+"/a.mp3")
	if err == nil || !strings.HasPrefix(err.Error(), "could not reach the server") {
		t.Fatalf("closed server: error %v", err)
	}
}

const vid = "dQw4w9WgXcQ"

func ytFixture() *fakeYouTube {
	return &fakeYouTube{
		videos: map[string]Video{
			vid:           {ID: vid, Title: "Never Gonna Give You Up", Author: "Rick Astley", Duration: 213 * time.Second, Formats: opusFormats()},
			"noaudio0000": {ID: "noaudio0000", Title: "silent", Formats: []Format{{Itag: 137, MimeType: "video/mp4"}}},
		},
		playlists: map[string]Playlist{
			"PLgood12345": {ID: "PLgood12345", Title: "Mix", Videos: []Video{
				{ID: "aaaaaaaaaaa", Title: "A", Duration: time.Minute},
				{ID: "bad id", Title: "skipped"},
				{ID: "bbbbbbbbbbb", Title: "B", Duration: 2 * time.Minute},
				{ID: "ccccccccccc", Title: "C", Duration: 3 * time.Minute},
			}},
		},
		search: map[string][]Video{
			"rick": {{ID: vid, Title: "Never Gonna Give You Up", Author: "Rick Astley", Duration: 213 * time.Second}, {ID: "bbbbbbbbbbb", Title: "B"}},
		},
	}
}

func TestResolveYouTubeLibrary(t *testing.T) {
	yt := ytFixture()
	r := newTestResolver(t, yt, func(c *Config) { c.MaxPlaylistTracks = 2 })
	ctx := context.Background()

	for _, link := range []string{"https://youtu.be/" + vid + "?si=x", "https://music.youtube.com/watch?v=" + vid, "https://www.youtube.com/shorts/" + vid} {
		ts, err := r.Resolve(ctx, link)
		if err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		want := store.Track{ID: "yt:" + vid, URL: "https://www.youtube.com/watch?v=" + vid, Title: "Never Gonna Give You Up", Author: "Rick Astley", Duration: 213 * time.Second}
		if len(ts) != 1 || ts[0] != want {
			t.Fatalf("%s: got %+v, want %+v", link, ts, want)
		}
		src, err := r.Source(ctx, ts[0])
		if err != nil || src != "https://media.example/"+vid+"/251" {
			t.Fatalf("Source = %q, %v; want the itag 251 stream", src, err)
		}
	}

	ts, err := r.Resolve(ctx, "https://www.youtube.com/playlist?list=PLgood12345")
	if err != nil || len(ts) != 2 || ts[0].Title != "A" || ts[1].Title != "B" {
		t.Fatalf("playlist capped at 2: %+v, %v", ts, err)
	}
	ts, err = r.Resolve(ctx, "https://www.youtube.com/watch?v=bbbbbbbbbbb&list=PLgood12345&index=2")
	if err != nil || len(ts) != 2 || ts[0].Title != "B" || ts[1].Title != "C" {
		t.Fatalf("playlist from selected video: %+v, %v", ts, err)
	}

	ts, err = r.Resolve(ctx, "ytsearch:rick")
	if err != nil || len(ts) != 1 || ts[0].ID != "yt:"+vid {
		t.Fatalf("ytsearch: %+v, %v", ts, err)
	}
	ts, err = r.Search(ctx, "rick", 5)
	if err != nil || len(ts) != 2 {
		t.Fatalf("Search: %+v, %v", ts, err)
	}
	if _, err := r.Resolve(ctx, "nothing matches this"); !errors.Is(err, ErrNothingFound) {
		t.Fatalf("empty search: %v", err)
	}

	// Library fails and there is no yt-dlp: the library's reason is shown.
	_, err = r.Resolve(ctx, "https://youtu.be/zzzzzzzzzzz")
	if err == nil || err.Error() != "could not load that YouTube video: video unavailable" {
		t.Fatalf("unavailable video: %v", err)
	}
	_, err = r.Resolve(ctx, "https://youtu.be/noaudio0000")
	if err == nil || !strings.Contains(err.Error(), "no audio format") {
		t.Fatalf("video without audio: %v", err)
	}
}

// fakeYTDLP writes a yt-dlp stand-in script into a fresh folder put first on
// PATH. It logs its arguments to args.log and answers from canned JSON.
func fakeYTDLP(t *testing.T) (logPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath = filepath.Join(dir, "args.log")
	script := `#!/bin/sh
echo "$*" >> "` + logPath + `"
case "$*" in
  *--dump-single-json*) ;;
  *) echo "ERROR: expected --dump-single-json" >&2; exit 2 ;;
esac
case "$*" in
  *ytsearch*"nothing at all"*) echo '{"_type":"playlist","entries":[]}' ;;
  *ytsearch*) echo '{"_type":"playlist","id":"q","entries":[
     {"id":"eeeeeeeeeee","title":"Search One","uploader":"Up","duration":61.5},
     {"id":"fffffffffff","title":"Search Two","channel":"Chan","duration":10}]}' ;;
  *list=PLfallback*) echo '{"_type":"playlist","id":"PLfallback","title":"L","entries":[
     {"id":"ggggggggggg","title":"G1","duration":5},{"id":"hhhhhhhhhhh","title":"G2","duration":6}]}' ;;
  *watch?v=yyyyyyyyyyy*) echo '{"id":"yyyyyyyyyyy","title":"Fallback **Title**","uploader":"Someone","duration":123,
     "thumbnail":"https://i.example/y.jpg","formats":[
       {"format_id":"140","url":"https://media.example/140","acodec":"mp4a.40.2","vcodec":"none","abr":129,"ext":"m4a"},
       {"format_id":"251","url":"https://media.example/251","acodec":"opus","vcodec":"none","abr":135,"ext":"webm"},
       {"format_id":"137","url":"https://media.example/137","acodec":"none","vcodec":"avc1","ext":"mp4"}]}' ;;
  *garbage*) echo 'this is not json' ;;
  *soundcloud-page*) echo '{"id":"123","title":"Cloud Song","uploader":"DJ","duration":100,"url":"https://cdn.example/cloud.mp3"}' ;;
  *) echo "ERROR: [youtube] $*: Video unavailable" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "yt-dlp"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logPath
}

func TestResolveYTDLPFallback(t *testing.T) {
	logPath := fakeYTDLP(t)
	yt := ytFixture()
	yt.searchErr = ErrSearchUnsupported
	r := New(Config{YouTube: yt, AllowPrivateAddresses: true}) // LookPath nil: the real PATH lookup
	ctx := context.Background()

	ts, err := r.Resolve(ctx, "https://www.youtube.com/watch?v=yyyyyyyyyyy")
	if err != nil {
		t.Fatalf("fallback video: %v", err)
	}
	want := store.Track{ID: "yt:yyyyyyyyyyy", URL: "https://www.youtube.com/watch?v=yyyyyyyyyyy", Title: "Fallback **Title**",
		Author: "Someone", Duration: 123 * time.Second, Artwork: "https://i.example/y.jpg"}
	if len(ts) != 1 || ts[0] != want {
		t.Fatalf("fallback video = %+v, want %+v", ts, want)
	}
	if src, err := r.Source(ctx, ts[0]); err != nil || src != "https://media.example/251" {
		t.Fatalf("fallback Source = %q, %v; want the opus format", src, err)
	}

	ts, err = r.Resolve(ctx, "https://www.youtube.com/playlist?list=PLfallback")
	if err != nil || len(ts) != 2 || ts[0].Title != "G1" || ts[1].Duration != 6*time.Second {
		t.Fatalf("fallback playlist = %+v, %v", ts, err)
	}

	ts, err = r.Search(ctx, "ytsearch:lofi beats", 2)
	if err != nil || len(ts) != 2 || ts[0].ID != "yt:eeeeeeeeeee" || ts[0].Duration != 61500*time.Millisecond || ts[1].Author != "Chan" {
		t.Fatalf("yt-dlp search = %+v, %v", ts, err)
	}
	if _, err := r.Resolve(ctx, "nothing at all"); !errors.Is(err, ErrNothingFound) {
		t.Fatalf("empty yt-dlp search: %v", err)
	}

	_, err = r.Resolve(ctx, "https://youtu.be/zzzzzzzzzzz")
	if err == nil || !strings.Contains(err.Error(), "video unavailable") || !strings.Contains(err.Error(), "Video unavailable") {
		t.Fatalf("both failing: %v (want both reasons)", err)
	}

	log, _ := os.ReadFile(logPath)
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if !strings.Contains(line, "--dump-single-json") || !strings.Contains(line, " -- ") {
			t.Errorf("yt-dlp run without --dump-single-json or --: %q", line)
		}
	}
	if !strings.Contains(string(log), "ytsearch2:lofi beats") {
		t.Errorf("search did not ask yt-dlp for 2 results: %s", log)
	}
}

func TestResolveYTDLPGarbageAndTimeout(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\ncase \"$*\" in *slow*) exec sleep 30 ;; *huge*) head -c 17000000 /dev/zero ;; *) echo 'not json' ;; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "yt-dlp"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) (string, error) { return filepath.Join(dir, name), nil }
	big := New(Config{YouTube: &fakeYouTube{searchErr: ErrSearchUnsupported}, YTDLPTimeout: 20 * time.Second, LookPath: lookup})
	_, err := big.Resolve(context.Background(), "some words")
	if err == nil || !strings.Contains(err.Error(), "not its JSON") {
		t.Fatalf("garbage output: %v", err)
	}
	_, err = big.Resolve(context.Background(), "huge words")
	if err == nil || !strings.Contains(err.Error(), "more than 16777216 bytes") {
		t.Fatalf("oversized output: %v", err)
	}
	r := New(Config{YouTube: &fakeYouTube{searchErr: ErrSearchUnsupported}, YTDLPTimeout: 300 * time.Millisecond, LookPath: lookup})
	_, err = r.Resolve(context.Background(), "slow words")
	if err == nil || err.Error() != "the search failed: yt-dlp took too long: context deadline exceeded" {
		t.Fatalf("slow yt-dlp: %v", err)
	}
}

func TestSearchWithoutYTDLP(t *testing.T) {
	r := newTestResolver(t, &fakeYouTube{searchErr: ErrSearchUnsupported}, nil)
	_, err := r.Resolve(context.Background(), "lofi beats")
	if !errors.Is(err, ErrSearchUnsupported) {
		t.Fatalf("search with neither: %v", err)
	}
}

func TestResolveLocal(t *testing.T) {
	base := t.TempDir()
	media := filepath.Join(base, "media")
	outside := filepath.Join(base, "secret.mp3")
	must(t, os.MkdirAll(filepath.Join(media, "albums", "one"), 0o755))
	must(t, os.WriteFile(filepath.Join(media, "albums", "one", "Track_01.flac"), []byte("fLaC"), 0o644))
	must(t, os.WriteFile(outside, []byte("ID3"), 0o644))
	must(t, os.Symlink(filepath.Join(media, "albums", "one", "Track_01.flac"), filepath.Join(media, "inside-link.flac")))
	must(t, os.Symlink(outside, filepath.Join(media, "escape.mp3")))
	must(t, os.Symlink(base, filepath.Join(media, "escape-dir")))
	must(t, os.Symlink("../secret.mp3", filepath.Join(media, "relative-escape.mp3")))

	r := newTestResolver(t, &fakeYouTube{}, func(c *Config) { c.MediaDir = media })
	ctx := context.Background()
	tests := []struct {
		q     string
		title string
		want  error
	}{
		{q: "file:albums/one/Track_01.flac", title: "Track 01"},
		{q: "file:albums//one/./Track_01.flac", title: "Track 01"},
		{q: "file:inside-link.flac", title: "inside-link"},
		{q: "file:../secret.mp3", want: ErrLocalParent},
		{q: "file:albums/../../secret.mp3", want: ErrLocalParent},
		{q: `file:albums\..\..\secret.mp3`, want: ErrLocalParent},
		{q: "file:" + outside, want: ErrLocalAbsolute},
		{q: "file:///etc/passwd", want: ErrLocalAbsolute},
		{q: "file:escape.mp3", want: ErrLocalOutside},
		{q: "file:relative-escape.mp3", want: ErrLocalOutside},
		{q: "file:escape-dir/secret.mp3", want: ErrLocalOutside},
		{q: "file:nope.mp3", want: ErrLocalNotFound},
		{q: "file:albums", want: ErrLocalNotFile},
	}
	for _, tt := range tests {
		ts, err := r.Resolve(ctx, tt.q)
		if tt.want != nil {
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: error %v, want %v", tt.q, err, tt.want)
			}
			continue
		}
		if err != nil || len(ts) != 1 || ts[0].Title != tt.title || !strings.HasPrefix(ts[0].URL, "file:") {
			t.Errorf("%s: %+v, %v", tt.q, ts, err)
			continue
		}
		src, err := r.Source(ctx, ts[0])
		real, _ := filepath.EvalSymlinks(filepath.Join(media, "albums", "one", "Track_01.flac"))
		if err != nil || src != real {
			t.Errorf("%s: Source = %q, %v; want %q", tt.q, src, err, real)
		}
	}

	// A symlink swapped to point outside after Resolve is caught by Source.
	ts, err := r.Resolve(ctx, "file:inside-link.flac")
	must(t, err)
	must(t, os.Remove(filepath.Join(media, "inside-link.flac")))
	must(t, os.Symlink(outside, filepath.Join(media, "inside-link.flac")))
	if _, err := r.Source(ctx, ts[0]); !errors.Is(err, ErrLocalOutside) {
		t.Errorf("swapped symlink: Source error %v, want %v", err, ErrLocalOutside)
	}

	off := newTestResolver(t, &fakeYouTube{}, nil)
	if _, err := off.Resolve(ctx, "file:albums/one/Track_01.flac"); !errors.Is(err, ErrLocalDisabled) {
		t.Errorf("no media folder: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHostileQueries(t *testing.T) {
	yt := ytFixture()
	yt.search["**bold** @everyone"] = []Video{{ID: vid, Title: "[x](https://evil) @everyone <@1>", Author: "**me**"}}
	r := newTestResolver(t, yt, nil)
	ctx := context.Background()
	_, err := r.Resolve(ctx, strings.Repeat("ä", 10000))
	if err == nil || err.Error() != "query too long (max 512 characters)" {
		t.Fatalf("10,000 characters: %v", err)
	}
	if yt.Calls("search") != 0 {
		t.Fatalf("a rejected query reached the search")
	}
	ts, err := r.Resolve(ctx, "**bold**\u202e @everyone\x00")
	if err != nil {
		t.Fatal(err)
	}
	if got := SafeTitle(ts[0].Title, 0); strings.Contains(got, "@everyone") || strings.Contains(got, "](") || strings.Contains(got, "<@1") {
		t.Fatalf("unsafe title for display: %q", got)
	}
	_, err = r.Resolve(ctx, "zzz unknown \u0000 \u200b")
	if err == nil || !strings.HasPrefix(err.Error(), `nothing found for "zzz unknown"`) {
		t.Fatalf("not found message: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	yt := ytFixture()
	yt.search["rick astley"] = yt.search["rick"]
	now := time.Unix(1000, 0)
	r := newTestResolver(t, yt, func(c *Config) { c.Now = func() time.Time { return now }; c.SuggestTTL = time.Minute })
	ctx := context.Background()

	s, err := r.Suggest(ctx, "Rick Astley")
	if err != nil || len(s) != 2 {
		t.Fatalf("Suggest = %+v, %v", s, err)
	}
	if s[0].Name != "Never Gonna Give You Up — Rick Astley (3:33)" || s[0].Value != "https://youtu.be/"+vid {
		t.Fatalf("first suggestion %+v", s[0])
	}
	if _, err := r.Suggest(ctx, "rick  astley"); err != nil || yt.Calls("search") != 1 {
		t.Fatalf("cached prefix searched again: %d searches, %v", yt.Calls("search"), err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := r.Suggest(ctx, "rick astley"); err != nil || yt.Calls("search") != 2 {
		t.Fatalf("expired entry not refreshed: %d searches", yt.Calls("search"))
	}
	if s, _ := r.Suggest(ctx, "ri"); s != nil || yt.Calls("search") != 2 {
		t.Fatalf("two letters searched: %+v", s)
	}
	if s, err := r.Suggest(ctx, "https://youtu.be/"+vid); err != nil || len(s) != 1 || s[0].Value != "https://youtu.be/"+vid {
		t.Fatalf("link suggestion %+v %v", s, err)
	}
	if s, err := r.Suggest(ctx, ""); s != nil || err != nil {
		t.Fatalf("empty prefix %+v %v", s, err)
	}
	long := store.Track{Title: strings.Repeat("L", 200), Author: "A", Duration: 3725 * time.Second}
	if n := choiceName(long); len([]rune(n)) != 100 || !strings.HasSuffix(n, "… (1:02:05)") {
		t.Fatalf("long choice name %q (%d)", n, len([]rune(n)))
	}
}

func TestSuggestCacheEvicts(t *testing.T) {
	c := newSuggestCache(2)
	exp := time.Unix(100, 0)
	c.put("a", []Suggestion{{Name: "a"}}, exp)
	c.put("b", []Suggestion{{Name: "b"}}, exp)
	c.put("c", []Suggestion{{Name: "c"}}, exp)
	if _, ok := c.get("a", time.Unix(0, 0)); ok {
		t.Fatal("oldest entry kept beyond size")
	}
	if _, ok := c.get("c", time.Unix(0, 0)); !ok {
		t.Fatal("newest entry missing")
	}
	if len(c.items) != 2 || len(c.order) != 2 {
		t.Fatalf("cache holds %d/%d", len(c.items), len(c.order))
	}
}

func TestResolveWebPageThroughYTDLP(t *testing.T) {
	fakeYTDLP(t)
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html></html>"))
	}
	mux.HandleFunc("/soundcloud-page", page)
	mux.HandleFunc("/blog", page)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := New(Config{YouTube: &fakeYouTube{}, AllowPrivateAddresses: true})
	t.Cleanup(r.hc.CloseIdleConnections)
	ctx := context.Background()
	ts, err := r.Resolve(ctx, srv.URL+"/soundcloud-page")
	if err != nil || len(ts) != 1 || ts[0].Title != "Cloud Song" || ts[0].Author != "DJ" || ts[0].Duration != 100*time.Second {
		t.Fatalf("page yt-dlp understands: %+v, %v", ts, err)
	}
	if src, err := r.Source(ctx, ts[0]); err != nil || src != "https://cdn.example/cloud.mp3" {
		t.Fatalf("Source = %q, %v", src, err)
	}
	// A page yt-dlp cannot read keeps the web-page message.
	if _, err := r.Resolve(ctx, srv.URL+"/blog"); !errors.Is(err, ErrWebPage) {
		t.Fatalf("plain web page: %v", err)
	}
}

func TestResolveHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r := newTestResolver(t, &fakeYouTube{}, func(c *Config) { c.ProbeTimeout = 200 * time.Millisecond })
	_, err := r.Resolve(context.Background(), srv.URL+"/slow.mp3")
	if err == nil || err.Error() != "the server did not answer in time" {
		t.Fatalf("slow server: %v", err)
	}
}

func TestSuggestConcurrent(t *testing.T) {
	yt := ytFixture()
	r := newTestResolver(t, yt, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := r.Suggest(context.Background(), []string{"rick", "RICK", "rick "}[(g+i)%3]); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if n := yt.Calls("search"); n < 1 || n > 8 {
		t.Fatalf("%d searches for one cached prefix", n)
	}
}
