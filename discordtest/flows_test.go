package discordtest

import (
	"encoding/json"
	"testing"
	"time"
)

// rawBot is a bare gateway client plus REST calls, acting as a bot.
type rawBot struct {
	t   *testing.T
	srv *Server
	c   *rawClient
}

func newRawBot(t *testing.T, srv *Server) *rawBot {
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates|IntentGuildMessages, nil)
	c.recvUntil("READY")
	return &rawBot{t: t, srv: srv, c: c}
}

type rawInteraction struct {
	ID    string `json:"id"`
	Token string `json:"token"`
	Type  int    `json:"type"`
	Data  struct {
		CustomID string   `json:"custom_id"`
		Values   []string `json:"values"`
		Name     string   `json:"name"`
		Options  []struct {
			Name  string `json:"name"`
			Type  int    `json:"type"`
			Value any    `json:"value"`
		} `json:"options"`
		Resolved struct {
			Users    map[string]struct{ Username string }    `json:"users"`
			Members  map[string]struct{ Permissions string } `json:"members"`
			Channels map[string]struct{ Type int }           `json:"channels"`
		} `json:"resolved"`
	} `json:"data"`
	Message *Message `json:"message"`
}

func (b *rawBot) interaction() rawInteraction {
	b.t.Helper()
	f := b.c.recvUntil("INTERACTION_CREATE")
	var ri rawInteraction
	if err := json.Unmarshal(f.D, &ri); err != nil {
		b.t.Fatal(err)
	}
	return ri
}

func (b *rawBot) callback(ri rawInteraction, body any) {
	b.t.Helper()
	if status, m, _ := doREST(b.t, b.srv, restCall{"POST", "/interactions/" + ri.ID + "/" + ri.Token + "/callback", "-", body}); status != 204 {
		b.t.Fatalf("callback: %d %v", status, m)
	}
}

func register(t *testing.T, srv *Server, guild string, cmds ...any) []Command {
	t.Helper()
	path := "/applications/" + srv.ApplicationID() + "/commands"
	if guild != "" {
		path = "/applications/" + srv.ApplicationID() + "/guilds/" + guild + "/commands"
	}
	if status, m, _ := doREST(t, srv, restCall{"PUT", path, "", cmds}); status != 200 {
		t.Fatalf("register: %d %v", status, m)
	}
	return srv.Commands(guild)
}

