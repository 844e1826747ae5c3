package voicetest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type rawClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, ctx context.Context, s *Server) *rawClient {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool()}}}
	ws, _, err := websocket.Dial(ctx, "wss://"+s.Endpoint()+"/?v=8", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &rawClient{t: t, ws: ws}
}

type msg struct {
	Op  int             `json:"op"`
	D   json.RawMessage `json:"d"`
	Seq *int            `json:"seq"`
}

func (c *rawClient) read(ctx context.Context) (msg, error) {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return msg{}, err
	}
	var m msg
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("server sent invalid JSON %q", data)
	}
	return m, nil
}

func (c *rawClient) send(ctx context.Context, op int, d any) {
	b, _ := json.Marshal(map[string]any{"op": op, "d": d})
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func newServer(t *testing.T, cfg Config) *Server {
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWrongTokenClosesWith4004(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newServer(t, Config{})
	s.AllowSession("g", "u", "s", "right")
	c := dialRaw(t, ctx, s)
	if m, err := c.read(ctx); err != nil || m.Op != OpHello {
		t.Fatalf("first message op %d, %v", m.Op, err)
	}
	c.send(ctx, OpIdentify, map[string]any{"server_id": "g", "user_id": "u", "session_id": "s", "token": "wrong"})
	_, err := c.read(ctx)
	if websocket.CloseStatus(err) != CloseAuthFailed {
		t.Fatalf("got %v, want close 4004", err)
	}
}

func TestHandshakeDiscoveryAndHeartbeat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newServer(t, Config{HeartbeatInterval: 5 * time.Second})
	s.AllowSession("g", "u", "s", "tok")
	c := dialRaw(t, ctx, s)
	hello, _ := c.read(ctx)
	var hd struct {
		HeartbeatInterval float64 `json:"heartbeat_interval"`
	}
	_ = json.Unmarshal(hello.D, &hd)
	if hello.Op != OpHello || hd.HeartbeatInterval != 5000 {
		t.Fatalf("hello %+v", hello)
	}
	c.send(ctx, OpIdentify, map[string]any{"server_id": "g", "user_id": "u", "session_id": "s", "token": "tok", "max_dave_protocol_version": 1})
	ready, err := c.read(ctx)
	if err != nil || ready.Op != OpReady || ready.Seq == nil {
		t.Fatalf("ready %+v %v", ready, err)
	}
	var rd struct {
		SSRC  uint32   `json:"ssrc"`
		IP    string   `json:"ip"`
		Port  int      `json:"port"`
		Modes []string `json:"modes"`
	}
	_ = json.Unmarshal(ready.D, &rd)
	if rd.SSRC == 0 || rd.Port == 0 || len(rd.Modes) == 0 {
		t.Fatalf("ready data %+v", rd)
	}
	// IP discovery: the server reports our address as it sees it.
	udp, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(net.JoinHostPort(rd.IP, itoa(rd.Port)))))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	req := make([]byte, 74)
	req[1], req[3] = 1, 70
	req[4], req[5], req[6], req[7] = byte(rd.SSRC>>24), byte(rd.SSRC>>16), byte(rd.SSRC>>8), byte(rd.SSRC)
	_, _ = udp.Write(req)
	_ = udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp := make([]byte, 100)
	n, err := udp.Read(resp)
	if err != nil || n != 74 || resp[1] != 2 {
		t.Fatalf("discovery response %d bytes % x %v", n, resp[:4], err)
	}
	var d transport.Discovery
	if err := d.Unmarshal(resp[:n]); err != nil || d.Addr != udp.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("discovered %v, local %v (%v)", d.Addr, udp.LocalAddr(), err)
	}
	// Heartbeat v8: ACK echoes the nonce.
	c.send(ctx, OpHeartbeat, map[string]any{"t": 12345, "seq_ack": *ready.Seq})
	ack, _ := c.read(ctx)
	if ack.Op != OpHeartbeatACK || string(ack.D) != `{"t":12345}` {
		t.Fatalf("ack %+v %s", ack, ack.D)
	}
	// Select Protocol → Session Description with a 32-byte key, DAVE 0.
	c.send(ctx, OpSelectProtocol, map[string]any{"protocol": "udp", "data": map[string]any{"address": "127.0.0.1", "port": 1, "mode": "aead_aes256_gcm_rtpsize"}})
	sd, _ := c.read(ctx)
	var sdd struct {
		Mode      string `json:"mode"`
		SecretKey []int  `json:"secret_key"`
		DAVE      *int   `json:"dave_protocol_version"`
	}
	_ = json.Unmarshal(sd.D, &sdd)
	if sd.Op != OpSessionDescription || len(sdd.SecretKey) != 32 || sdd.DAVE == nil || *sdd.DAVE != 0 || *sd.Seq != *ready.Seq+1 {
		t.Fatalf("session description %s seq %v", sd.D, sd.Seq)
	}
	// Unsupported mode on a second session is refused with 4016.
	s.AllowSession("g", "u2", "s2", "tok")
	c2 := dialRaw(t, ctx, s)
	_, _ = c2.read(ctx)
	c2.send(ctx, OpIdentify, map[string]any{"server_id": "g", "user_id": "u2", "session_id": "s2", "token": "tok"})
	_, _ = c2.read(ctx)
	c2.send(ctx, OpSelectProtocol, map[string]any{"protocol": "udp", "data": map[string]any{"address": "127.0.0.1", "port": 1, "mode": "xsalsa20_poly1305"}})
	if _, err := c2.read(ctx); websocket.CloseStatus(err) != CloseUnknownEncryption {
		t.Fatalf("got %v, want 4016", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRecorderLossAndJitter(t *testing.T) {
	r := newRecorder(1, true)
	t0 := time.Unix(1000, 0)
	// seq 65534..1 wraps; seq 2 lost; transit constant except one packet 10 ms late.
	seqs := []uint16{65534, 65535, 0, 1, 3}
	for i, s := range seqs {
		h := rtp.Header{SequenceNumber: s, Timestamp: uint32(i) * 960}
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		if i == 3 {
			at = at.Add(10 * time.Millisecond)
		}
		r.record(&h, []byte{byte(i)}, at, true)
	}
	st := r.Stats()
	if st.Received != 5 || st.Expected != 6 || st.Lost != 1 {
		t.Fatalf("stats %+v", st)
	}
	// RFC 3550 6.4.1 by hand: |D| = 480 units at packet 3 and again at 4:
	// J = 480/16 = 30, then 30 + (480-30)/16 = 58.125 units = 1.2109375 ms.
	want := 1210937 * time.Nanosecond // 58.125 / 48000 s
	if d := st.Jitter - want; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("jitter %v, want %v", st.Jitter, want)
	}
	if p := r.Packets(); len(p) != 5 || p[4].Opus[0] != 4 || p[4].Seq != 3 {
		t.Fatalf("packets %+v", p)
	}
}

func TestWaitPackets(t *testing.T) {
	r := newRecorder(1, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.WaitPackets(ctx, 3) }()
	for i := range 3 {
		r.record(&rtp.Header{SequenceNumber: uint16(i)}, nil, time.Now(), true)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := r.WaitPackets(short, 10); err == nil {
		t.Fatal("WaitPackets returned nil on a cancelled context")
	}
}

// sessionWithKey registers a session that can receive media, without a
// WebSocket, for the UDP path tests.
func sessionWithKey(t testing.TB, s *Server, mode transport.Mode) (*Session, *transport.Cipher) {
	key := make([]byte, 32)
	key[0] = 9
	open, _ := transport.New(mode, key)
	seal, _ := transport.New(mode, key)
	ss := &Session{srv: s, SSRC: 77, opener: open}
	ss.rec = newRecorder(77, !s.cfg.DiscardPayloads)
	ss.speaking.Store(1)
	s.bySSRC.store(ss.SSRC, ss)
	return ss, seal
}

func TestReceiveAllocatesNothing(t *testing.T) {
	s := newServer(t, Config{DiscardPayloads: true})
	for _, mode := range transport.Supported {
		ss, seal := sessionWithKey(t, s, mode)
		h := rtp.Header{PayloadType: rtp.PayloadType, SSRC: 77}
		hb := make([]byte, 12)
		pkt := make([]byte, 0, 300)
		body := make([]byte, 120)
		var out [transport.DiscoveryLen]byte
		src := netip.MustParseAddrPort("127.0.0.1:9")
		a := testing.AllocsPerRun(300, func() {
			h.SequenceNumber++
			h.Timestamp += 960
			_, _ = h.MarshalTo(hb)
			pkt = seal.Seal(pkt[:0], hb, body)
			s.process(pkt, src, time.Now(), &out)
		})
		if a != 0 {
			t.Fatalf("%s: %v allocs per received packet", mode, a)
		}
		if st := ss.Recorder().Stats(); st.Received < 300 || st.DecryptFailures != 0 || st.Lost != 0 {
			t.Fatalf("%s: stats %+v", mode, st)
		}
	}
}

func FuzzProcess(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	_, seal := sessionWithKey(f, s, transport.AES256GCM)
	h := rtp.Header{PayloadType: rtp.PayloadType, SSRC: 77, Extension: true, ExtensionProfile: 0xBEDE, ExtensionWords: 1}
	hb, _ := h.Marshal()
	f.Add(seal.Seal(nil, hb, []byte{0x10, 0, 0, 0, 1, 2, 3}))
	f.Add(make([]byte, 74))
	var out [transport.DiscoveryLen]byte
	src := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// process decrypts in place; the fuzzer's input must stay as it is.
		s.process(append([]byte(nil), pkt...), src, time.Now(), &out)
	})
}
