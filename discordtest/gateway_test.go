package discordtest

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestGatewayHelloReadyGuildCreate(t *testing.T) {
	w := newWorld(t, Config{HeartbeatInterval: 1234 * time.Millisecond})
	if _, err := w.srv.JoinVoice(w.guild, w.alice, w.vc); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, w.srv, "v=10&encoding=json")
	hello := c.recv()
	var h struct {
		Interval int `json:"heartbeat_interval"`
	}
	if err := json.Unmarshal(hello.D, &h); hello.Op != 10 || err != nil || h.Interval != 1234 {
		t.Fatalf("hello = %+v (%s)", hello, hello.D)
	}
	c.identify(w.srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	ready := c.recv()
	if ready.T != "READY" || ready.S != 1 {
		t.Fatalf("first dispatch %s seq %d", ready.T, ready.S)
	}
	var r struct {
		V         int    `json:"v"`
		SessionID string `json:"session_id"`
		Resume    string `json:"resume_gateway_url"`
		User      struct {
			ID  string `json:"id"`
			Bot bool   `json:"bot"`
		} `json:"user"`
		Guilds []struct {
			ID          string `json:"id"`
			Unavailable bool   `json:"unavailable"`
		} `json:"guilds"`
		Application struct {
			ID string `json:"id"`
		} `json:"application"`
	}
	if err := json.Unmarshal(ready.D, &r); err != nil {
		t.Fatal(err)
	}
	if r.V != 10 || r.SessionID == "" || r.Resume != w.srv.GatewayURL() || r.User.ID != w.srv.BotID() || !r.User.Bot ||
		len(r.Guilds) != 1 || r.Guilds[0].ID != w.guild || !r.Guilds[0].Unavailable || r.Application.ID != w.srv.ApplicationID() {
		t.Fatalf("READY = %s", ready.D)
	}
	gc := c.recv()
	if gc.T != "GUILD_CREATE" || gc.S != 2 {
		t.Fatalf("second dispatch %s seq %d", gc.T, gc.S)
	}
	var g struct {
		ID       string `json:"id"`
		Channels []struct {
			ID        string `json:"id"`
			Type      int    `json:"type"`
			UserLimit int    `json:"user_limit"`
		} `json:"channels"`
		Roles       []struct{ ID, Permissions string }   `json:"roles"`
		Members     []struct{ User struct{ ID string } } `json:"members"`
		VoiceStates []struct {
			UserID    string `json:"user_id"`
			ChannelID string `json:"channel_id"`
			SessionID string `json:"session_id"`
		} `json:"voice_states"`
	}
	if err := json.Unmarshal(gc.D, &g); err != nil {
		t.Fatal(err)
	}
	types := map[int]int{}
	for _, ch := range g.Channels {
		types[ch.Type]++
		if ch.ID == w.full && ch.UserLimit != 1 {
			t.Errorf("user limit of %s = %d", ch.ID, ch.UserLimit)
		}
	}
	if g.ID != w.guild || types[0] != 1 || types[2] != 2 || types[13] != 1 {
		t.Errorf("guild %s channel types %v", g.ID, types)
	}
	if len(g.Roles) != 2 || g.Roles[0].ID != w.guild || g.Roles[0].Permissions != strconv.FormatUint(DefaultEveryonePermissions, 10) {
		t.Errorf("roles %+v", g.Roles)
	}
	if len(g.Members) != 5 { // owner, bot, alice, bob, otherbot
		t.Errorf("%d members", len(g.Members))
	}
	if len(g.VoiceStates) != 1 || g.VoiceStates[0].UserID != w.alice || g.VoiceStates[0].ChannelID != w.vc || g.VoiceStates[0].SessionID == "" {
		t.Errorf("voice states %+v", g.VoiceStates)
	}
	// Heartbeat → ack.
	c.send(map[string]any{"op": 1, "d": 2})
	if f := c.recv(); f.Op != 11 {
		t.Fatalf("heartbeat answered with op %d", f.Op)
	}
}

