// Package resolve turns what a user typed after /play into playable tracks:
// http(s) links to media files and streams, YouTube videos, playlists and
// searches (through github.com/kkdai/youtube/v2, falling back to a yt-dlp
// executable), and files inside the operator's media folder. It owns input
// hygiene for queries (length, control characters) and for titles shown
// back to users (SafeTitle).
//
// Error messages returned by this package are written for the person who
// typed the query; a bot can show err.Error() as is.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/quaverbot/quaver/store"
)

// Config configures a Resolver. Zero fields take the DefaultConfig value.
type Config struct {
	// MediaDir is the folder "file:NAME" queries may read; empty disables local files.
	MediaDir string
	// YouTube is the YouTube metadata source; nil means NewYouTubeClient(nil).
	YouTube YouTube
	// LookPath finds executables (yt-dlp); nil means exec.LookPath.
	LookPath func(name string) (string, error)
	// YTDLP is the yt-dlp executable name looked up with LookPath ("yt-dlp").
	YTDLP string
	// HTTP probes links; nil means a client that refuses private addresses
	// (unless AllowPrivateAddresses) and follows at most 5 redirects.
	HTTP *http.Client
	// AllowPrivateAddresses lets links point at loopback and private networks
	// (tests, home setups). Only used when HTTP is nil.
	AllowPrivateAddresses bool
	// ProbeTimeout bounds checking one link (HEAD, then GET of the first bytes).
	ProbeTimeout time.Duration
	// YTDLPTimeout bounds one yt-dlp run.
	YTDLPTimeout time.Duration
	// MaxQueryLen is the longest query accepted, in characters.
	MaxQueryLen int
	// MaxPlaylistTracks caps how many tracks one playlist adds.
	MaxPlaylistTracks int
	// SearchResults is how many results Search returns by default.
	SearchResults int
	// SuggestCacheSize and SuggestTTL bound the autocomplete cache.
	SuggestCacheSize int
	SuggestTTL       time.Duration
	// Now is the clock (autocomplete cache expiry); nil means time.Now.
	Now func() time.Time
	// Logger receives debug logs of fallbacks; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the configuration used for zero fields.
func DefaultConfig() Config {
	return Config{
		YTDLP:             "yt-dlp",
		ProbeTimeout:      6 * time.Second,
		YTDLPTimeout:      30 * time.Second,
		MaxQueryLen:       DefaultMaxQueryLen,
		MaxPlaylistTracks: 500,
		SearchResults:     5,
		SuggestCacheSize:  512,
		SuggestTTL:        10 * time.Minute,
	}
}

// Resolver resolves queries to tracks. It is safe for concurrent use.
type Resolver struct {
	cfg    Config
	yt     YouTube
	ytdlp  ytdlp
	hc     *http.Client
	now    func() time.Time
	log    *slog.Logger
	cacheM sync.Mutex
	cache  suggestCache
}

// New returns a Resolver for cfg.
func New(cfg Config) *Resolver {
	d := DefaultConfig()
	if cfg.YTDLP == "" {
		cfg.YTDLP = d.YTDLP
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = d.ProbeTimeout
	}
	if cfg.YTDLPTimeout <= 0 {
		cfg.YTDLPTimeout = d.YTDLPTimeout
	}
	if cfg.MaxQueryLen <= 0 {
		cfg.MaxQueryLen = d.MaxQueryLen
	}
	if cfg.MaxPlaylistTracks <= 0 {
		cfg.MaxPlaylistTracks = d.MaxPlaylistTracks
	}
	if cfg.SearchResults <= 0 {
		cfg.SearchResults = d.SearchResults
	}
	if cfg.SuggestCacheSize <= 0 {
		cfg.SuggestCacheSize = d.SuggestCacheSize
	}
	if cfg.SuggestTTL <= 0 {
		cfg.SuggestTTL = d.SuggestTTL
	}
	r := &Resolver{cfg: cfg, yt: cfg.YouTube, hc: cfg.HTTP, now: cfg.Now, log: cfg.Logger}
	if r.hc == nil {
		r.hc = newHTTPClient(cfg.AllowPrivateAddresses)
	}
	if r.yt == nil {
		r.yt = NewYouTubeClient(r.hc)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	lp := cfg.LookPath
	if lp == nil {
		lp = exec.LookPath
	}
	r.ytdlp = ytdlp{lookPath: lp, name: cfg.YTDLP, timeout: cfg.YTDLPTimeout}
	r.cache = newSuggestCache(cfg.SuggestCacheSize)
	return r
}

// Track ID prefixes (store.Track.ID is stable per source).
const (
	idYouTube = "yt:"
	idURL     = "url:"
	idPage    = "page:"
	idFile    = "file:"
)

// ErrNothingFound is returned when a search has no results.
var ErrNothingFound = errors.New("nothing found")

// Resolve returns the tracks query names: one for a link, a file or a
// search (the best match), several for a playlist.
func (r *Resolver) Resolve(ctx context.Context, query string) ([]store.Track, error) {
	q, err := Classify(query, r.cfg.MaxQueryLen)
	if err != nil {
		return nil, err
	}
	switch q.Kind {
	case KindLocal:
		rel, _, err := localFile(r.cfg.MediaDir, q.Text)
		if err != nil {
			return nil, err
		}
		return []store.Track{{ID: idFile + rel, URL: idFile + rel, Title: titleFromURL(&url.URL{Path: rel})}}, nil
	case KindURL:
		t, err := r.resolveURL(ctx, q.Text)
		if err != nil {
			return nil, err
		}
		return []store.Track{t}, nil
	case KindYouTubeVideo:
		t, err := r.resolveVideo(ctx, q.VideoID)
		if err != nil {
			return nil, err
		}
		return []store.Track{t}, nil
	case KindYouTubePlaylist:
		return r.resolvePlaylist(ctx, q.PlaylistID, q.VideoID)
	default:
		ts, err := r.search(ctx, q.Text, 1)
		if err != nil {
			return nil, err
		}
		return ts[:1], nil
	}
}

// Search returns up to limit tracks matching text (limit <= 0 means
// Config.SearchResults). Links and "file:" names are resolved as Resolve does.
func (r *Resolver) Search(ctx context.Context, text string, limit int) ([]store.Track, error) {
	if limit <= 0 {
		limit = r.cfg.SearchResults
	}
	limit = min(limit, 25)
	q, err := Classify(text, r.cfg.MaxQueryLen)
	if err != nil {
		return nil, err
	}
	if q.Kind != KindSearch {
		return r.Resolve(ctx, text)
	}
	return r.search(ctx, q.Text, limit)
}

func (r *Resolver) resolveURL(ctx context.Context, link string) (store.Track, error) {
	u, err := url.Parse(link)
	if err != nil {
		return store.Track{}, ErrBadURL
	}
	res, err := probe(ctx, r.hc, link, r.cfg.ProbeTimeout)
	if err != nil {
		if errors.Is(err, ErrWebPage) {
			// A page yt-dlp understands (SoundCloud, Bandcamp, ...) is still playable.
			if info, yerr := r.ytdlp.run(ctx, "--no-playlist", "-f", "bestaudio/best", "--", link); yerr == nil && info.Title != "" {
				return store.Track{ID: idPage + link, URL: link, Title: info.Title, Author: info.author(),
					Duration: info.duration(), Artwork: info.Thumbnail}, nil
			}
		}
		return store.Track{}, err
	}
	title := res.title
	if title == "" {
		title = titleFromURL(u)
	}
	return store.Track{ID: idURL + link, URL: link, Title: title, Author: u.Hostname()}, nil
}

func videoTrack(v Video) store.Track {
	d := v.Duration
	if v.Live {
		d = 0
	}
	return store.Track{ID: idYouTube + v.ID, URL: "https://www.youtube.com/watch?v=" + v.ID,
		Title: v.Title, Author: v.Author, Duration: d, Artwork: v.Thumbnail}
}

func (r *Resolver) resolveVideo(ctx context.Context, id string) (store.Track, error) {
	v, err := r.yt.Video(ctx, id)
	if err == nil {
		if _, ok := BestAudio(v.Formats); ok {
			if v.ID == "" {
				v.ID = id
			}
			return videoTrack(v), nil
		}
		err = errors.New("the video has no audio format")
	}
	r.log.Debug("resolve: youtube library failed, trying yt-dlp", "video", id, "err", err)
	info, yerr := r.ytdlp.run(ctx, "--no-playlist", "-f", "bestaudio/best", "--", "https://www.youtube.com/watch?v="+id)
	if yerr != nil {
		return store.Track{}, fallbackError("could not load that YouTube video", err, yerr)
	}
	if info.bestURL() == "" {
		return store.Track{}, errors.New("could not load that YouTube video: it has no playable audio")
	}
	return videoTrack(Video{ID: id, Title: info.Title, Author: info.author(), Duration: info.duration(),
		Thumbnail: info.Thumbnail, Live: info.IsLive}), nil
}

func (r *Resolver) resolvePlaylist(ctx context.Context, listID, startVideo string) ([]store.Track, error) {
	var videos []Video
	p, err := r.yt.Playlist(ctx, listID)
	if err == nil {
		videos = p.Videos
	} else {
		r.log.Debug("resolve: youtube library failed, trying yt-dlp", "playlist", listID, "err", err)
		info, yerr := r.ytdlp.run(ctx, "--yes-playlist", "--flat-playlist", "--playlist-end", fmt.Sprint(r.cfg.MaxPlaylistTracks),
			"--", "https://www.youtube.com/playlist?list="+listID)
		if yerr != nil {
			if startVideo != "" {
				// The list may be private or a mix: the video alone still plays.
				if t, verr := r.resolveVideo(ctx, startVideo); verr == nil {
					return []store.Track{t}, nil
				}
			}
			return nil, fallbackError("could not load that YouTube playlist", err, yerr)
		}
		videos = entriesToVideos(info.Entries)
	}
	if startVideo != "" {
		for i, v := range videos {
			if v.ID == startVideo {
				videos = videos[i:]
				break
			}
		}
	}
	var out []store.Track
	for _, v := range videos {
		if !validVideoID(v.ID) {
			continue
		}
		out = append(out, videoTrack(v))
		if len(out) == r.cfg.MaxPlaylistTracks {
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("that playlist is empty (or all its videos are private)")
	}
	return out, nil
}

func entriesToVideos(entries []ytdlpInfo) []Video {
	out := make([]Video, 0, len(entries))
	for _, e := range entries {
		out = append(out, Video{ID: e.ID, Title: e.Title, Author: e.author(), Duration: e.duration(), Thumbnail: e.Thumbnail, Live: e.IsLive})
	}
	return out
}

func (r *Resolver) search(ctx context.Context, text string, limit int) ([]store.Track, error) {
	videos, err := r.yt.Search(ctx, text, limit)
	if err != nil || len(videos) == 0 {
		if err != nil {
			r.log.Debug("resolve: youtube search failed, trying yt-dlp", "err", err)
		}
		info, yerr := r.ytdlp.run(ctx, "--flat-playlist", "--", fmt.Sprintf("ytsearch%d:%s", limit, text))
		switch {
		case yerr == nil:
			videos = entriesToVideos(info.Entries)
		case err == nil:
			// The library answered "no results"; yt-dlp could not do better.
		case errors.Is(yerr, errNoYTDLP):
			return nil, err
		case errors.Is(err, ErrSearchUnsupported):
			return nil, fmt.Errorf("the search failed: %v", yerr)
		default:
			return nil, fallbackError("the search failed", err, yerr)
		}
	}
	var out []store.Track
	for _, v := range videos {
		if validVideoID(v.ID) && len(out) < limit {
			out = append(out, videoTrack(v))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w for %q", ErrNothingFound, SafeTitle(text, 80))
	}
	return out, nil
}

func fallbackError(what string, libErr, ytdlpErr error) error {
	if errors.Is(ytdlpErr, errNoYTDLP) {
		return fmt.Errorf("%s: %v", what, libErr)
	}
	return fmt.Errorf("%s: %v (and %v)", what, libErr, ytdlpErr)
}

// Source returns what the audio engine should open for t, right before
// playback: an absolute path for a media-folder file (checked again, so a
// symlink swapped since Resolve cannot leave the folder), a fresh direct
// media URL for YouTube and yt-dlp pages (those URLs expire, so they are not
// stored in the queue), and the link itself for plain http(s) media.
func (r *Resolver) Source(ctx context.Context, t store.Track) (string, error) {
	switch {
	case strings.HasPrefix(t.ID, idFile):
		_, abs, err := localFile(r.cfg.MediaDir, strings.TrimPrefix(t.URL, idFile))
		return abs, err
	case strings.HasPrefix(t.ID, idYouTube):
		id := strings.TrimPrefix(t.ID, idYouTube)
		if !validVideoID(id) {
			return "", ErrBadURL
		}
		v, err := r.yt.Video(ctx, id)
		if err == nil {
			if f, ok := BestAudio(v.Formats); ok {
				u, serr := r.yt.StreamURL(ctx, v, f)
				if serr == nil && u != "" {
					return u, nil
				}
				err = serr
			} else {
				err = errors.New("the video has no audio format")
			}
		}
		info, yerr := r.ytdlp.run(ctx, "--no-playlist", "-f", "bestaudio/best", "--", "https://www.youtube.com/watch?v="+id)
		if yerr != nil {
			return "", fallbackError("could not load that YouTube video", err, yerr)
		}
		if u := info.bestURL(); u != "" {
			return u, nil
		}
		return "", errors.New("could not load that YouTube video: it has no playable audio")
	case strings.HasPrefix(t.ID, idPage):
		info, err := r.ytdlp.run(ctx, "--no-playlist", "-f", "bestaudio/best", "--", t.URL)
		if err != nil {
			return "", err
		}
		if u := info.bestURL(); u != "" {
			return u, nil
		}
		return "", ErrNotAudio
	}
	return t.URL, nil
}
