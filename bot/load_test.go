package bot_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/voice/pacer"
)

// BenchmarkLoad200Guilds plays in 200 guilds at once, each with a listener,
// in one process, and reports the pacer's per-packet send lateness. The
// input is Ogg Opus, so frames pass through without re-encoding, as with
// YouTube's WebM/Opus. Run: go test -run '^$' -bench Load200 -benchtime 1x ./bot
func BenchmarkLoad200Guilds(b *testing.B) {
	const guilds = 200
	const measure = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pc, err := pacer.New(pacer.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	e, err := sandbox.Start(ctx, sandbox.Options{Guilds: guilds, Shards: 4, Pacer: pc, DiscardPayloads: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	wav := filepath.Join(b.TempDir(), "src.wav")
	if err := os.WriteFile(wav, audiotest.WAV(audiotest.Music(48000, 2, 60)), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := audio.OpenPipeline(ctx, wav, audio.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(e.MediaDir, "load.ogg"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := audio.WriteOgg(p, f); err != nil {
		b.Fatal(err)
	}
	_ = p.Close()
	_ = f.Close()

	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, guilds)
	for _, g := range e.Guilds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
				errs <- err
				return
			}
			m, err := e.Command(ctx, g, "play", discordtest.StringOption("query", "file:load.ogg"))
			if err != nil {
				errs <- err
				return
			}
			if len(m.Embeds) > 0 && m.Embeds[0].Color == errorColor {
				b.Errorf("guild %s: %s", g.ID, m.Embeds[0].Description)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	sessions := 0
	for _, s := range e.Voice.Sessions() {
		if s.UserID == e.Bot.BotID() {
			sessions++
		}
	}
	if sessions != guilds {
		b.Fatalf("%d bot voice sessions, want %d", sessions, guilds)
	}
	b.ResetTimer()
	pc.ResetLateness()
	start := make(map[string]uint64)
	for _, s := range e.Voice.Sessions() {
		start[s.ServerID] = s.Recorder().Received()
	}
	select { // the measurement window itself
	case <-time.After(measure):
	case <-ctx.Done():
		b.Fatal(ctx.Err())
	}
	l := pc.Lateness()
	var got uint64
	for _, s := range e.Voice.Sessions() {
		got += s.Recorder().Received() - start[s.ServerID]
	}
	b.StopTimer()
	want := uint64(guilds) * uint64(measure/(20*time.Millisecond))
	b.ReportMetric(float64(l.P50.Microseconds())/1000, "p50-late-ms")
	b.ReportMetric(float64(l.P99.Microseconds())/1000, "p99-late-ms")
	b.ReportMetric(float64(l.Max.Microseconds())/1000, "max-late-ms")
	b.ReportMetric(float64(got)/float64(want), "delivered-ratio")
	b.Logf("%d guilds: %d packets sent (lateness %+v), %d of %d expected received, skipped slots %d",
		guilds, l.Count, l, got, want, pc.Skipped())
}