func TestComponentFlows(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	register(t, srv, "", map[string]any{"name": "queue", "description": "Show the queue"})
	bot := newRawBot(t, srv)
	ctx := ctxT(t, 20*time.Second)
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "queue")
	if err != nil {
		t.Fatal(err)
	}
	ri := bot.interaction()
	bot.callback(ri, map[string]any{"type": 4, "data": map[string]any{"content": "Page 1",
		"components": []any{map[string]any{"type": 1, "components": []any{
			map[string]any{"type": 2, "style": 2, "label": "Next", "custom_id": "next"},
			map[string]any{"type": 2, "style": 2, "label": "Old", "custom_id": "old", "disabled": true},
		}}, map[string]any{"type": 1, "components": []any{
			map[string]any{"type": 3, "custom_id": "pick", "options": []any{map[string]any{"label": "a", "value": "a"}}},
		}}}}})
	page, err := inv.WaitResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ClickButton(ctx, page.ID, "old", w.bob); err == nil {
		t.Fatal("clicked a disabled button")
	}
	if _, err := srv.ClickButton(ctx, page.ID, "missing", w.bob); err == nil {
		t.Fatal("clicked a missing button")
	}
	// Deferred update (6), then editing @original edits the clicked message.
	click, err := srv.ClickButton(ctx, page.ID, "next", w.bob)
	if err != nil {
		t.Fatal(err)
	}
	ri = bot.interaction()
	if ri.Type != InteractionComponent || ri.Data.CustomID != "next" || ri.Message == nil || ri.Message.ID != page.ID {
		t.Fatalf("click %+v", ri)
	}
	bot.callback(ri, map[string]any{"type": 6})
	status, m, _ := doREST(t, srv, restCall{"PATCH", "/webhooks/" + srv.ApplicationID() + "/" + ri.Token + "/messages/@original", "-", map[string]any{"content": "Page 2"}})
	if status != 200 || m["id"] != page.ID {
		t.Fatalf("edit @original after type 6: %d %v", status, m)
	}
	upd, err := click.WaitResponse(ctx)
	if err != nil || upd.ID != page.ID || upd.Content != "Page 2" || len(upd.Components) != 2 {
		t.Fatalf("updated %+v %v", upd, err)
	}
	// A select menu, answered with a modal (9).
	sel, err := srv.SelectMenu(ctx, page.ID, "pick", w.alice, "a")
	if err != nil {
		t.Fatal(err)
	}
	ri = bot.interaction()
	if len(ri.Data.Values) != 1 || ri.Data.Values[0] != "a" {
		t.Fatalf("select %+v", ri.Data)
	}
	bot.callback(ri, map[string]any{"type": 9, "data": map[string]any{"custom_id": "why", "title": "Why?",
		"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": "reason", "style": 1, "label": "Reason"}}}}}})
	cb, err := sel.WaitCallback(ctx)
	if err != nil || cb.Type != CallbackModal || cb.CustomID != "why" || cb.Title != "Why?" {
		t.Fatalf("modal %+v %v", cb, err)
	}
	// An ephemeral reply's buttons are only the invoker's.
	inv2, _ := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "queue")
	ri = bot.interaction()
	bot.callback(ri, map[string]any{"type": 4, "data": map[string]any{"content": "mine", "flags": 64,
		"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 2, "style": 1, "label": "x", "custom_id": "x"}}}}}})
	eph, err := inv2.WaitResponse(ctx)
	if err != nil || !eph.Ephemeral() {
		t.Fatalf("ephemeral %+v %v", eph, err)
	}
	if _, err := srv.ClickButton(ctx, eph.ID, "x", w.bob); err == nil {
		t.Fatal("bob clicked alice's ephemeral message")
	}
	if _, err := srv.ClickButton(ctx, eph.ID, "x", w.alice); err != nil {
		t.Fatalf("alice cannot click her ephemeral message: %v", err)
	}
}

func TestDeferredThenFollowupFillsLoadingMessage(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	register(t, srv, w.guild, map[string]any{"name": "play", "description": "Play",
		"options": []any{
			map[string]any{"type": 3, "name": "query", "description": "q", "required": true},
			map[string]any{"type": 6, "name": "for", "description": "who"},
			map[string]any{"type": 7, "name": "in", "description": "where"},
			map[string]any{"type": 4, "name": "times", "description": "n", "choices": []any{map[string]any{"name": "one", "value": 1}, map[string]any{"name": "two", "value": 2}}},
		}})
	bot := newRawBot(t, srv)
	ctx := ctxT(t, 20*time.Second)
	if _, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "play", UserOption("for", w.bob)); err == nil {
		t.Fatal("required option missing was accepted")
	}
	if _, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "play", StringOption("query", "q"), IntegerOption("times", 3)); err == nil {
		t.Fatal("a value outside the choices was accepted")
	}
	if _, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "play", IntegerOption("query", 3)); err == nil {
		t.Fatal("a wrongly typed option was accepted")
	}
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "play",
		StringOption("query", "song"), UserOption("for", w.bob), ChannelOption("in", w.vc), IntegerOption("times", 2))
	if err != nil {
		t.Fatal(err)
	}
	ri := bot.interaction()
	if len(ri.Data.Options) != 4 || ri.Data.Resolved.Users[w.bob].Username != "bob" || ri.Data.Resolved.Channels[w.vc].Type != int(ChannelVoice) {
		t.Fatalf("options %+v resolved %+v", ri.Data.Options, ri.Data.Resolved)
	}
	if _, ok := ri.Data.Resolved.Members[w.bob]; !ok {
		t.Fatalf("no resolved member: %+v", ri.Data.Resolved)
	}
	bot.callback(ri, map[string]any{"type": 5})
	// While deferred, the response is a loading message.
	status, m, _ := doREST(t, srv, restCall{"GET", "/webhooks/" + srv.ApplicationID() + "/" + ri.Token + "/messages/@original", "-", nil})
	if status != 200 || m["flags"] != float64(FlagLoading) {
		t.Fatalf("loading message %d %v", status, m)
	}
	status, m, _ = doREST(t, srv, restCall{"POST", "/webhooks/" + srv.ApplicationID() + "/" + ri.Token + "?wait=true", "-", map[string]any{"content": "Playing song"}})
	if status != 200 {
		t.Fatalf("follow-up %d %v", status, m)
	}
	resp, err := inv.WaitResponse(ctx)
	if err != nil || resp.Content != "Playing song" || resp.ID != m["id"] {
		t.Fatalf("filled response %+v %v (follow-up %v)", resp, err, m["id"])
	}
	// The next follow-up is a new message.
	status, m2, _ := doREST(t, srv, restCall{"POST", "/webhooks/" + srv.ApplicationID() + "/" + ri.Token + "?wait=true", "-", map[string]any{"content": "Queued 2"}})
	if status != 200 || m2["id"] == m["id"] {
		t.Fatalf("second follow-up %d %v", status, m2)
	}
	if fu, err := inv.WaitFollowup(ctx, 1); err != nil || fu.Content != "Queued 2" {
		t.Fatalf("WaitFollowup(1) %+v %v", fu, err)
	}
	// The channel saw a MESSAGE_CREATE for the deferred message.
	f := bot.c.recvUntil("MESSAGE_CREATE")
	var mc struct{ ID, ChannelID string }
	if err := json.Unmarshal(f.D, &mc); err != nil || mc.ID != resp.ID {
		t.Fatalf("MESSAGE_CREATE %s", f.D)
	}
}

