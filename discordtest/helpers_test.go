package discordtest

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeVoice is a VoiceBackend that records the sessions it admitted.
type fakeVoice struct {
	mu       sync.Mutex
	endpoint string
	grants   []grant
}

type grant struct{ ServerID, UserID, SessionID, Token string }

func (f *fakeVoice) Endpoint() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endpoint
}

func (f *fakeVoice) AllowSession(serverID, userID, sessionID, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append(f.grants, grant{serverID, userID, sessionID, token})
}

func (f *fakeVoice) all() []grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]grant(nil), f.grants...)
}

// world is a small scripted guild shared by tests.
type testWorld struct {
	srv                   *Server
	voice                 *fakeVoice
	guild                 string
	text, vc, stage, full string
	alice, bob, otherBot  string
	djRole                string
}

func newWorld(t *testing.T, cfg Config) *testWorld {
	t.Helper()
	fv := &fakeVoice{endpoint: "voice.local:4443"}
	if cfg.Voice == nil {
		cfg.Voice = fv
	}
	srv := New(cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	w := &testWorld{srv: srv, voice: fv}
	w.guild = srv.AddGuild("Test Guild")
	must := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.djRole = must(srv.AddRole(w.guild, Role{Name: "DJ", Permissions: PermManageChannels}))
	w.text = must(srv.AddChannel(w.guild, Channel{Name: "general", Type: ChannelText}))
	w.vc = must(srv.AddChannel(w.guild, Channel{Name: "Music", Type: ChannelVoice}))
	w.stage = must(srv.AddChannel(w.guild, Channel{Name: "Stage", Type: ChannelStage}))
	w.full = must(srv.AddChannel(w.guild, Channel{Name: "Duo", Type: ChannelVoice, UserLimit: 1}))
	w.alice = srv.AddUser(User{Username: "alice"})
	w.bob = srv.AddUser(User{Username: "bob"})
	w.otherBot = srv.AddUser(User{Username: "otherbot", Bot: true})
	for _, u := range []string{w.alice, w.bob, w.otherBot} {
		if err := srv.AddMember(w.guild, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddMember(w.guild, w.alice, w.djRole); err != nil {
		t.Fatal(err)
	}
	return w
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawClient is a bare WebSocket gateway client for protocol tests.
type rawClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, srv *Server, query string) *rawClient {
	t.Helper()
	ws, resp, err := srv.Dialer().Dial(srv.GatewayURL()+"/?"+query, http.Header{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	c := &rawClient{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *rawClient) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

type frame struct {
	Op int             `json:"op"`
	T  string          `json:"t"`
	S  int64           `json:"s"`
	D  json.RawMessage `json:"d"`
}

func (c *rawClient) recv() frame {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	var f frame
	if err := c.ws.ReadJSON(&f); err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return f
}

// recvUntil reads frames until one of event t arrives.
func (c *rawClient) recvUntil(t string) frame {
	c.t.Helper()
	for {
		f := c.recv()
		if f.T == t {
			return f
		}
	}
}

// closeCode reads until the server closes and returns its close code.
func (c *rawClient) closeCode() int {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			c.t.Fatalf("expected a close frame, got %v", err)
		}
	}
}

func (c *rawClient) identify(token string, intents uint64, shard []int) {
	d := map[string]any{"token": token, "intents": intents,
		"properties": map[string]string{"os": "linux", "browser": "raw", "device": "raw"}}
	if shard != nil {
		d["shard"] = shard
	}
	c.send(map[string]any{"op": 2, "d": d})
}
