package discordtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type restCall struct {
	method, path string
	auth         string // "" = the bot's; "-" = none
	body         any
}

func doREST(t *testing.T, srv *Server, c restCall) (int, map[string]any, http.Header) {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, "https://discord.com/api/v10"+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	switch c.auth {
	case "":
		req.Header.Set("Authorization", "Bot "+srv.Token())
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Content-Type", "application/json")
	client := srv.HTTPClient()
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

// errorPath digs into Discord's nested "errors" object.
func errorPath(m map[string]any, path ...string) string {
	cur, _ := m["errors"].(map[string]any)
	for _, p := range path {
		cur, _ = cur[p].(map[string]any)
	}
	list, _ := cur["_errors"].([]any)
	if len(list) == 0 {
		return ""
	}
	e, _ := list[0].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestRESTErrorsHaveDiscordShape(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	muted, err := srv.AddChannel(w.guild, Channel{Name: "read-only", Type: ChannelText,
		Overwrites: []Overwrite{{ID: srv.BotID(), Type: OverwriteMember, Deny: PermSendMessages}}})
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := srv.AddChannel(w.guild, Channel{Name: "staff", Type: ChannelText,
		Overwrites: []Overwrite{{ID: w.guild, Type: OverwriteRole, Deny: PermViewChannel}}})
	if err != nil {
		t.Fatal(err)
	}
	embeds := func(n int, desc string) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"title": "t", "description": desc}
		}
		return out
	}
	cases := []struct {
		name     string
		call     restCall
		status   int
		code     int
		formPath []string // where the form error sits, for 50035
	}{
		{"no auth", restCall{"GET", "/users/@me", "-", nil}, 401, 0, nil},
		{"raw token without Bot prefix", restCall{"GET", "/users/@me", srv.Token(), nil}, 401, 0, nil},
		{"unknown route", restCall{"GET", "/nothing/here", "", nil}, 404, 0, nil},
		{"wrong method", restCall{"DELETE", "/gateway/bot", "", nil}, 405, 0, nil},
		{"unknown channel", restCall{"POST", "/channels/1/messages", "", map[string]any{"content": "x"}}, 404, 10003, nil},
		{"unknown guild", restCall{"GET", "/guilds/1", "", nil}, 404, 10004, nil},
		{"unknown member", restCall{"GET", "/guilds/" + w.guild + "/members/1", "", nil}, 404, 10013, nil},
		{"empty message", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"content": ""}}, 400, 50006, nil},
		{"content too long", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"content": strings.Repeat("é", 2001)}}, 400, 50035, []string{"content"}},
		{"eleven embeds", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"embeds": embeds(11, "d")}}, 400, 50035, []string{"embeds"}},
		{"description too long", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"embeds": embeds(1, strings.Repeat("d", 4097))}}, 400, 50035, []string{"embeds", "0", "description"}},
		{"embeds over 6000 in total", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"embeds": embeds(2, strings.Repeat("d", 4000))}}, 400, 50035, []string{"embeds"}},
		{"button without custom_id", restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"content": "x",
			"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 2, "style": 1, "label": "b"}}}}}}, 400, 50035, []string{"components", "0", "components", "0", "custom_id"}},
		{"missing send permission", restCall{"POST", "/channels/" + muted + "/messages", "", map[string]any{"content": "x"}}, 403, 50013, nil},
		{"hidden channel", restCall{"GET", "/channels/" + hidden, "", nil}, 403, 50001, nil},
		{"invalid json", restCall{"POST", "/channels/" + w.text + "/messages", "", "not an object"}, 400, 50109, nil},
		{"bad command name", restCall{"PUT", "/applications/" + srv.ApplicationID() + "/commands", "", []any{map[string]any{"name": "Play Music", "description": "x"}}}, 400, 50035, []string{"0", "name"}},
		{"unknown interaction", restCall{"POST", "/interactions/1/nope/callback", "-", map[string]any{"type": 4, "data": map[string]any{"content": "x"}}}, 404, 10062, nil},
		{"unknown webhook", restCall{"POST", "/webhooks/" + srv.ApplicationID() + "/nope", "-", map[string]any{"content": "x"}}, 404, 10015, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := doREST(t, srv, tc.call)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if code, ok := body["code"].(float64); !ok || int(code) != tc.code {
				t.Fatalf("code %v, want %d (%v)", body["code"], tc.code, body)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Fatalf("no message in %v", body)
			}
			if tc.formPath != nil && errorPath(body, tc.formPath...) == "" {
				t.Fatalf("no form error at %v in %v", tc.formPath, body)
			}
			if status != 401 && status != 404 && status != 405 || tc.code != 0 {
				if hdr.Get("X-RateLimit-Bucket") == "" {
					t.Errorf("no rate limit headers: %v", hdr)
				}
			}
		})
	}
	if n := len(srv.Messages(w.text)); n != 0 {
		t.Errorf("%d messages recorded from rejected requests", n)
	}
}