func TestRESTResources(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	app := srv.ApplicationID()
	// Guild commands: create (201), overwrite by name (200), get, patch, delete.
	gpath := "/applications/" + app + "/guilds/" + w.guild + "/commands"
	status, c1, _ := doREST(t, srv, restCall{"POST", gpath, "", map[string]any{"name": "skip", "description": "Skip"}})
	if status != 201 {
		t.Fatalf("create %d %v", status, c1)
	}
	status, c2, _ := doREST(t, srv, restCall{"POST", gpath, "", map[string]any{"name": "skip", "description": "Skip the track"}})
	if status != 200 || c2["id"] != c1["id"] || c2["guild_id"] != w.guild {
		t.Fatalf("overwrite %d %v", status, c2)
	}
	id := c1["id"].(string)
	status, c3, _ := doREST(t, srv, restCall{"PATCH", gpath + "/" + id, "", map[string]any{"description": "Skips"}})
	if status != 200 || c3["description"] != "Skips" || c3["name"] != "skip" {
		t.Fatalf("patch %d %v", status, c3)
	}
	if status, c4, _ := doREST(t, srv, restCall{"GET", gpath + "/" + id, "", nil}); status != 200 || c4["description"] != "Skips" {
		t.Fatalf("get %d %v", status, c4)
	}
	if status, _, _ := doREST(t, srv, restCall{"DELETE", gpath + "/" + id, "", nil}); status != 204 {
		t.Fatalf("delete %d", status)
	}
	if status, e, _ := doREST(t, srv, restCall{"GET", gpath + "/" + id, "", nil}); status != 404 || e["code"] != float64(10063) {
		t.Fatalf("get deleted %d %v", status, e)
	}
	if n := len(srv.Commands(w.guild)); n != 0 {
		t.Fatalf("%d guild commands left", n)
	}
	// Messages: post, patch, get, list, delete.
	mpath := "/channels/" + w.text + "/messages"
	status, m, _ := doREST(t, srv, restCall{"POST", mpath, "", map[string]any{"content": "first"}})
	if status != 200 || m["content"] != "first" || m["channel_id"] != w.text {
		t.Fatalf("post %d %v", status, m)
	}
	mid := m["id"].(string)
	if status, m, _ = doREST(t, srv, restCall{"PATCH", mpath + "/" + mid, "", map[string]any{"embeds": []any{map[string]any{"title": "t"}}}}); status != 200 || m["content"] != "first" || m["edited_timestamp"] == nil {
		t.Fatalf("patch %d %v", status, m)
	}
	if status, list, _ := doRESTList(t, srv, "GET", mpath+"?limit=10"); status != 200 || len(list) != 1 {
		t.Fatalf("list %d %v", status, list)
	}
	if status, _, _ := doREST(t, srv, restCall{"DELETE", mpath + "/" + mid, "", nil}); status != 204 {
		t.Fatalf("delete %d", status)
	}
	if msgs := srv.Messages(w.text); len(msgs) != 1 || !msgs[0].Deleted || msgs[0].Edits != 1 {
		t.Fatalf("recorded %+v", msgs)
	}
	// Guild resources.
	if status, g, _ := doREST(t, srv, restCall{"GET", "/guilds/" + w.guild, "", nil}); status != 200 || g["name"] != "Test Guild" {
		t.Fatalf("guild %d %v", status, g)
	}
	status, chans, _ := doRESTList(t, srv, "GET", "/guilds/"+w.guild+"/channels")
	if status != 200 || len(chans) != 4 {
		t.Fatalf("channels %d %v", status, chans)
	}
	for _, c := range chans {
		if c["id"] == w.full && c["user_limit"] != float64(1) {
			t.Fatalf("user limit in %v", c)
		}
	}
	if status, mem, _ := doREST(t, srv, restCall{"GET", "/guilds/" + w.guild + "/members/" + w.otherBot, "", nil}); status != 200 || mem["user"].(map[string]any)["bot"] != true {
		t.Fatalf("bot member %d %v", status, mem)
	}
	if status, gw, _ := doREST(t, srv, restCall{"GET", "/gateway", "-", nil}); status != 200 || gw["url"] != srv.GatewayURL() {
		t.Fatalf("gateway %d %v", status, gw)
	}
	status, gb, _ := doREST(t, srv, restCall{"GET", "/gateway/bot", "", nil})
	limit, _ := gb["session_start_limit"].(map[string]any)
	if status != 200 || gb["shards"] != float64(1) || limit["max_concurrency"] != float64(1) {
		t.Fatalf("gateway/bot %d %v", status, gb)
	}
	// Stage: the bot unsuppresses itself only with Mute Members.
	c := newRawBot(t, srv)
	c.c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": w.guild, "channel_id": w.stage}})
	c.c.recvUntil("VOICE_SERVER_UPDATE")
	if vs, _ := srv.VoiceState(w.guild, srv.BotID()); !vs.Suppress {
		t.Fatalf("bot not suppressed on stage: %+v", vs)
	}
	vpath := "/guilds/" + w.guild + "/voice-states/@me"
	if status, e, _ := doREST(t, srv, restCall{"PATCH", vpath, "", map[string]any{"channel_id": w.stage, "suppress": false}}); status != 403 || e["code"] != float64(50013) {
		t.Fatalf("unsuppress without permission %d %v", status, e)
	}
	if err := srv.SetRolePermissions(w.guild, w.guild, DefaultEveryonePermissions|PermMuteMembers); err != nil {
		t.Fatal(err)
	}
	if status, e, _ := doREST(t, srv, restCall{"PATCH", vpath, "", map[string]any{"channel_id": w.stage, "suppress": false}}); status != 204 {
		t.Fatalf("unsuppress %d %v", status, e)
	}
	if vs, _ := srv.VoiceState(w.guild, srv.BotID()); vs.Suppress {
		t.Fatal("still suppressed")
	}
	if status, vs, _ := doREST(t, srv, restCall{"GET", "/guilds/" + w.guild + "/voice-states/" + srv.BotID(), "", nil}); status != 200 || vs["suppress"] != false {
		t.Fatalf("voice state %d %v", status, vs)
	}
}

func doRESTList(t *testing.T, srv *Server, method, path string) (int, []map[string]any, error) {
	t.Helper()
	client := srv.HTTPClient()
	defer client.CloseIdleConnections()
	r, err := newAuthedRequest(srv, method, path)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var list []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&list)
	return resp.StatusCode, list, err
}
