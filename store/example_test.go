package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quaverbot/quaver/store"
)

// The player keeps a guild's state with Update (retried on conflicts) and
// checkpoints the position cheaply; after a restart, List finds every guild
// to resume.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "quaver-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{Path: filepath.Join(dir, "quaver.db")}) // no URL: embedded
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, _ := s.Snapshots.Update(ctx, "123", func(p *store.PlayerSnapshot) error {
		p.Current = &store.Track{ID: "yt:abc", Title: "A song", Duration: 3 * time.Minute}
		p.VoiceChannelID = "456"
		return nil
	})
	_ = s.Snapshots.Checkpoint(ctx, "123", 95*time.Second)
	s.Close()

	s, _ = store.Open(ctx, store.Config{Path: filepath.Join(dir, "quaver.db")}) // after a restart
	defer s.Close()
	all, _ := s.Snapshots.List(ctx)
	for _, p := range all {
		fmt.Println(p.GuildID, p.Current.Title, p.Position, "version", p.Version, "was", snap.Version)
	}
	// Output: 123 A song 1m35s version 1 was 1
}
