package discordtest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestPermissions(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	mod, _ := srv.AddRole(w.guild, Role{Name: "mod", Permissions: PermMoveMembers})
	admin, _ := srv.AddRole(w.guild, Role{Name: "admin", Permissions: PermAdministrator})
	carol := srv.AddUser(User{Username: "carol"})
	dave := srv.AddUser(User{Username: "dave"})
	_ = srv.AddMember(w.guild, carol, mod)
	_ = srv.AddMember(w.guild, dave, admin)
	owner, _ := srv.GuildOwner(w.guild)
	ch := func(ows ...Overwrite) string {
		id, err := srv.AddChannel(w.guild, Channel{Name: "c", Type: ChannelVoice, Overwrites: ows})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	everyone := w.guild
	noSpeak := ch(Overwrite{ID: everyone, Type: OverwriteRole, Deny: PermSpeak})
	modsOnly := ch(Overwrite{ID: everyone, Type: OverwriteRole, Deny: PermViewChannel}, Overwrite{ID: mod, Type: OverwriteRole, Allow: PermViewChannel})
	bobDenied := ch(Overwrite{ID: w.bob, Type: OverwriteMember, Deny: PermConnect})
	roleDenyMemberAllow := ch(Overwrite{ID: mod, Type: OverwriteRole, Deny: PermConnect}, Overwrite{ID: carol, Type: OverwriteMember, Allow: PermConnect})
	cases := []struct {
		name      string
		channel   string
		user      string
		has, lack uint64
	}{
		{"default voice", w.vc, w.bob, PermConnect | PermSpeak | PermViewChannel, PermMoveMembers},
		{"everyone denied speak", noSpeak, w.bob, PermConnect, PermSpeak},
		{"role grants move", w.vc, carol, PermMoveMembers | PermConnect, PermAdministrator},
		{"hidden from everyone", modsOnly, w.bob, 0, PermViewChannel | PermConnect},
		{"role overwrite reveals", modsOnly, carol, PermViewChannel | PermConnect, 0},
		{"member overwrite denies", bobDenied, w.bob, PermSpeak, PermConnect},
		{"member overwrite wins over role", roleDenyMemberAllow, carol, PermConnect, 0},
		{"administrator ignores overwrites", modsOnly, dave, PermAll, 0},
		{"owner has everything", noSpeak, owner, PermAll, 0},
		{"dj role adds manage channels", w.text, w.alice, PermManageChannels | PermSendMessages, PermMoveMembers},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := srv.Permissions(w.guild, tc.channel, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if p&tc.has != tc.has || p&tc.lack != 0 {
				t.Fatalf("permissions %b: want %b set and %b clear", p, tc.has, tc.lack)
			}
		})
	}
	if _, err := srv.Permissions(w.guild, w.vc, "1"); !errors.Is(err, errNotMember) {
		t.Fatalf("non-member: %v", err)
	}
}

