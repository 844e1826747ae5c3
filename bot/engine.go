package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// engine implements player.Engine: resolve finds what to open right before
// playback (fresh YouTube URLs, re-checked media-folder paths) and the audio
// engine plays it.
type engine struct {
	r   *resolve.Resolver
	cfg audio.Config
}

func (e *engine) Open(ctx context.Context, t store.Track, opts player.OpenOptions) (player.Stream, error) {
	src, err := e.r.Source(ctx, t)
	if err != nil {
		return nil, err
	}
	cfg := e.cfg
	cfg.Seek = opts.Seek
	cfg.Volume = opts.Volume
	cfg.Equalizer = opts.Equalizer
	if cfg.Volume == 0 {
		cfg.Volume = 100 // zero means "default" to audio.Open; muted is set below
	}
	tr, err := audio.Open(ctx, src, cfg)
	if err != nil {
		return nil, fmt.Errorf("could not play %q: %w", resolve.SafeTitle(t.Title, 0), err)
	}
	if opts.Volume == 0 {
		_ = tr.SetVolume(0)
	}
	return stream{tr}, nil
}

// stream adapts *audio.Track to player.Stream.
type stream struct{ t *audio.Track }

func (s stream) NextFrame() ([]byte, bool)    { return s.t.NextFrame() }
func (s stream) Position() time.Duration      { return s.t.Position() }
func (s stream) SetVolume(pct int)            { _ = s.t.SetVolume(pct) }
func (s stream) SetEqualizer(g [15]float64)   { _ = s.t.SetEqualizer(g) }
func (s stream) Seek(pos time.Duration) error { return s.t.Seek(pos) }
func (s stream) Done() <-chan struct{}        { return s.t.Done() }
func (s stream) Err() error                   { return s.t.Err() }
func (s stream) Close()                       { _ = s.t.Close() }
