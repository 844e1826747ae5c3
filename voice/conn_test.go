package voice

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverbot/quaver/voice/pacer"
	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
	"github.com/quaverbot/quaver/voice/voicetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	guild   = "111"
	user    = "222"
	session = "sess-1"
	token   = "tok-1"
	frameN  = 60
)

// indexSource yields frames that carry their index, so the test can check
// order, loss and duplication at the server.
type indexSource struct {
	next   atomic.Uint32
	paused atomic.Bool
	limit  atomic.Uint32
	buf    [frameN]byte
}

func (s *indexSource) NextFrame() ([]byte, bool) {
	if s.paused.Load() {
		return nil, false
	}
	i := s.next.Load()
	if l := s.limit.Load(); l > 0 && i >= l {
		return nil, false
	}
	s.next.Add(1)
	s.buf[0] = 0xFC
	binary.BigEndian.PutUint32(s.buf[1:], i)
	for j := 5; j < frameN; j++ {
		s.buf[j] = byte(i) ^ byte(j)
	}
	return s.buf[:], true
}

func frameIndex(p []byte) (uint32, bool) {
	if len(p) != frameN || p[0] != 0xFC {
		return 0, false
	}
	return binary.BigEndian.Uint32(p[1:]), true
}

// orderLog records, on the client side, when Speaking (op 5) was written to
// the WebSocket and when media packets were written to UDP.
type orderLog struct {
	mu     sync.Mutex
	events []string // "speak:1", "speak:0", "media"
}

func (o *orderLog) add(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e == "media" && len(o.events) > 0 && o.events[len(o.events)-1] == "media" {
		return // runs of media collapse to one entry
	}
	o.events = append(o.events, e)
}

// check asserts every run of media packets was preceded by Speaking 1 and
// that there were at least runs talk spurts.
func (o *orderLog) check(t *testing.T, runs int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	speaking, n := false, 0
	for i, e := range o.events {
		switch e {
		case "speak:1":
			speaking = true
		case "speak:0":
			speaking = false
		case "media":
			if !speaking {
				t.Fatalf("media sent before Speaking: %v", o.events[:i+1])
			}
			n++
		}
	}
	if n < runs {
		t.Fatalf("%d talk spurts, want %d: %v", n, runs, o.events)
	}
}

type orderWS struct {
	WSConn
	log *orderLog
}

func (w orderWS) Write(ctx context.Context, binary bool, data []byte) error {
	err := w.WSConn.Write(ctx, binary, data)
	var m struct {
		Op int `json:"op"`
		D  struct {
			Speaking int `json:"speaking"`
		} `json:"d"`
	}
	if err == nil && !binary && json.Unmarshal(data, &m) == nil && m.Op == opSpeaking {
		w.log.add(fmt.Sprintf("speak:%d", m.D.Speaking))
	}
	return err
}

type orderDialer struct {
	WSDialer
	log *orderLog
}

func (d orderDialer) Dial(ctx context.Context, url string) (WSConn, error) {
	c, err := d.WSDialer.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	return orderWS{c, d.log}, nil
}

type orderUDP struct {
	net.Conn
	log *orderLog
}

func (u orderUDP) Write(p []byte) (int, error) {
	if len(p) != 74 {
		u.log.add("media")
	}
	return u.Conn.Write(p)
}

type orderUDPDialer struct{ log *orderLog }

func (d orderUDPDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return orderUDP{c, d.log}, nil
}

type harness struct {
	order  *orderLog
	t      testing.TB
	srv    *voicetest.Server
	pacer  *pacer.Pacer
	conn   *Conn
	src    *indexSource
	events chan Event
	ctx    context.Context
}

type opt func(*voicetest.Config, *Config)