func TestGatewayCloseCodes(t *testing.T) {
	w := newWorld(t, Config{MaxGuildsPerShard: 1})
	second := w.srv.AddGuild("second") // two guilds: a single shard would hold both
	tok := w.srv.Token()
	// A shard of two holding at most one guild.
	free := 0
	if shardByFormula(w.guild, 2) == shardByFormula(second, 2) {
		free = 1 - shardByFormula(second, 2)
	}
	cases := []struct {
		name  string
		query string
		steps func(c *rawClient)
		want  CloseCode
	}{
		{"bad token", "v=10&encoding=json", func(c *rawClient) { c.identify("nope", 1, []int{0, 2}) }, CloseAuthenticationFailed},
		{"shard out of range", "v=10&encoding=json", func(c *rawClient) { c.identify(tok, 1, []int{2, 2}) }, CloseInvalidShard},
		{"zero shards", "v=10&encoding=json", func(c *rawClient) { c.identify(tok, 1, []int{0, 0}) }, CloseInvalidShard},
		{"sharding required", "v=10&encoding=json", func(c *rawClient) { c.identify(tok, 1, nil) }, CloseShardingRequired},
		{"privileged intent", "v=10&encoding=json", func(c *rawClient) { c.identify(tok, IntentGuildMembers, []int{0, 2}) }, CloseDisallowedIntents},
		{"unknown intent", "v=10&encoding=json", func(c *rawClient) { c.identify(tok, 1<<40, []int{0, 2}) }, CloseInvalidIntents},
		{"garbage", "v=10&encoding=json", func(c *rawClient) { _ = c.ws.WriteMessage(websocket.TextMessage, []byte("{op:")) }, CloseDecodeError},
		{"binary frame", "v=10&encoding=json", func(c *rawClient) { _ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}) }, CloseDecodeError},
		{"too large", "v=10&encoding=json", func(c *rawClient) {
			c.send(map[string]any{"op": 3, "d": map[string]string{"pad": string(bytes.Repeat([]byte("x"), 5000))}})
		}, CloseDecodeError},
		{"unknown opcode", "v=10&encoding=json", func(c *rawClient) { c.send(map[string]any{"op": 42, "d": nil}) }, CloseUnknownOpcode},
		{"not authenticated", "v=10&encoding=json", func(c *rawClient) { c.send(map[string]any{"op": 4, "d": map[string]any{}}) }, CloseNotAuthenticated},
		{"identify twice", "v=10&encoding=json", func(c *rawClient) {
			c.identify(tok, 1, []int{free, 2})
			c.recvUntil("READY")
			c.identify(tok, 1, []int{free, 2})
		}, CloseAlreadyAuthenticated},
		{"bad version", "v=6&encoding=json", func(*rawClient) {}, CloseInvalidAPIVersion},
		{"etf encoding", "v=10&encoding=etf", func(*rawClient) {}, CloseDecodeError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, w.srv, tc.query)
			if tc.want != CloseInvalidAPIVersion && tc.query != "v=10&encoding=etf" {
				if f := c.recv(); f.Op != 10 {
					t.Fatalf("first frame op %d", f.Op)
				}
			}
			c.t = t
			tc.steps(c)
			if got := c.closeCode(); got != int(tc.want) {
				t.Fatalf("close code %d, want %d (%s)", got, tc.want, tc.want.Reason())
			}
		})
	}
	if len(w.srv.ClosesSent()) != len(cases) {
		t.Errorf("ClosesSent has %d codes, want %d", len(w.srv.ClosesSent()), len(cases))
	}
}