func TestScriptedVoice(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	locked, _ := srv.AddChannel(w.guild, Channel{Name: "locked", Type: ChannelVoice,
		Overwrites: []Overwrite{{ID: w.guild, Type: OverwriteRole, Deny: PermConnect}}})
	vs, err := srv.JoinVoice(w.guild, w.alice, w.full)
	if err != nil || vs.Endpoint != "voice.local:4443" || vs.Token == "" || vs.SessionID == "" {
		t.Fatalf("join: %+v %v", vs, err)
	}
	g := w.voice.all()
	if last := g[len(g)-1]; last.UserID != w.alice || last.Token != vs.Token || last.SessionID != vs.SessionID || last.ServerID != w.guild {
		t.Fatalf("backend grant %+v for %+v", last, vs)
	}
	if _, err := srv.JoinVoice(w.guild, w.bob, w.full); !errors.Is(err, errChannelFull) {
		t.Fatalf("full channel: %v", err)
	}
	if _, err := srv.JoinVoice(w.guild, w.bob, locked); !errors.Is(err, errNoConnect) {
		t.Fatalf("locked channel: %v", err)
	}
	if _, err := srv.JoinVoice(w.guild, w.bob, w.text); !errors.Is(err, errNotVoiceChannel) {
		t.Fatalf("text channel: %v", err)
	}
	if err := srv.LeaveVoice(w.guild, w.bob); !errors.Is(err, errNotInVoice) {
		t.Fatalf("leave when out: %v", err)
	}
	st, err := srv.JoinVoice(w.guild, w.bob, w.stage)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := srv.VoiceState(w.guild, w.bob); !ok || !info.Suppress || info.SessionID != st.SessionID {
		t.Fatalf("stage listener %+v", info)
	}
	// Moving keeps the session.
	moved, err := srv.JoinVoice(w.guild, w.bob, w.vc)
	if err != nil || moved.SessionID != st.SessionID {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if info, _ := srv.VoiceState(w.guild, w.bob); info.Suppress || info.ChannelID != w.vc {
		t.Fatalf("after move %+v", info)
	}
}

func TestBotVoiceOverGateway(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	locked, _ := srv.AddChannel(w.guild, Channel{Name: "locked", Type: ChannelVoice,
		Overwrites: []Overwrite{{ID: srv.BotID(), Type: OverwriteMember, Deny: PermConnect}}})
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	c.recvUntil("GUILD_CREATE")
	// Denied Connect: ignored as Discord does; the next request goes through.
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": w.guild, "channel_id": locked, "self_mute": false, "self_deaf": true}})
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": w.guild, "channel_id": w.vc, "self_mute": false, "self_deaf": true}})
	f := c.recv()
	var vs struct {
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		SessionID string `json:"session_id"`
		SelfDeaf  bool   `json:"self_deaf"`
		GuildID   string `json:"guild_id"`
	}
	if err := json.Unmarshal(f.D, &vs); f.T != "VOICE_STATE_UPDATE" || err != nil || vs.ChannelID != w.vc || vs.UserID != srv.BotID() || !vs.SelfDeaf {
		t.Fatalf("%s %s", f.T, f.D)
	}
	f = c.recv()
	var vsu struct {
		Token    string  `json:"token"`
		GuildID  string  `json:"guild_id"`
		Endpoint *string `json:"endpoint"`
	}
	if err := json.Unmarshal(f.D, &vsu); f.T != "VOICE_SERVER_UPDATE" || err != nil || vsu.Endpoint == nil || *vsu.Endpoint != "voice.local:4443" || vsu.GuildID != w.guild {
		t.Fatalf("%s %s", f.T, f.D)
	}
	// The voice server goes away: endpoint null.
	if err := srv.VoiceServerUnavailable(w.guild); err != nil {
		t.Fatal(err)
	}
	f = c.recvUntil("VOICE_SERVER_UPDATE")
	if err := json.Unmarshal(f.D, &vsu); err != nil || vsu.Endpoint != nil {
		t.Fatalf("unavailable: %s", f.D)
	}
	// Leaving: channel null, same session.
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": w.guild, "channel_id": nil}})
	f = c.recvUntil("VOICE_STATE_UPDATE")
	var left struct {
		ChannelID *string `json:"channel_id"`
		SessionID string  `json:"session_id"`
	}
	if err := json.Unmarshal(f.D, &left); err != nil || left.ChannelID != nil || left.SessionID != vs.SessionID {
		t.Fatalf("leave: %s", f.D)
	}
	if _, ok := srv.VoiceState(w.guild, srv.BotID()); ok {
		t.Fatal("bot still in voice")
	}
	// Rejoining is a new voice session.
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": w.guild, "channel_id": w.vc}})
	f = c.recvUntil("VOICE_STATE_UPDATE")
	_ = json.Unmarshal(f.D, &vs)
	if vs.SessionID == left.SessionID || vs.SessionID == "" {
		t.Fatalf("rejoin kept session %s", vs.SessionID)
	}
}

func TestDeleteChannelAndRemoveBot(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	c.recvUntil("GUILD_CREATE")
	if _, err := srv.JoinVoice(w.guild, w.alice, w.vc); err != nil {
		t.Fatal(err)
	}
	c.recvUntil("VOICE_STATE_UPDATE")
	if err := srv.DeleteChannel(w.vc); err != nil {
		t.Fatal(err)
	}
	f := c.recv()
	var vs struct {
		UserID    string  `json:"user_id"`
		ChannelID *string `json:"channel_id"`
	}
	if err := json.Unmarshal(f.D, &vs); f.T != "VOICE_STATE_UPDATE" || err != nil || vs.UserID != w.alice || vs.ChannelID != nil {
		t.Fatalf("%s %s", f.T, f.D)
	}
	if f := c.recv(); f.T != "CHANNEL_DELETE" {
		t.Fatalf("got %s, want CHANNEL_DELETE", f.T)
	}
	if _, err := srv.JoinVoice(w.guild, w.alice, w.vc); !errors.Is(err, errUnknownChannel) {
		t.Fatalf("join deleted channel: %v", err)
	}
	// An interaction whose channel is deleted before the answer.
	register(t, srv, "", map[string]any{"name": "x", "description": "x"})
	inv, err := srv.InvokeCommand(ctxT(t, 15*time.Second), w.guild, w.text, w.alice, "x")
	if err != nil {
		t.Fatal(err)
	}
	c.recvUntil("INTERACTION_CREATE")
	if err := srv.DeleteChannel(w.text); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := doREST(t, srv, restCall{"POST", "/interactions/" + inv.ID + "/" + inv.Token + "/callback", "-",
		map[string]any{"type": 4, "data": map[string]any{"content": "late"}}}); status != 404 || body["code"] != float64(10003) {
		t.Fatalf("callback into deleted channel: %d %v", status, body)
	}
	if err := srv.RemoveBot(w.guild); err != nil {
		t.Fatal(err)
	}
	f = c.recvUntil("GUILD_DELETE")
	var gd map[string]any
	if err := json.Unmarshal(f.D, &gd); f.T != "GUILD_DELETE" || err != nil || gd["id"] != w.guild || gd["unavailable"] != nil {
		t.Fatalf("%s %s", f.T, f.D)
	}
	if status, body, _ := doREST(t, srv, restCall{"GET", "/guilds/" + w.guild, "", nil}); status != 404 || body["code"] != float64(10004) {
		t.Fatalf("removed guild: %d %v", status, body)
	}
}