func newHarness(t testing.TB, opts ...opt) *harness {
	t.Helper()
	scfg := voicetest.Config{HeartbeatInterval: 100 * time.Millisecond}
	ccfg := DefaultConfig()
	ccfg.ServerUpdateWait = 2 * time.Second
	ccfg.RetryBackoff = 20 * time.Millisecond
	for _, o := range opts {
		o(&scfg, &ccfg)
	}
	srv, err := voicetest.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AllowSession(guild, user, session, token)
	p, err := pacer.New(pacer.Config{Workers: 1, Interval: 2 * time.Millisecond, MaxCatchUp: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := &harness{t: t, srv: srv, pacer: p, src: &indexSource{}, events: make(chan Event, 256)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	h.ctx = ctx
	ccfg.Endpoint, ccfg.GuildID, ccfg.UserID, ccfg.SessionID, ccfg.Token = srv.Endpoint(), guild, user, session, token
	ccfg.ChannelID = "chan-1"
	ccfg.RootCAs = srv.CA().Pool()
	ccfg.Pacer = p
	ccfg.OnEvent = func(e Event) {
		select {
		case h.events <- e:
		default:
		}
	}
	h.order = &orderLog{}
	if ccfg.Dialer == nil {
		ccfg.Dialer = orderDialer{NewWSDialer(ccfg.RootCAs), h.order}
	}
	if ccfg.UDPDialer == nil {
		ccfg.UDPDialer = orderUDPDialer{h.order}
	}
	h.conn = New(ccfg)
	return h
}

func (h *harness) connect() *voicetest.Session {
	h.t.Helper()
	h.conn.SetSource(h.src)
	if err := h.conn.Connect(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { h.conn.Close() })
	ss, err := h.srv.WaitSession(h.ctx, user)
	if err != nil {
		h.t.Fatal(err)
	}
	return ss
}

func (h *harness) waitState(want State) Event {
	h.t.Helper()
	for {
		select {
		case e := <-h.events:
			if e.State == want {
				return e
			}
		case <-h.ctx.Done():
			h.t.Fatalf("timed out waiting for state %v", want)
		}
	}
}

func (h *harness) waitPackets(s *voicetest.Session, n int) {
	h.t.Helper()
	if err := s.Recorder().WaitPackets(h.ctx, n); err != nil {
		h.t.Fatalf("waiting for %d packets (have %d): %v", n, s.Recorder().Received(), err)
	}
}

// waitNewSession waits for a session of user other than old.
func (h *harness) waitNewSession(old *voicetest.Session, srv *voicetest.Server) *voicetest.Session {
	h.t.Helper()
	for {
		ss, err := srv.WaitSession(h.ctx, user)
		if err != nil {
			h.t.Fatal(err)
		}
		if ss != old {
			return ss
		}
		// Old session still registered: wait for the next change.
		select {
		case <-h.events:
		case <-h.ctx.Done():
			h.t.Fatal("timed out waiting for a new session")
		}
	}
}

// checkContinuous asserts +1 sequence numbers and +960·k timestamps and
// returns the frame indices carried by the non-silence packets.
func checkContinuous(t *testing.T, pkts []voicetest.Packet) []uint32 {
	t.Helper()
	var idx []uint32
	for i, p := range pkts {
		if i > 0 {
			prev := pkts[i-1]
			if p.Seq != prev.Seq+1 {
				t.Fatalf("packet %d: seq %d after %d", i, p.Seq, prev.Seq)
			}
			d := p.Timestamp - prev.Timestamp
			if d == 0 || d%rtp.FrameSamples != 0 || d > 1<<30 {
				t.Fatalf("packet %d: timestamp step %d is not a positive multiple of 960", i, d)
			}
		}
		if n, ok := frameIndex(p.Opus); ok {
			idx = append(idx, n)
		}
	}
	return idx
}

// checkIndices asserts frames arrived in order without duplicates, allowing
// at most maxGap missing frames in total.
func checkIndices(t *testing.T, idx []uint32, maxGap int) {
	t.Helper()
	missing := 0
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			t.Fatalf("frame %d after %d: reordered or duplicated", idx[i], idx[i-1])
		}
		missing += int(idx[i] - idx[i-1] - 1)
	}
	if missing > maxGap {
		t.Fatalf("%d frames missing, at most %d allowed", missing, maxGap)
	}
}

func TestHandshakeAndStream(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	if ss.Mode() != transport.AES256GCM {
		t.Fatalf("mode %q, want AES-GCM when offered", ss.Mode())
	}
	h.waitPackets(ss, 150)
	pkts := ss.Recorder().Packets()
	idx := checkContinuous(t, pkts)
	checkIndices(t, idx, 0)
	if idx[0] != 0 {
		t.Fatalf("first frame %d, want 0", idx[0])
	}
	for i, p := range pkts {
		if p.Timestamp-pkts[0].Timestamp != uint32(i)*960 {
			t.Fatalf("packet %d: timestamp not on the 960 grid", i)
		}
	}
	h.order.check(t, 1)
	st := ss.Recorder().Stats()
	if st.Lost != 0 || st.DecryptFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Heartbeats carry seq_ack of the last server message.
	deadline := time.Now().Add(10 * time.Second)
	for {
		hb, _, ack := ss.Counters()
		if hb >= 2 && ack == ss.Seq() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heartbeats %d, seq_ack %d, server seq %d", hb, ack, ss.Seq())
		}
		h.waitPackets(ss, int(ss.Recorder().Received())+10)
	}
}

func TestXChaChaWhenAESNotOffered(t *testing.T) {
	h := newHarness(t, func(s *voicetest.Config, _ *Config) {
		s.Modes = []string{"xsalsa20_poly1305", string(transport.XChaCha20Poly1305)}
	})
	ss := h.connect()
	if ss.Mode() != transport.XChaCha20Poly1305 {
		t.Fatalf("mode %q", ss.Mode())
	}
	h.waitPackets(ss, 50)
	checkIndices(t, checkContinuous(t, ss.Recorder().Packets()), 0)
}

func TestWrongTokenIs4004(t *testing.T) {
	h := newHarness(t, func(_ *voicetest.Config, c *Config) {})
	h.conn.token = "wrong"
	err := h.conn.Connect(h.ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4004 {
		t.Fatalf("err %v, want close 4004", err)
	}
	h.conn.Close()
}

func TestPauseSendsFiveSilenceFramesThenSpeaksAgain(t *testing.T) {
	h := newHarness(t)
	h.src.limit.Store(40)
	ss := h.connect()
	h.waitPackets(ss, 45)
	// Source ran dry: exactly five silence frames, then quiet, Speaking 0.
	if err := ss.WaitSpeaking(h.ctx, 0); err != nil {
		t.Fatal("Speaking not cleared after silence")
	}
	pkts := ss.Recorder().Packets()
	if len(pkts) != 45 {
		t.Fatalf("%d packets, want 40 frames + 5 silence", len(pkts))
	}
	for _, p := range pkts[40:] {
		if string(p.Opus) != string(rtp.SilenceFrame[:]) {
			t.Fatalf("expected silence frame, got % x", p.Opus)
		}
	}
	h.src.limit.Store(80)
	h.waitPackets(ss, 85)
	pkts = ss.Recorder().Packets()
	idx := checkContinuous(t, pkts)
	checkIndices(t, idx, 0)
	if gap := pkts[45].Timestamp - pkts[44].Timestamp; gap <= 960 {
		t.Fatalf("timestamp advanced only %d across the pause", gap)
	}
	h.order.check(t, 2)
}