func TestGatewayResumeReplaysMissedEvents(t *testing.T) {
	w := newWorld(t, Config{})
	c := dialRaw(t, w.srv, "v=10&encoding=json")
	c.recv()
	c.identify(w.srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	ready := c.recv()
	var r struct {
		SessionID string `json:"session_id"`
	}
	_ = json.Unmarshal(ready.D, &r)
	last := c.recvUntil("GUILD_CREATE").S
	// The connection drops; events happen meanwhile.
	if n := w.srv.DropConnections(-1); n != 1 {
		t.Fatalf("dropped %d connections", n)
	}
	ctx := ctxT(t, 15*time.Second)
	if _, err := w.srv.WaitSessions(ctx, func(ss []SessionInfo) bool { return len(ss) == 1 && !ss[0].Connected }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.srv.JoinVoice(w.guild, w.bob, w.vc); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.LeaveVoice(w.guild, w.bob); err != nil {
		t.Fatal(err)
	}
	c2 := dialRaw(t, w.srv, "v=10&encoding=json")
	c2.recv()
	c2.send(map[string]any{"op": 6, "d": map[string]any{"token": "Bot " + w.srv.Token(), "session_id": r.SessionID, "seq": last}})
	var got []string
	var seqs []int64
	for {
		f := c2.recv()
		got = append(got, f.T)
		seqs = append(seqs, f.S)
		if f.T == "RESUMED" {
			break
		}
	}
	if len(got) != 3 || got[0] != "VOICE_STATE_UPDATE" || got[1] != "VOICE_STATE_UPDATE" {
		t.Fatalf("replayed %v", got)
	}
	for i, s := range seqs {
		if s != last+1+int64(i) {
			t.Fatalf("sequences %v after %d", seqs, last)
		}
	}
	// Resuming an unknown session is refused with op 9 d=false.
	c3 := dialRaw(t, w.srv, "v=10&encoding=json")
	c3.recv()
	c3.send(map[string]any{"op": 6, "d": map[string]any{"token": w.srv.Token(), "session_id": "nope", "seq": 1}})
	if f := c3.recv(); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("unknown session: op %d d %s", f.Op, f.D)
	}
	// A sequence from the future is an invalid seq.
	c4 := dialRaw(t, w.srv, "v=10&encoding=json")
	c4.recv()
	c4.send(map[string]any{"op": 6, "d": map[string]any{"token": w.srv.Token(), "session_id": r.SessionID, "seq": 1000}})
	if code := c4.closeCode(); code != int(CloseInvalidSeq) {
		t.Fatalf("future seq closed with %d", code)
	}
}

func TestGatewayReconnectAndInvalidSession(t *testing.T) {
	w := newWorld(t, Config{})
	c := dialRaw(t, w.srv, "v=10&encoding=json")
	c.recv()
	c.identify(w.srv.Token(), IntentGuilds, nil)
	c.recvUntil("GUILD_CREATE")
	w.srv.RequestReconnect(-1)
	if f := c.recv(); f.Op != 7 {
		t.Fatalf("op %d, want 7", f.Op)
	}
	w.srv.InvalidateSessions(-1, false)
	if f := c.recv(); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("op %d d %s, want 9 false", f.Op, f.D)
	}
	// Identify works again on the same socket (discordgo does this).
	c.identify(w.srv.Token(), IntentGuilds, nil)
	c.recvUntil("READY")
	if n := len(w.srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions after re-identify", n)
	}
}

func TestGatewayZlibStream(t *testing.T) {
	w := newWorld(t, Config{})
	c := dialRaw(t, w.srv, "v=10&encoding=json&compress=zlib-stream")
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		// Feed every binary frame into one zlib stream, as clients do.
		for {
			mt, data, err := c.ws.ReadMessage()
			if err != nil || mt != websocket.BinaryMessage {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			if !bytes.HasSuffix(data, []byte{0, 0, 0xff, 0xff}) {
				pw.CloseWithError(io.ErrShortWrite)
				return
			}
			if _, err := pw.Write(data); err != nil {
				return
			}
		}
	}()
	zr, err := zlib.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(zr)
	var f frame
	if err := dec.Decode(&f); err != nil || f.Op != 10 {
		t.Fatalf("hello: %v %+v", err, f)
	}
	c.identify(w.srv.Token(), IntentGuilds, nil)
	for _, want := range []string{"READY", "GUILD_CREATE"} {
		if err := dec.Decode(&f); err != nil || f.T != want {
			t.Fatalf("want %s: %v %+v", want, err, f)
		}
	}
	c.ws.Close()
}

