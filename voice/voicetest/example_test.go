package voicetest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/quaverbot/quaver/voice"
	"github.com/quaverbot/quaver/voice/voicetest"
)

type tone struct{ n int }

func (t *tone) NextFrame() ([]byte, bool) {
	t.n++
	return []byte{0xFC, byte(t.n), 0x01, 0x02}, true
}

// Example connects Quaver's voice client to a local voice server, as the bot
// tests and the local Discord gateway do: register the credentials the
// VOICE_SERVER_UPDATE will carry, trust the server's CA, and check what the
// server received.
func Example() {
	srv, err := voicetest.New(voicetest.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.AllowSession("guild", "bot", "session", "token")

	cfg := voice.DefaultConfig()
	cfg.Endpoint, cfg.Token = srv.Endpoint(), "token" // VOICE_SERVER_UPDATE
	cfg.GuildID, cfg.UserID, cfg.SessionID, cfg.ChannelID = "guild", "bot", "session", "channel"
	cfg.RootCAs = srv.CA().Pool()
	conn := voice.New(cfg)
	conn.SetSource(&tone{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := conn.Connect(ctx); err != nil {
		panic(err)
	}
	defer conn.Close()
	sess, err := srv.WaitSession(ctx, "bot")
	if err != nil {
		panic(err)
	}
	if err := sess.Recorder().WaitPackets(ctx, 10); err != nil {
		panic(err)
	}
	fmt.Println("mode:", sess.Mode())
	fmt.Println("lost:", sess.Recorder().Stats().Lost)
	// Output:
	// mode: aead_aes256_gcm_rtpsize
	// lost: 0
}
