package discordtest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func BenchmarkDecodeInbound(b *testing.B) {
	frame := []byte(`{"op":4,"d":{"guild_id":"1234567890123456789","channel_id":"1234567890123456780","self_mute":false,"self_deaf":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeInbound(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatch measures one guild event fanned out to a session: JSON
// encoding, logging for resume and queueing for the writer.
func BenchmarkDispatch(b *testing.B) {
	srv, g, vc := fuzzServer()
	c := newConn(srv, nil, 10, false)
	if code := c.process(websocket.TextMessage, []byte(`{"op":2,"d":{"token":"quaver-test-token","intents":641}}`)); code != 0 {
		b.Fatal(code)
	}
	user := srv.AddUser(User{Username: "u"})
	_ = srv.AddMember(g, user)
	b.ReportAllocs()
	for b.Loop() {
		srv.mu.Lock()
		gg := srv.w.guilds[g]
		vs := &voiceState{UserID: user, ChannelID: vc, SessionID: "s"}
		srv.dispatchGuildLocked(gg, "VOICE_STATE_UPDATE", srv.voiceStateJSON(gg, vs, true), IntentGuildVoiceStates)
		c.out = c.out[:0]
		srv.mu.Unlock()
	}
}

// BenchmarkInteractionRoundTrip measures a slash command end to end over
// real sockets: INTERACTION_CREATE to a raw gateway client, its HTTPS
// callback, and the test waking up on the response.
func BenchmarkInteractionRoundTrip(b *testing.B) {
	srv := New(Config{RateLimit: 1 << 30})
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	g := srv.AddGuild("bench")
	ch, _ := srv.AddChannel(g, Channel{Name: "t", Type: ChannelText})
	owner, _ := srv.GuildOwner(g)
	srv.mu.Lock()
	srv.w.commands.set("", []*Command{{ID: "1", Type: 1, Name: "ping", Description: "p"}})
	srv.mu.Unlock()
	ws, _, err := srv.Dialer().Dial(srv.GatewayURL()+"/?v=10&encoding=json", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage()
	_ = ws.WriteJSON(map[string]any{"op": 2, "d": map[string]any{"token": srv.Token(), "intents": 1}})
	client := srv.HTTPClient()
	defer client.CloseIdleConnections()
	ctx := b.Context()
	body := []byte(`{"type":4,"data":{"content":"pong"}}`)
	b.ReportAllocs()
	for b.Loop() {
		inv, err := srv.InvokeCommand(ctx, g, ch, owner, "ping")
		if err != nil {
			b.Fatal(err)
		}
		for {
			var f frame
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := ws.ReadJSON(&f); err != nil {
				b.Fatal(err)
			}
			if f.T == "INTERACTION_CREATE" {
				var d struct{ ID, Token string }
				_ = json.Unmarshal(f.D, &d)
				resp, err := client.Post(srv.URL()+"/api/v10/interactions/"+d.ID+"/"+d.Token+"/callback", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				break
			}
		}
		if _, err := inv.WaitResponse(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
