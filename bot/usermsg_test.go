package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/quaverbot/quaver/audio/source"
	"github.com/quaverbot/quaver/audio/wav"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// secrets are what an operator's errors name and users must never see.
var secrets = []string{"/srv/quaver", "10.20.30.40", "5432", "secret.wav", "pq:", "dial tcp", "goroutine"}

func TestUserMessage(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "/srv/quaver/media/secret.wav", Err: syscall.EACCES}
	netErr := errors.New("dial tcp 10.20.30.40:5432: connect: connection refused")
	for _, tc := range []struct {
		name    string
		err     error
		want    string // the message contains it
		outcome string
		logged  string // the log has a record at this level with the raw error ("": none)
	}{
		{"unrecognised, with a path", fmt.Errorf("could not play %q: %w", "x", pathErr), "ask the bot's operator", outcomeError, "ERROR"},
		{"unrecognised, with an address", fmt.Errorf("pq: %w", netErr), "ask the bot's operator", outcomeError, "ERROR"},
		{"a panic's text", errors.New("runtime error: index out of range [3] with length 3\ngoroutine 7 [running]"), "ask the bot's operator", outcomeError, "ERROR"},
		{"unreadable input", fmt.Errorf("%w: %q: %w", errUnplayable, "x", pathErr), "ask the bot's operator", outcomeError, "ERROR"},
		{"not audio", fmt.Errorf("%w: %q: %w", errUnplayable, "x", errors.New("audio: unrecognized format (first bytes 00 01)")), "Use an MP3, FLAC, WAV", outcomeUserError, "INFO"},
		{"store outage", fmt.Errorf("%w: %w", store.ErrUnavailable, netErr), "temporarily unavailable", outcomeError, "WARN"},
		{"voice server", fmt.Errorf("%w: %w", errVoiceConnect, netErr), "could not connect to the voice server", outcomeError, "WARN"},
		{"timeout", fmt.Errorf("resolve /srv/quaver: %w", context.DeadlineExceeded), "took too long", outcomeError, "WARN"},
		{"codec", fmt.Errorf("could not play %q: %w", "x", &wav.UnsupportedCodecError{Codec: "IMA ADPCM"}), "codec I can't play (IMA ADPCM)", outcomeUserError, ""},
		{"http status", fmt.Errorf("source: http://10.20.30.40:5432/secret.wav: %w", &source.HTTPStatusError{StatusCode: 404}), "answered 404 Not Found", outcomeUserError, ""},
		{"media folder", fmt.Errorf("%w: %q", resolve.ErrLocalNotFound, "secret.wav"), "No such file in the media folder", outcomeUserError, ""},
		{"player", fmt.Errorf("seek: %w", player.ErrLiveSeek), "Live streams cannot be seeked", outcomeUserError, ""},
		{"nothing playing", player.ErrNothingPlaying, "Nothing is playing", outcomeUserError, ""},
		{"position", fmt.Errorf("%w: %q", errBadPosition, "secret.wav"), "That is not a position", outcomeUserError, ""},
		{"stage", errStageChannel, "Stage channels are not supported", outcomeUserError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			b := &Bot{log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			msg, outcome := b.userMessage("123456789", tc.err)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not say %q", msg, tc.want)
			}
			if outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", outcome, tc.outcome)
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("message %q shows %q to the user", msg, s)
				}
			}
			got := log.String()
			if tc.logged == "" {
				if got != "" {
					t.Errorf("a user's own mistake was logged: %s", got)
				}
				return
			}
			if !strings.Contains(got, "level="+tc.logged) || !strings.Contains(got, "guild=123456789") ||
				!strings.Contains(got, fmt.Sprintf("%q", tc.err.Error())) && !strings.Contains(got, "err="+tc.err.Error()) {
				t.Errorf("log %q lacks the raw error at %s with the guild", got, tc.logged)
			}
		})
	}
}