// shardByFormula is the test's own reading of Discord's sharding formula:
// shard_id = (guild_id >> 22) % num_shards.
func shardByFormula(guildID string, shards int) int {
	id, err := strconv.ParseUint(guildID, 10, 64)
	if err != nil {
		panic(err)
	}
	return int((id >> 22) % uint64(shards))
}

func TestGatewayLimitsAndMemberChunks(t *testing.T) {
	w := newWorld(t, Config{ResumeBuffer: 4})
	srv := w.srv
	// 121 events within a minute: rate limited.
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	for range DefaultConfig().GatewayEventLimit + 1 {
		_ = c.ws.WriteJSON(map[string]any{"op": 1, "d": nil})
	}
	if code := c.closeCode(); code != int(CloseRateLimited) {
		t.Fatalf("flood closed with %d", code)
	}
	// Request Guild Members by query and by ID.
	c = dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates, nil)
	ready := c.recvUntil("READY")
	c.send(map[string]any{"op": 8, "d": map[string]any{"guild_id": w.guild, "query": "al", "limit": 10, "nonce": "n1"}})
	f := c.recvUntil("GUILD_MEMBERS_CHUNK")
	var chunk struct {
		GuildID string `json:"guild_id"`
		Nonce   string `json:"nonce"`
		Members []struct {
			User struct{ ID string } `json:"user"`
		} `json:"members"`
		NotFound []string `json:"not_found"`
	}
	if err := json.Unmarshal(f.D, &chunk); err != nil || chunk.GuildID != w.guild || chunk.Nonce != "n1" || len(chunk.Members) != 1 || chunk.Members[0].User.ID != w.alice {
		t.Fatalf("query chunk %s", f.D)
	}
	c.send(map[string]any{"op": 8, "d": map[string]any{"guild_id": w.guild, "user_ids": []string{w.bob, "42"}, "limit": 0}})
	f = c.recvUntil("GUILD_MEMBERS_CHUNK")
	if err := json.Unmarshal(f.D, &chunk); err != nil || len(chunk.Members) != 1 || chunk.Members[0].User.ID != w.bob || len(chunk.NotFound) != 1 || chunk.NotFound[0] != "42" {
		t.Fatalf("id chunk %s", f.D)
	}
	// Resuming from before the kept events fails with op 9.
	var r struct {
		SessionID string `json:"session_id"`
	}
	_ = json.Unmarshal(ready.D, &r)
	srv.DropConnections(-1)
	ctx := ctxT(t, 15*time.Second)
	if _, err := srv.WaitSessions(ctx, func(ss []SessionInfo) bool { return len(ss) == 1 && !ss[0].Connected }); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := srv.JoinVoice(w.guild, w.bob, w.vc); err != nil {
			t.Fatal(err)
		}
		if err := srv.LeaveVoice(w.guild, w.bob); err != nil {
			t.Fatal(err)
		}
	}
	c = dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.send(map[string]any{"op": 6, "d": map[string]any{"token": srv.Token(), "session_id": r.SessionID, "seq": 1}})
	if f := c.recv(); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("resume past the buffer: op %d d %s", f.Op, f.D)
	}
}

