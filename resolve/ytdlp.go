package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// maxYTDLPOutput bounds what is read from yt-dlp: a video with all its
// formats is a few hundred KiB of JSON.
const maxYTDLPOutput = 16 << 20

var (
	errNoYTDLP     = errors.New("yt-dlp is not installed")
	errYTDLPOutput = errors.New("yt-dlp printed something that is not its JSON")
)

// ytdlpInfo is the part of yt-dlp's --dump-single-json output we read.
type ytdlpInfo struct {
	Type       string        `json:"_type"`
	ID         string        `json:"id"`
	Title      string        `json:"title"`
	Uploader   string        `json:"uploader"`
	Channel    string        `json:"channel"`
	Duration   float64       `json:"duration"`
	URL        string        `json:"url"`
	WebpageURL string        `json:"webpage_url"`
	Thumbnail  string        `json:"thumbnail"`
	IsLive     bool          `json:"is_live"`
	Extractor  string        `json:"extractor_key"`
	Formats    []ytdlpFormat `json:"formats"`
	Entries    []ytdlpInfo   `json:"entries"`
}

type ytdlpFormat struct {
	FormatID string  `json:"format_id"`
	URL      string  `json:"url"`
	ACodec   string  `json:"acodec"`
	VCodec   string  `json:"vcodec"`
	ABR      float64 `json:"abr"`
	Ext      string  `json:"ext"`
}

// ytdlp runs the yt-dlp executable found through cfg.LookPath.
type ytdlp struct {
	lookPath func(string) (string, error)
	name     string
	timeout  time.Duration
}

// run executes yt-dlp with --dump-single-json and the given arguments and
// parses what it prints.
func (y ytdlp) run(ctx context.Context, args ...string) (ytdlpInfo, error) {
	path, err := y.lookPath(y.name)
	if err != nil {
		return ytdlpInfo{}, errNoYTDLP
	}
	ctx, cancel := context.WithTimeout(ctx, y.timeout)
	defer cancel()
	full := append([]string{"--dump-single-json", "--no-warnings", "--no-progress", "--ignore-config"}, args...)
	cmd := exec.CommandContext(ctx, path, full...)
	var stdout, stderr bytes.Buffer
	out := &limitedWriter{w: &stdout, n: maxYTDLPOutput + 1}
	cmd.Stdout = out
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	// A child of yt-dlp holding its pipes open cannot keep Wait past this.
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	data := stdout.Bytes()
	switch {
	case ctx.Err() != nil:
		return ytdlpInfo{}, fmt.Errorf("yt-dlp took too long: %w", ctx.Err())
	case err != nil:
		var exitErr *exec.ExitError
		msg := lastLine(stderr.String())
		if msg == "" || !errors.As(err, &exitErr) {
			msg = err.Error()
		}
		return ytdlpInfo{}, fmt.Errorf("yt-dlp failed: %s", msg)
	case len(data) > maxYTDLPOutput:
		return ytdlpInfo{}, fmt.Errorf("%w (more than %d bytes)", errYTDLPOutput, maxYTDLPOutput)
	}
	var info ytdlpInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return ytdlpInfo{}, fmt.Errorf("%w: %v", errYTDLPOutput, err)
	}
	return info, nil
}

// bestURL returns the media URL to play from a yt-dlp video entry: the
// format it selected, else the best audio format by the same ranking as
// BestAudio.
func (i ytdlpInfo) bestURL() string {
	var formats []Format
	for _, f := range i.Formats {
		if f.URL == "" || f.ACodec == "none" {
			continue
		}
		itag, _ := strconv.Atoi(f.FormatID)
		mime := "video/" + f.Ext
		if f.VCodec == "none" {
			mime = "audio/" + f.Ext
		}
		formats = append(formats, Format{Itag: itag, MimeType: mime, URL: f.URL, Bitrate: int(f.ABR * 1000), AudioChannels: 2})
	}
	if f, ok := BestAudio(formats); ok {
		return f.URL
	}
	return i.URL
}

func (i ytdlpInfo) author() string {
	if i.Uploader != "" {
		return i.Uploader
	}
	return i.Channel
}

func (i ytdlpInfo) duration() time.Duration {
	if i.Duration <= 0 || i.Duration > 1e7 {
		return 0
	}
	return time.Duration(i.Duration * float64(time.Second))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if j := strings.LastIndexByte(s, '\n'); j >= 0 {
		s = s[j+1:]
	}
	return strings.TrimPrefix(s, "ERROR: ")
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
