package resolve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kkdai/youtube/v2"
)

// YouTube is where YouTube metadata comes from. The production value wraps
// github.com/kkdai/youtube/v2 (NewYouTubeClient); tests use a fake with
// canned metadata, since the library needs the network.
type YouTube interface {
	// Video returns one video's metadata and formats. Format URLs may be
	// empty when the library must decipher them: StreamURL does that.
	Video(ctx context.Context, id string) (Video, error)
	// StreamURL returns a direct, playable URL for format f of v.
	StreamURL(ctx context.Context, v Video, f Format) (string, error)
	// Playlist returns a playlist's entries (no formats).
	Playlist(ctx context.Context, id string) (Playlist, error)
	// Search returns up to limit videos matching text (no formats).
	// Implementations without search return ErrSearchUnsupported.
	Search(ctx context.Context, text string, limit int) ([]Video, error)
}

// Video is YouTube metadata for one video.
type Video struct {
	ID        string
	Title     string
	Author    string
	Duration  time.Duration
	Thumbnail string
	Live      bool
	Formats   []Format
}

// Format is one downloadable rendition of a video.
type Format struct {
	Itag     int
	MimeType string
	URL      string
	Bitrate  int
	// AudioChannels is zero for video-only formats.
	AudioChannels int
}

// Playlist is a YouTube playlist's metadata.
type Playlist struct {
	ID     string
	Title  string
	Author string
	Videos []Video
}

// ErrSearchUnsupported is returned by YouTube implementations that cannot search.
var ErrSearchUnsupported = errors.New("searching YouTube needs yt-dlp installed on the bot's machine")

// audioItagRank orders YouTube's audio-only itags, best first: WebM/Opus at
// 160, 70 and 50 kbit/s, which the engine passes through without re-encoding.
var audioItagRank = []int{251, 250, 249}

// BestAudio picks the format to play: itag 251 > 250 > 249 (WebM/Opus), then
// any other audio-only format with the highest bitrate, then any format with
// audio. ok is false when no format carries audio.
func BestAudio(formats []Format) (Format, bool) {
	for _, itag := range audioItagRank {
		for _, f := range formats {
			if f.Itag == itag {
				return f, true
			}
		}
	}
	best, found, bestAudioOnly := Format{}, false, false
	for _, f := range formats {
		audioOnly := strings.HasPrefix(f.MimeType, "audio/")
		hasAudio := audioOnly || f.AudioChannels > 0
		if !hasAudio {
			continue
		}
		better := !found ||
			(audioOnly && !bestAudioOnly) ||
			(audioOnly == bestAudioOnly && f.Bitrate > best.Bitrate)
		if better {
			best, found, bestAudioOnly = f, true, audioOnly
		}
	}
	return best, found
}

// NewYouTubeClient returns the production YouTube source backed by
// github.com/kkdai/youtube/v2, making requests with hc (nil means a client
// with a 20 s timeout). It cannot search: Search returns ErrSearchUnsupported.
func NewYouTubeClient(hc *http.Client) YouTube {
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	return &kkdaiClient{c: &youtube.Client{HTTPClient: hc}}
}

type kkdaiClient struct{ c *youtube.Client }

func (k *kkdaiClient) Video(ctx context.Context, id string) (Video, error) {
	v, err := k.c.GetVideoContext(ctx, id)
	if err != nil {
		return Video{}, err
	}
	out := Video{ID: v.ID, Title: v.Title, Author: v.Author, Duration: v.Duration, Live: v.HLSManifestURL != "" && v.Duration == 0}
	if n := len(v.Thumbnails); n > 0 {
		out.Thumbnail = v.Thumbnails[n-1].URL
	}
	for _, f := range v.Formats {
		out.Formats = append(out.Formats, Format{Itag: f.ItagNo, MimeType: f.MimeType, URL: f.URL, Bitrate: f.Bitrate, AudioChannels: f.AudioChannels})
	}
	return out, nil
}

func (k *kkdaiClient) StreamURL(ctx context.Context, v Video, f Format) (string, error) {
	if f.URL != "" {
		return f.URL, nil
	}
	yv, err := k.c.GetVideoContext(ctx, v.ID)
	if err != nil {
		return "", err
	}
	for i := range yv.Formats {
		if yv.Formats[i].ItagNo == f.Itag {
			return k.c.GetStreamURLContext(ctx, yv, &yv.Formats[i])
		}
	}
	return "", youtube.ErrNoFormat
}

func (k *kkdaiClient) Playlist(ctx context.Context, id string) (Playlist, error) {
	p, err := k.c.GetPlaylistContext(ctx, id)
	if err != nil {
		return Playlist{}, err
	}
	out := Playlist{ID: p.ID, Title: p.Title, Author: p.Author}
	for _, e := range p.Videos {
		if e == nil {
			continue
		}
		v := Video{ID: e.ID, Title: e.Title, Author: e.Author, Duration: e.Duration}
		if n := len(e.Thumbnails); n > 0 {
			v.Thumbnail = e.Thumbnails[n-1].URL
		}
		out.Videos = append(out.Videos, v)
	}
	return out, nil
}

func (k *kkdaiClient) Search(context.Context, string, int) ([]Video, error) {
	return nil, ErrSearchUnsupported
}
