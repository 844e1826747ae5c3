package voice

import (
	"encoding/json"
	"github.com/quaverbot/quaver/voice/voicetest"
	"testing"
)

// hookRecorder is a DAVEHandler that keeps what it was handed.
type hookRecorder struct{ ops chan string }

func (h *hookRecorder) HandleDAVE(_ *Conn, op int, binary bool, payload []byte) {
	s, _ := json.Marshal(map[string]any{"op": op, "binary": binary, "d": json.RawMessage(payload)})
	if binary {
		s, _ = json.Marshal(map[string]any{"op": op, "binary": true})
	}
	select {
	case h.ops <- string(s):
	default:
	}
}

// TestPeersReachTheHook: a second user joining and leaving the call reaches
// the first connection's DAVE hook as op 11 and op 13, as on Discord.
func TestPeersReachTheHook(t *testing.T) {
	hook := &hookRecorder{ops: make(chan string, 16)}
	h := newHarness(t, func(_ *voicetest.Config, c *Config) { c.DAVE = hook })
	h.connect()
	if h.conn.DAVEProtocolVersion() != 0 {
		t.Fatal("server without DAVE announced a version")
	}
	h.srv.AllowSession(guild, "333", "sess-2", "tok-b")
	cfg := h.conn.cfg
	cfg.UserID, cfg.SessionID, cfg.Token, cfg.DAVE, cfg.OnEvent = "333", "sess-2", "tok-b", nil, nil
	b := New(cfg)
	if err := b.Connect(h.ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"binary":false,"d":{"user_ids":["333"]},"op":11}`, `{"binary":false,"d":{"user_id":"333"},"op":13}`}
	for i, w := range want {
		if i == 1 {
			// Discord ends the session of a user who leaves.
			for _, ss := range h.srv.Sessions() {
				if ss.UserID == "333" {
					ss.CloseWithCode(4022)
				}
			}
		}
		select {
		case got := <-hook.ops:
			if got != w {
				t.Fatalf("hook got %s, want %s", got, w)
			}
		case <-h.ctx.Done():
			t.Fatalf("hook never got %s", w)
		}
	}
	<-b.Done()
	b.Close()
}
