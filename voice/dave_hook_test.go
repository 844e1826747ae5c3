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

// TestBinaryFramesReachHookAndSeqAck: a binary server frame [seq][op][payload]
// reaches the hook and its sequence number is acknowledged by the next
// heartbeat; the client's binary messages [op][payload] reach the server's hook.
func TestBinaryFramesReachHookAndSeqAck(t *testing.T) {
	hook := &hookRecorder{ops: make(chan string, 16)}
	srvHook := &serverHook{got: make(chan []byte, 4)}
	h := newHarness(t, func(s *voicetest.Config, c *Config) { c.DAVE = hook; s.DAVE = srvHook })
	ss := h.connect()
	if err := ss.SendBinary(25, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-hook.ops:
		if got != `{"binary":true,"op":25}` {
			t.Fatalf("hook got %s", got)
		}
	case <-h.ctx.Done():
		t.Fatal("binary frame never reached the hook")
	}
	want := ss.Seq()
	for {
		if _, _, ack := ss.Counters(); ack == want {
			break
		}
		h.waitPackets(ss, int(ss.Recorder().Received())+5)
	}
	if err := h.conn.SendBinary(h.ctx, 26, []byte{9, 8}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-srvHook.got:
		if string(got) != "\x1a\x09\x08" {
			t.Fatalf("server hook got % x", got)
		}
	case <-h.ctx.Done():
		t.Fatal("client binary message never reached the server hook")
	}
}

type serverHook struct{ got chan []byte }

func (serverHook) ProtocolVersion(*voicetest.Session, int) int { return 0 }
func (h *serverHook) HandleMessage(_ *voicetest.Session, op int, binary bool, payload []byte) {
	if binary {
		h.got <- append([]byte{byte(op)}, payload...)
	}
}

// markEncryptor stands in for DAVE: it appends a marker to each frame.
type markEncryptor struct{}

func (markEncryptor) EncryptFrame(dst, frame []byte) ([]byte, error) {
	dst = append(dst, frame...)
	return append(dst, 0xDA, 0x7E), nil
}

// TestEncryptorRunsBeforeTransport: the E2EE hook sees every Opus frame
// before transport encryption (the server, after removing transport
// encryption, records the hook's output); silence frames pass untouched.
func TestEncryptorRunsBeforeTransport(t *testing.T) {
	h := newHarness(t, func(_ *voicetest.Config, c *Config) { c.Encryptor = markEncryptor{} })
	h.src.limit.Store(20)
	ss := h.connect()
	h.waitPackets(ss, 25)
	pkts := ss.Recorder().Packets()
	for i, p := range pkts[:20] {
		n := len(p.Opus)
		if n != frameN+2 || p.Opus[n-2] != 0xDA || p.Opus[n-1] != 0x7E {
			t.Fatalf("packet %d not passed through the encryptor: % x", i, p.Opus[n-4:])
		}
		if idx, ok := frameIndex(p.Opus[:frameN]); !ok || idx != uint32(i) {
			t.Fatalf("packet %d carries frame %d", i, idx)
		}
	}
	for _, p := range pkts[20:25] {
		if string(p.Opus) != "\xf8\xff\xfe" {
			t.Fatalf("silence frame changed: % x", p.Opus)
		}
	}
}
