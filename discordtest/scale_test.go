package discordtest

import (
	"encoding/json"
	"testing"
	"time"
)

// TestManyGuildsVoice drives 200 guilds through one session, the scale of
// the bot's load test: every guild arrives, and the bot joins voice in
// each, getting its own voice session and token.
func TestManyGuildsVoice(t *testing.T) {
	const n = 200
	fv := &fakeVoice{endpoint: "voice.local:1"}
	// One shard sending 200 voice updates at once would be rate limited
	// (4008) by Discord's 120 events a minute; the test allows more.
	srv := New(Config{Voice: fv, GatewayEventLimit: 1000})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	vcs := map[string]string{}
	for range n {
		g := srv.AddGuild("g")
		vc, err := srv.AddChannel(g, Channel{Name: "v", Type: ChannelVoice})
		if err != nil {
			t.Fatal(err)
		}
		vcs[g] = vc
	}
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	c.recvUntil("READY")
	seen := map[string]bool{}
	for len(seen) < n {
		f := c.recvUntil("GUILD_CREATE")
		var g struct{ ID string }
		_ = json.Unmarshal(f.D, &g)
		seen[g.ID] = true
	}
	for g, vc := range vcs {
		c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": g, "channel_id": vc}})
	}
	tokens := map[string]string{}
	for len(tokens) < n {
		f := c.recvUntil("VOICE_SERVER_UPDATE")
		var d struct {
			GuildID string `json:"guild_id"`
			Token   string `json:"token"`
		}
		_ = json.Unmarshal(f.D, &d)
		tokens[d.GuildID] = d.Token
	}
	grants := fv.all()
	if len(grants) != n {
		t.Fatalf("%d grants for %d guilds", len(grants), n)
	}
	sessions := map[string]bool{}
	for _, gr := range grants {
		if tokens[gr.ServerID] != gr.Token || vcs[gr.ServerID] == "" {
			t.Fatalf("grant %+v does not match the token sent (%s)", gr, tokens[gr.ServerID])
		}
		sessions[gr.SessionID] = true
	}
	if len(sessions) != n {
		t.Fatalf("%d distinct voice sessions for %d guilds", len(sessions), n)
	}
	ctx := ctxT(t, 15*time.Second)
	for g, vc := range vcs {
		if _, err := srv.WaitVoice(ctx, g, srv.BotID(), vc); err != nil {
			t.Fatal(err)
		}
	}
}