func TestRESTRateLimit(t *testing.T) {
	w := newWorld(t, Config{RateLimit: 2, RateLimitWindow: time.Hour})
	call := restCall{"POST", "/channels/" + w.text + "/messages", "", map[string]any{"content": "x"}}
	for i := range 2 {
		status, _, hdr := doREST(t, w.srv, call)
		if status != 200 || hdr.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) || hdr.Get("X-RateLimit-Limit") != "2" {
			t.Fatalf("request %d: status %d headers %v", i, status, hdr)
		}
	}
	status, body, hdr := doREST(t, w.srv, call)
	ra, _ := body["retry_after"].(float64)
	if status != 429 || ra <= 0 || body["global"] != false || hdr.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %v %v", status, body, hdr)
	}
	// Another channel is another bucket.
	if status, _, _ := doREST(t, w.srv, restCall{"GET", "/channels/" + w.vc, "", nil}); status != 200 {
		t.Fatalf("other bucket: %d", status)
	}
}

func TestInteractionCallbackRules(t *testing.T) {
	w := newWorld(t, Config{InteractionTimeout: 300 * time.Millisecond})
	srv := w.srv
	status, _, _ := doREST(t, srv, restCall{"PUT", "/applications/" + srv.ApplicationID() + "/guilds/" + w.guild + "/commands", "",
		[]any{map[string]any{"name": "stop", "description": "Stop", "default_member_permissions": strconv.FormatUint(PermManageChannels, 10)}}})
	if status != 200 {
		t.Fatalf("register: %d", status)
	}
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds, nil)
	c.recvUntil("GUILD_CREATE")
	ctx := ctxT(t, 20*time.Second)
	// bob lacks Manage Channels: the client would not offer the command.
	if _, err := srv.InvokeCommand(ctx, w.guild, w.text, w.bob, "stop"); err == nil {
		t.Fatal("bob could run a command needing Manage Channels")
	}
	if _, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "nope"); err == nil {
		t.Fatal("unregistered command ran")
	}
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "stop")
	if err != nil {
		t.Fatal(err)
	}
	f := c.recvUntil("INTERACTION_CREATE")
	var ic struct {
		ID, Token string
		Member    struct {
			Permissions string `json:"permissions"`
		} `json:"member"`
		Data struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(f.D, &ic); err != nil || ic.ID != inv.ID || ic.Data.Name != "stop" {
		t.Fatalf("interaction %s", f.D)
	}
	perms, _ := strconv.ParseUint(ic.Member.Permissions, 10, 64)
	if perms&PermManageChannels == 0 {
		t.Fatalf("member permissions %s lack Manage Channels", ic.Member.Permissions)
	}
	cbPath := "/interactions/" + ic.ID + "/" + ic.Token + "/callback"
	bad := []struct {
		name string
		body any
		code int
	}{
		{"autocomplete result to a command", map[string]any{"type": 8, "data": map[string]any{"choices": []any{}}}, 50035},
		{"update message to a command", map[string]any{"type": 7, "data": map[string]any{"content": "x"}}, 50035},
		{"content too long", map[string]any{"type": 4, "data": map[string]any{"content": strings.Repeat("x", 2001)}}, 50035},
		{"empty", map[string]any{"type": 4, "data": map[string]any{}}, 50006},
	}
	for _, b := range bad {
		status, body, _ := doREST(t, srv, restCall{"POST", cbPath, "-", b.body})
		if status != 400 || body["code"] != float64(b.code) {
			t.Fatalf("%s: %d %v", b.name, status, body)
		}
	}
	if status, _, _ := doREST(t, srv, restCall{"POST", cbPath, "-", map[string]any{"type": 4, "data": map[string]any{"content": "Stopped", "flags": 64}}}); status != 204 {
		t.Fatalf("callback: %d", status)
	}
	resp, err := inv.WaitResponse(ctx)
	if err != nil || resp.Content != "Stopped" || !resp.Ephemeral() {
		t.Fatalf("response %+v %v", resp, err)
	}
	// Editing @original to nothing is refused; deleting works.
	orig := "/webhooks/" + srv.ApplicationID() + "/" + ic.Token + "/messages/@original"
	if status, body, _ := doREST(t, srv, restCall{"PATCH", orig, "-", map[string]any{"content": ""}}); status != 400 || body["code"] != float64(50006) {
		t.Fatalf("empty edit: %d %v", status, body)
	}
	if status, _, _ := doREST(t, srv, restCall{"DELETE", orig, "-", nil}); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := doREST(t, srv, restCall{"GET", orig, "-", nil}); status != 404 {
		t.Fatalf("get deleted: %d", status)
	}
	// An interaction nobody answers times out like Discord's 3 s.
	late, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "stop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.WaitCallback(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("unanswered interaction: %v", err)
	}
	status, body, _ := doREST(t, srv, restCall{"POST", "/interactions/" + late.ID + "/" + late.Token + "/callback", "-",
		map[string]any{"type": 4, "data": map[string]any{"content": "too late"}}})
	if status != 404 || body["code"] != float64(10062) {
		t.Fatalf("late callback: %d %v", status, body)
	}
}

func newAuthedRequest(srv *Server, method, path string) (*http.Request, error) {
	r, err := http.NewRequest(method, "https://discord.com/api/v10"+path, nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bot "+srv.Token())
	return r, nil
}
