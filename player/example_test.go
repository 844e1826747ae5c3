package player_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/resolve"
	"github.com/quaverbot/quaver/store"
)

// sourceEngine shows how a bot wires the resolver into the Engine the
// player drives: the direct media URL (or media-folder path) is looked up
// right before playback, because YouTube stream URLs expire.
type sourceEngine struct {
	r     *resolve.Resolver
	audio func(ctx context.Context, input string, opts player.OpenOptions) (player.Stream, error)
}

func (e sourceEngine) Open(ctx context.Context, t store.Track, opts player.OpenOptions) (player.Stream, error) {
	input, err := e.r.Source(ctx, t)
	if err != nil {
		return nil, err
	}
	return e.audio(ctx, input, opts)
}

// Example_wiring sketches a /play command handler.
func Example_wiring() {
	res := resolve.New(resolve.Config{MediaDir: "/srv/music"})
	eng := sourceEngine{r: res, audio: func(context.Context, string, player.OpenOptions) (player.Stream, error) {
		return nil, errors.New("the audio engine goes here")
	}}
	var voice player.Voice // the voice layer goes here
	m := player.NewManager(player.Config{Engine: eng, Voice: voice, OnEvent: func(e player.Event) {
		if e.Type == player.EventTrackStart {
			fmt.Println("Now playing:", resolve.SafeTitle(e.Track.Title, 0))
		}
	}})
	defer m.Close()

	play := func(ctx context.Context, guildID, userVoiceChannel, query string) error {
		tracks, err := res.Resolve(ctx, query)
		if err != nil {
			return err // e.g. "that link is a web page, not audio"
		}
		p, err := m.Create(guildID)
		if err != nil {
			return err
		}
		_, err = p.Play(ctx, userVoiceChannel, tracks...)
		return err
	}
	_ = play
}
