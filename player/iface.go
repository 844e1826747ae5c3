// Package player owns each guild's playback state: a state machine (idle,
// connecting, playing, paused) with a queue, history, loop modes, shuffle,
// vote-skip bookkeeping and an auto-leave timer, driving an audio Engine and
// a Voice connection it reaches through the small interfaces below. The
// voice layer's pacer pulls 20 ms Opus frames from the player's FrameSource
// without taking any lock a command holds, and the source switches tracks
// gaplessly. A Manager owns the players of all guilds.
//
// Errors returned by Player methods are written for the person who ran the
// command; a bot can show err.Error() as is.
package player

import (
	"context"
	"time"

	"github.com/quaverbot/quaver/store"
)

// OpenOptions say how to open a track.
type OpenOptions struct {
	// Seek is where playback starts within the track.
	Seek time.Duration
	// Volume in percent, 0–1000 (100 = unchanged).
	Volume int
	// Equalizer gains for the 15 bands of store.Effects.
	Equalizer [15]float64
}

// Engine opens tracks for playback (the audio engine; wired by the bot).
type Engine interface {
	// Open starts decoding track and returns its stream. It may block on
	// I/O and must give up when ctx ends.
	Open(ctx context.Context, track store.Track, opts OpenOptions) (Stream, error)
}

// Stream is one open track producing 20 ms Opus frames.
//
// Contract the player relies on: NextFrame never blocks; a returned frame
// stays valid until the next NextFrame call on the same Stream; Done is
// closed only after the last frame has been made available to NextFrame;
// Close may be called concurrently with NextFrame (which then returns
// false) and more than once.
type Stream interface {
	// NextFrame returns the next frame, or ok=false when none is ready now
	// (buffer underrun) or the stream has ended.
	NextFrame() (frame []byte, ok bool)
	// Position is the playback position of the next frame within the track.
	// It must be cheap and never block (the player may call it under its lock).
	Position() time.Duration
	// SetVolume changes the volume (percent, 0–1000) from the next frames on.
	SetVolume(pct int)
	// SetEqualizer changes the equalizer gains from the next frames on.
	SetEqualizer(gains [15]float64)
	// Seek moves playback; it may block on I/O. An error means the stream
	// could not seek (the player then reopens the track at the position).
	Seek(pos time.Duration) error
	// Done is closed when decoding has finished: at the end or on failure.
	Done() <-chan struct{}
	// Err is nil after a natural end and says why otherwise.
	Err() error
	// Close stops decoding and releases resources.
	Close()
}

// Durationer may be implemented by a Stream that knows its track's length
// (tracks resolved from plain links often carry no duration). The player
// uses it to preload the next track for a gapless switch; without any
// known duration the next track is opened when the current one ends.
type Durationer interface {
	Duration() time.Duration
}

// FrameSource is what a voice connection pulls frames from, every 20 ms on
// its pacer goroutine. ok=false means "nothing to send now": the voice layer
// then sends its five silence frames and goes quiet until frames return.
type FrameSource interface {
	NextFrame() (frame []byte, ok bool)
}

// Voice joins voice channels (the voice layer; wired by the bot).
type Voice interface {
	// Join connects to a guild's voice channel; it blocks until connected
	// or failed. Errors should say what the user can do (missing Connect or
	// Speak permission, full channel, ...).
	Join(ctx context.Context, guildID, channelID string) (VoiceConn, error)
}

// VoiceConn is one voice connection.
type VoiceConn interface {
	// SetSource sets where the pacer pulls frames from.
	SetSource(src FrameSource)
	// Leave disconnects; it may block briefly and is safe to call twice.
	Leave()
	// Done is closed when the connection has stopped for good, whether by
	// Leave, a kick (close code 4014) or an unrecoverable error.
	Done() <-chan struct{}
	// Err says why the connection stopped (nil after Leave).
	Err() error
}

// Persister saves player snapshots (the store; wired by the bot). It is
// called from the player's own persist goroutine, never under a lock and
// never on the frame path; calls for one player never overlap.
//
// snap.Version is the version this player last stored successfully (0 for
// none, or the Version of the snapshot given to Restore): a store with
// optimistic versioning writes with it as the expected version, and the
// player counts the new version as Version+1 once Save returns nil. A
// failed Save is retried at the next change or checkpoint.
type Persister interface {
	Save(ctx context.Context, snap store.PlayerSnapshot) error
}

// Checkpointer may be implemented by a Persister that can record the
// playback position alone, cheaper than a full Save. The player then uses
// it for the periodic position checkpoints when nothing else changed.
type Checkpointer interface {
	Checkpoint(ctx context.Context, guildID string, position time.Duration) error
}

// Clock is the time source, injected so tests do not wait.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped-or-running timer firing once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a resettable one-shot timer.
type Timer interface {
	C() <-chan time.Time
	// Reset stops the timer and rearms it to fire after d.
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a real timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return &sysTimer{t: time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s *sysTimer) C() <-chan time.Time { return s.t.C }

// Reset relies on Go 1.23+ timer semantics: no stale value after Reset.
func (s *sysTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s *sysTimer) Stop()                 { s.t.Stop() }