// TestGatewayCleanCloseEndsSession: closing with 1000 invalidates the
// session; any other code keeps it resumable.
func TestGatewayCleanCloseEndsSession(t *testing.T) {
	w := newWorld(t, Config{})
	for _, tc := range []struct {
		code      int
		resumable bool
	}{{websocket.CloseNormalClosure, false}, {websocket.CloseGoingAway, false}, {4321, true}, {websocket.CloseServiceRestart, true}} {
		c := dialRaw(t, w.srv, "v=10&encoding=json")
		c.recv()
		c.identify(w.srv.Token(), IntentGuilds, nil)
		ready := c.recvUntil("READY")
		var r struct {
			SessionID string `json:"session_id"`
		}
		_ = json.Unmarshal(ready.D, &r)
		_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, ""))
		ctx := ctxT(t, 15*time.Second)
		if _, err := w.srv.WaitSessions(ctx, func(ss []SessionInfo) bool {
			for _, s := range ss {
				if s.ID == r.SessionID {
					return !s.Connected
				}
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		c2 := dialRaw(t, w.srv, "v=10&encoding=json")
		c2.recv()
		c2.send(map[string]any{"op": 6, "d": map[string]any{"token": w.srv.Token(), "session_id": r.SessionID, "seq": 1}})
		f := c2.recv()
		if got := f.T == "GUILD_CREATE" || f.T == "RESUMED"; got != tc.resumable {
			t.Fatalf("close %d: resume answered op %d %s, want resumable=%v", tc.code, f.Op, f.T, tc.resumable)
		}
		c2.ws.Close()
	}
}

// TestGatewayPayloadCompression: with "compress": true in Identify, large
// payloads arrive as separate zlib streams in binary messages, small ones
// as text.
func TestGatewayPayloadCompression(t *testing.T) {
	w := newWorld(t, Config{})
	c := dialRaw(t, w.srv, "v=10&encoding=json")
	c.recv()
	c.send(map[string]any{"op": 2, "d": map[string]any{"token": w.srv.Token(), "intents": IntentGuilds, "compress": true,
		"properties": map[string]string{"os": "linux", "browser": "raw", "device": "raw"}}})
	kinds := map[string]int{}
	for range 2 {
		_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if mt == websocket.BinaryMessage {
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("binary message is not zlib: %v", err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("inflate: %v", err)
			}
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		kinds[f.T] = mt
	}
	if kinds["GUILD_CREATE"] != websocket.BinaryMessage {
		t.Fatalf("GUILD_CREATE sent as message type %d", kinds["GUILD_CREATE"])
	}
	c.send(map[string]any{"op": 1, "d": 2})
	_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if mt, _, err := c.ws.ReadMessage(); err != nil || mt != websocket.TextMessage {
		t.Fatalf("heartbeat ack: type %d %v", mt, err)
	}
	if ss := w.srv.Sessions(); len(ss) != 1 || !ss[0].Compress {
		t.Fatalf("sessions %+v", ss)
	}
}

// TestGatewayIdentifyConcurrency: a second Identify on the same rate-limit
// key within IdentifyInterval gets op 9; another key is free.
func TestGatewayIdentifyConcurrency(t *testing.T) {
	w := newWorld(t, Config{IdentifyInterval: time.Hour, MaxConcurrency: 2})
	first := dialRaw(t, w.srv, "v=10&encoding=json")
	first.recv()
	first.identify(w.srv.Token(), IntentGuilds, []int{0, 4})
	first.recvUntil("READY")
	other := dialRaw(t, w.srv, "v=10&encoding=json")
	other.recv()
	other.identify(w.srv.Token(), IntentGuilds, []int{1, 4}) // key 1
	other.recvUntil("READY")
	again := dialRaw(t, w.srv, "v=10&encoding=json")
	again.recv()
	again.identify(w.srv.Token(), IntentGuilds, []int{2, 4}) // key 0 again
	if f := again.recv(); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("early identify: op %d %s", f.Op, f.D)
	}
	if n := len(w.srv.Sessions()); n != 2 {
		t.Fatalf("%d sessions", n)
	}
}
