package bot_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/voice/voicetest"
)

// TestPlayThroughDAVE: with the voice server requiring DAVE, as Discord does,
// the bot negotiates it, every audio frame on the wire is end-to-end encrypted
// (the 0xFAFA marker, undecodable as Opus), and the listener's group member
// decrypts audio that matches the source.
func TestPlayThroughDAVE(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	e, g, ctx := startEnv(t, sandbox.Options{DAVE: true})
	q := writeMedia(t, e, "music.wav", audiotest.Music(44100, 2, 4))
	rec := playing(t, ctx, e, g, q)
	if _, err := e.WaitEvent(ctx, g.ID, player.EventQueueEnd); err != nil {
		t.Fatal(err)
	}
	if e.DAVE.Epoch() < 1 {
		t.Fatalf("no DAVE group was established (epoch %d)", e.DAVE.Epoch())
	}
	botID, _ := strconv.ParseUint(e.Bot.BotID(), 10, 64)
	raw := rec.Packets()
	plain := make([]voicetest.Packet, 0, len(raw))
	encrypted := 0
	for i, p := range raw {
		if bytes.HasSuffix(p.Opus, []byte{0xfa, 0xfa}) {
			encrypted++
		}
		d, err := e.DAVE.Listener().DecryptFrame(botID, nil, p.Opus)
		if err != nil {
			t.Fatalf("packet %d: listener cannot decrypt: %v", i, err)
		}
		p.Opus = d
		plain = append(plain, p)
	}
	// Only the five silence frames at the end go out in the clear.
	if encrypted < len(raw)-5 {
		t.Fatalf("%d of %d frames end-to-end encrypted", encrypted, len(raw))
	}
	heard := decodeHeard(t, plain)
	want := decodeFile(t, e.MediaDir+"/music.wav")
	ncc, lag := audiotest.NCC(want, heard, 48000)
	t.Logf("DAVE epoch %d, %d/%d frames encrypted, NCC %.4f at lag %d", e.DAVE.Epoch(), encrypted, len(raw), ncc, lag)
	if ncc < 0.95 {
		t.Fatalf("decrypted audio does not match the source: NCC %.3f", ncc)
	}
}
