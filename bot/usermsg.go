package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"unicode"
	"unicode/utf8"

	"github.com/quaverbot/quaver/audio/mp3"
	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/source"
	"github.com/quaverbot/quaver/audio/wav"
	"github.com/quaverbot/quaver/audio/webm"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// Errors of the bot's own, written for the user.
var (
	errBadPosition = errors.New("that is not a position: write seconds (90), m:ss (1:30) or h:mm:ss")
	errOldButton   = errors.New("that button is from an older version of the bot; run `/nowplaying` again")
	// errUnplayable wraps why a track's input could not be opened as audio.
	errUnplayable = errors.New("bot: input cannot be played")
)

// internalFailure is what users see for an error the bot does not
// recognise: it may name files, hosts, addresses or Go internals, so it
// goes to the log only.
const internalFailure = "Something went wrong on the bot's side, so that didn't work. " +
	"Try again in a moment; if it keeps happening, ask the bot's operator to check its logs."

// userErrors are errors whose own text is written for the user who caused
// them. Only the sentinel's text is shown, never what wraps it.
var userErrors = []error{
	player.ErrClosed, player.ErrAlreadyPaused, player.ErrNotPaused, player.ErrConnecting,
	player.ErrJoinCanceled, player.ErrVolumeRange, player.ErrSeekRange, player.ErrLiveSeek,
	player.ErrBadLoopMode, player.ErrNotListener, player.ErrQueueFull, player.ErrQueueEmpty,
	player.ErrBadPosition,
	resolve.ErrEmptyQuery, resolve.ErrBadEncoding, resolve.ErrBadURL, resolve.ErrBadScheme,
	resolve.ErrWebPage, resolve.ErrNotAudio, resolve.ErrPrivateTarget, resolve.ErrTooManyHops,
	resolve.ErrLocalDisabled, resolve.ErrLocalAbsolute, resolve.ErrLocalParent, resolve.ErrLocalOutside,
	resolve.ErrLocalNotFound, resolve.ErrLocalNotFile,
	errStageChannel, errNoView, errNoConnect, errNoSpeak, errChannelFull, errNoChannel,
	errBadPosition, errOldButton,
}

// serviceErrors are failures of Discord, the network or the bot's database
// that users can do nothing about but wait: their sentinel's text is shown,
// the cause is logged.
var serviceErrors = []error{errJoinTimeout, errNoPermsInfo, errVoiceRequest, errVoiceConnect}

// userMessage turns err into a message that says what to do, without
// internals, and says how the command that met it ended: outcomeUserError
// or outcomeError. Errors it does not recognise are logged at error level
// with the guild and answered with a plain sentence.
func (b *Bot) userMessage(guildID string, err error) (msg, outcome string) {
	var (
		mp3Codec  *mp3.UnsupportedCodecError
		oggCodec  *ogg.UnsupportedCodecError
		wavCodec  *wav.UnsupportedCodecError
		webmCodec *webm.UnsupportedCodecError
		status    *source.HTTPStatusError
	)
	switch {
	case err == nil:
		return "", outcomeOK
	case errors.Is(err, player.ErrNothingPlaying):
		return "Nothing is playing: start something with `/play`.", outcomeUserError
	case errors.Is(err, player.ErrNotConnected):
		return "I'm not in a voice channel: use `/play` to bring me in.", outcomeUserError
	case errors.Is(err, resolve.ErrQueryTooLong):
		return fmt.Sprintf("That query is too long: keep it under %d characters.", resolve.DefaultMaxQueryLen), outcomeUserError
	case errors.Is(err, resolve.ErrNothingFound):
		return "Nothing found for that search: try other words or paste a link.", outcomeUserError
	case errors.Is(err, resolve.ErrSearchUnsupported):
		return "Searching needs yt-dlp on the bot's machine: paste a direct link instead.", outcomeUserError
	case errors.Is(err, store.ErrUnavailable):
		// Never show connection details (hosts, users, databases) to users.
		b.log.Warn("store unavailable", "guild", guildID, "err", err)
		return dbUnavailable + ", so this was not saved: try again in a minute. Playback is not affected.", outcomeError
	case errors.As(err, &mp3Codec):
		return unsupportedCodec(mp3Codec.Codec), outcomeUserError
	case errors.As(err, &oggCodec):
		return unsupportedCodec(oggCodec.Codec), outcomeUserError
	case errors.As(err, &wavCodec):
		return unsupportedCodec(wavCodec.Codec), outcomeUserError
	case errors.As(err, &webmCodec):
		return unsupportedCodec(webmCodec.Codec), outcomeUserError
	case errors.As(err, &status):
		return fmt.Sprintf("The link's server answered %d %s: check the link, or try again later.",
			status.StatusCode, http.StatusText(status.StatusCode)), outcomeUserError
	case errors.Is(err, source.ErrBlockedAddress):
		return sentence(resolve.ErrPrivateTarget), outcomeUserError
	}
	for _, e := range userErrors {
		if errors.Is(err, e) {
			return sentence(e), outcomeUserError
		}
	}
	for _, e := range serviceErrors {
		if errors.Is(err, e) {
			b.log.Warn("command failed", "guild", guildID, "err", err)
			return sentence(e), outcomeError
		}
	}
	if errors.Is(err, errUnplayable) && !ioFailure(err) {
		// The input was read but is not audio the engine can play.
		b.log.Info("input cannot be played", "guild", guildID, "err", err)
		return "That can't be played: it is not audio in a format I read. Use an MP3, FLAC, WAV, Ogg or WebM file.", outcomeUserError
	}
	if errors.Is(err, context.DeadlineExceeded) {
		b.log.Warn("command timed out", "guild", guildID, "err", err)
		return "That took too long, so it was given up: try again in a moment.", outcomeError
	}
	b.log.Error("unexpected error", "guild", guildID, "err", err)
	return internalFailure, outcomeError
}

func unsupportedCodec(codec string) string {
	return fmt.Sprintf("Its audio is in a codec I can't play (%s): use an MP3, FLAC, WAV, Ogg (Opus) or WebM (Opus) file.",
		resolve.SafeTitle(codec, 60))
}

// ioFailure says whether err comes from reading the input (a file or the
// network) rather than from what was read.
func ioFailure(err error) bool {
	var (
		pathErr *fs.PathError
		netErr  net.Error
		urlErr  *url.Error
	)
	return errors.As(err, &pathErr) || errors.As(err, &netErr) || errors.As(err, &urlErr)
}

// sentence is e's text with a capital first letter.
func sentence(e error) string {
	msg := e.Error()
	if r, n := utf8.DecodeRuneInString(msg); n > 0 && r != utf8.RuneError {
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	return msg
}
