package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/discordtest"
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
