package e2e

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/pgtest"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
)

// TestPostgresUnreachable cuts the bot off from PostgreSQL (a TCP proxy
// in the test resets every connection and refuses new ones) while it
// plays: playback goes on, /settings that must write answers with a clear
// temporary error, and once the proxy lets connections through again the
// same command succeeds with nothing done by hand.
func TestPostgresUnreachable(t *testing.T) {
	_, dsn, px := pgtest.DatabaseBehindProxy(t, "quaver_e2e")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{PostgresURL: dsn, Path: filepath.Join(t.TempDir(), "unused.db"),
		OpTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pc, err := pacer.New(pacer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	e, err := sandbox.Start(ctx, sandbox.Options{Store: st, Pacer: pc})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	g := e.Guilds[0]
	if err := os.WriteFile(filepath.Join(e.MediaDir, "tone.wav"), audiotest.WAV(audiotest.Tone(48000, 2, 30, 440, 0.4)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
		t.Fatal(err)
	}
	owner, err := e.Discord.GuildOwner(g.ID) // /settings needs Manage Server
	if err != nil {
		t.Fatal(err)
	}
	reply := func(name string, opts ...discordtest.Option) *discordtest.Embed {
		t.Helper()
		user := g.ListenerID
		if name == "settings" {
			user = owner
		}
		m, err := e.CommandAs(ctx, g, user, name, opts...)
		if err != nil {
			t.Fatalf("/%s: no answer: %v", name, err)
		}
		if len(m.Embeds) == 0 {
			t.Fatalf("/%s: answer without an embed: %+v", name, m)
		}
		return &m.Embeds[0]
	}
	if em := reply("play", discordtest.StringOption("query", "file:tone.wav")); em.Color == errorColor {
		t.Fatalf("/play: %s", em.Description)
	}
	sess, err := e.BotSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := sess.Recorder()
	if err := rec.WaitPackets(ctx, 50); err != nil {
		t.Fatal(err)
	}

	px.Cut()
	cut := time.Now()
	em := reply("settings", discordtest.IntegerOption("default-volume", 50))
	answered := time.Since(cut)
	t.Logf("/settings while PostgreSQL is unreachable (after %v): %q", answered.Round(time.Millisecond), em.Description)
	if em.Color != errorColor || !strings.Contains(strings.ToLower(em.Description), "temporarily unavailable") {
		t.Errorf("/settings while PostgreSQL is unreachable: %q (color %#x), want an error saying it is temporary", em.Description, em.Color)
	}
	for _, leak := range []string{"postgres", "127.0.0.1", "dial", "quaver_e2e"} {
		if strings.Contains(strings.ToLower(em.Description), leak) {
			t.Errorf("the error shown to users leaks %q: %q", leak, em.Description)
		}
	}
	view := reply("settings")
	t.Logf("/settings (view only) while PostgreSQL is unreachable: color %#x, %q, fields %d", view.Color, view.Description, len(view.Fields))
	// Playback goes on: 3 s more audio arrive while the database is gone.
	n := int(rec.Received())
	if err := rec.WaitPackets(ctx, n+150); err != nil {
		t.Fatalf("playback stopped while PostgreSQL was unreachable: %v", err)
	}
	var ts []time.Time
	for _, p := range rec.Packets() {
		if p.Arrival.After(cut) {
			ts = append(ts, p.Arrival)
		}
	}
	gap, _ := maxGap(ts)
	t.Logf("largest packet gap while PostgreSQL was unreachable: %v", gap.Round(time.Millisecond))

	// Back: the same command succeeds on its own once the proxy passes traffic.
	px.Restore()
	restored := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		em = reply("settings", discordtest.IntegerOption("default-volume", 50))
		if em.Color != errorColor {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("/settings still fails after PostgreSQL came back: %q", em.Description)
		}
	}
	t.Logf("recovered %v after PostgreSQL came back", time.Since(restored).Round(time.Millisecond))
	var vol string
	for _, f := range reply("settings").Fields {
		if f.Name == "Default volume" {
			vol = f.Value
		}
	}
	if vol != "50 %" {
		t.Errorf("after recovery /settings shows default volume %q, want the 50 %% just saved", vol)
	}
	// The player's snapshot in PostgreSQL is current again.
	p, _ := e.Bot.Player(g.ID)
	var snap store.PlayerSnapshot
	for {
		if snap, err = st.Snapshots.Get(ctx, g.ID); err == nil && snap.Current != nil && snap.Position > p.Status().Position-6*time.Second {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("snapshot in PostgreSQL not current after recovery: %+v, %v (player at %v)", snap, err, p.Status().Position)
		}
	}
	if n := rec.Received(); n < uint64(len(ts)) {
		t.Errorf("packet count went down: %d", n)
	}
}
