package bot_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/voicetest"
)

// playThenMove plays a long tone and, once it is heard, has a moderator
// move the bot to a new voice channel, which it returns.
func playThenMove(t *testing.T, ctx context.Context, e *sandbox.Env, g sandbox.Guild) (*voicetest.Recorder, string) {
	t.Helper()
	rec := playing(t, ctx, e, g, writeMedia(t, e, "long.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatal(err)
	}
	other, err := e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "Other", Type: discordtest.ChannelVoice})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Discord.MoveUser(g.ID, e.Bot.BotID(), other); err != nil {
		t.Fatal(err)
	}
	return rec, other
}

func TestModeratorMovesBot(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	rec, other := playThenMove(t, ctx, e, g)
	n := rec.Received()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		total := uint64(0)
		for _, s := range e.Voice.Sessions() {
			if s.UserID == e.Bot.BotID() {
				total += s.Recorder().Received()
			}
		}
		if total > n+50 {
			break
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("no audio after the move (%d sessions)", len(e.Voice.Sessions()))
		}
	}
	// Control follows the bot: the listener left behind is told where it is,
	// and can pause once they follow it.
	m, err := e.Command(ctx, g, "pause")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Embeds[0].Description, "<#"+other+">") {
		t.Errorf("listener in the old channel got %q, want a pointer to the new one", m.Embeds[0].Description)
	}
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, other); err != nil {
		t.Fatal(err)
	}
	for {
		if m, err = e.Command(ctx, g, "pause"); err != nil {
			t.Fatal(err)
		}
		if m.Embeds[0].Color != errorColor {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pause after following the bot: %q", m.Embeds[0].Description)
		}
	}
}

// TestNullEndpointThenNewServer: Discord sends VOICE_SERVER_UPDATE with a
// null endpoint while it allocates a new voice server, then the new one;
// audio resumes there.
func TestNullEndpointThenNewServer(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	rec := playing(t, ctx, e, g, writeMedia(t, e, "long.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatal(err)
	}
	old, _ := e.BotSession(ctx)
	if err := e.Discord.VoiceServerUnavailable(g.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Discord.ChangeVoiceServer(g.ID); err != nil {
		t.Fatal(err)
	}
	waitBotSession(t, ctx, e, 20, old) // audio on a new session
}

// TestModeratorMoveSurvivesRestart: a moderator moves the playing bot to
// another channel, and the bot's process dies right after (kill -9: the
// old bot saves nothing more, its store is closed under it). The restarted
// bot rejoins the channel it was moved to, not the one it was first asked
// into, and plays there.
func TestModeratorMoveSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quaver.db")
	openStore := func() *store.Store {
		t.Helper()
		st, err := store.Open(context.Background(), store.Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	first := openStore()
	e, g, ctx := startEnv(t, sandbox.Options{Store: first})
	_, other := playThenMove(t, ctx, e, g)
	// The bot has seen the move once it sends the listener left behind to
	// the new channel (asked with a command that changes nothing either way).
	for {
		m, err := e.Command(ctx, g, "skipto", discordtest.IntegerOption("position", 99))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.Embeds[0].Description, "<#"+other+">") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the bot did not notice the move: %q", m.Embeds[0].Description)
		}
	}
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, other); err != nil { // the listener follows
		t.Fatal(err)
	}
	// The move is written as soon as the bot sees it; the crash may come at
	// any instant after that. Give the write well under the 5 s between
	// position checkpoints to land (a move saved only with the next
	// checkpoint, or never, is lost to the crash).
	saved, stop := context.WithTimeout(ctx, 2*time.Second)
	for {
		if snap, err := first.Snapshots.Get(saved, g.ID); err == nil && snap.VoiceChannelID == other {
			break
		}
		if !waitTick(saved) {
			break
		}
	}
	stop()
	before := e.Voice.Sessions()
	_ = first.Close() // kill -9: nothing the old bot does from now on is stored
	if err := e.RestartBot(ctx, openStore()); err != nil {
		t.Fatal(err)
	}
	waitBotSession(t, ctx, e, 25, before...) // the restarted bot plays
	if vs, ok := e.Discord.VoiceState(g.ID, e.Bot.BotID()); !ok || vs.ChannelID != other {
		t.Errorf("the restarted bot is in channel %q, want %q where the moderator had moved it (first channel %q)", vs.ChannelID, other, g.VoiceID)
	}
	if p, ok := e.Bot.Player(g.ID); !ok || p.Status().VoiceChannelID != other {
		t.Errorf("the restarted bot's player is not in channel %q", other)
	}
}

// waitTick waits a moment while polling a condition that has no event;
// false when ctx ended.
func waitTick(ctx context.Context) bool {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
