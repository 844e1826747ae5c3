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
	// ctx bounds only the opening; an HTTP source reads with the context it
	// was opened with for as long as it plays, so it gets one that lives
	// until the stream is closed, cancelled early if ctx ends during Open.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	tr, err := audio.Open(life, src, cfg)
	if !stop() && err == nil {
		_ = tr.Close()
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("could not play %q: %w", resolve.SafeTitle(t.Title, 0), err)
	}
	if opts.Volume == 0 {
		_ = tr.SetVolume(0)
	}
	return stream{tr, cancel}, nil
}

// stream adapts *audio.Track to player.Stream; cancel ends its input's context.
type stream struct {
	t      *audio.Track
	cancel context.CancelFunc
}

func (s stream) NextFrame() ([]byte, bool)    { return s.t.NextFrame() }
func (s stream) Position() time.Duration      { return s.t.Position() }
func (s stream) SetVolume(pct int)            { _ = s.t.SetVolume(pct) }
func (s stream) SetEqualizer(g [15]float64)   { _ = s.t.SetEqualizer(g) }
func (s stream) Seek(pos time.Duration) error { return s.t.Seek(pos) }
func (s stream) Done() <-chan struct{}        { return s.t.Done() }
func (s stream) Err() error                   { return s.t.Err() }
func (s stream) Close()                       { _ = s.t.Close() }

// probeDuration reads a track's length from its headers when the resolver
// did not know it (local files, plain links), so that /seek and the progress
// bar work; 0 means unknown (a live stream). An error means the input cannot
// be played at all (not audio, unsupported format); a probe that merely runs
// out of time is not an error.
func (b *Bot) probeDuration(ctx context.Context, t store.Track) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	src, err := b.resolver.Source(ctx, t)
	if err != nil {
		return 0, err
	}
	p, err := audio.OpenPipeline(ctx, src, b.cfg.Audio)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: %q: %w", errUnplayable, t.Title, err)
	}
	defer p.Close()
	if ms := p.Info().DurationMS; ms != nil && *ms > 0 {
		return time.Duration(*ms) * time.Millisecond, nil
	}
	return 0, nil
}
