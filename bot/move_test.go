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

func TestModeratorMovesBot(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
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
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		moved := false
		for _, s := range e.Voice.Sessions() {
			if s.UserID == e.Bot.BotID() && s != old && s.Recorder().Received() > 20 {
				moved = true
			}
		}
		if moved {
			break
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatal("no audio on a new session after a null endpoint and a new server")
		}
	}
}

// TestModeratorMoveSurvivesRestart: a moderator moves the playing bot to
// another channel, and the bot's process dies right after (kill -9: the
// old bot saves nothing more, its store is closed under it). The restarted
// bot rejoins the channel it was moved to, not the one it was first asked
// into, and plays there.
func TestModeratorMoveSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "quaver.db")
	openStore := func() *store.Store {
		t.Helper()
		st, err := store.Open(ctx, store.Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	first := openStore()
	e, err := sandbox.Start(ctx, sandbox.Options{Store: first, Pacer: testPacer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	g := e.Guilds[0]
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
		t.Fatal(err)
	}
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
	before := map[*voicetest.Session]bool{}
	for _, s := range e.Voice.Sessions() {
		before[s] = true
	}
	_ = first.Close() // kill -9: nothing the old bot does from now on is stored
	if err := e.RestartBot(ctx, openStore()); err != nil {
		t.Fatal(err)
	}
	// The restarted bot's voice session, with audio flowing.
	var sess *voicetest.Session
	for sess == nil {
		for _, s := range e.Voice.Sessions() {
			if s.UserID == e.Bot.BotID() && !before[s] && s.Recorder().Received() > 25 {
				sess = s
			}
		}
		if sess == nil && !waitTick(ctx) {
			t.Fatal("the restarted bot plays nowhere")
		}
	}
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
