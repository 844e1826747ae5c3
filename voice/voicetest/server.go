// Package voicetest is a local stand-in for a Discord voice server, faithful
// enough that both Quaver's client and @discordjs/voice talk to it: voice
// gateway v8 over TLS WebSocket (Hello, Identify validated against registered
// credentials, Ready, Select Protocol, Session Description with a fresh
// 32-byte key, Speaking, Heartbeat/ACK with seq_ack, sequence numbers with a
// replay buffer for Resume, binary frames), UDP IP discovery, RTP receive with
// rtpsize transport decryption, a Recorder per SSRC, and faults on command
// (close codes, dropped sockets, dropped or delayed UDP, refused resumes,
// moving sessions to another server).
//
// Like Discord, the server tells each session who else is in the call: op 11
// (clients connect, with user_ids) when a session has selected its protocol,
// op 13 (client disconnect) when one ends.
//
// DAVE plugs in through Config.DAVE (see DAVEHandler): the server then
// announces the handler's protocol version in Session Description and hands it
// every client message with opcodes 21–31, JSON or binary; the handler answers
// with Session.Send and Session.SendBinary, and finds the other members of a
// call with Server.Sessions.
//
// https://docs.discord.com/developers/topics/voice-connections
package voicetest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/quaverbot/quaver/voice/transport"
)

// Voice gateway opcodes used here.
// https://docs.discord.com/developers/topics/opcodes-and-status-codes#voice
const (
	OpIdentify           = 0
	OpSelectProtocol     = 1
	OpReady              = 2
	OpHeartbeat          = 3
	OpSessionDescription = 4
	OpSpeaking           = 5
	OpHeartbeatACK       = 6
	OpResume             = 7
	OpHello              = 8
	OpResumed            = 9
	OpClientsConnect     = 11
	OpClientDisconnect   = 13
	// OpDAVEFirst and OpDAVELast bound the DAVE opcodes handed to Config.DAVE.
	OpDAVEFirst = 21
	OpDAVELast  = 31
)

// Voice close codes the server sends.
// https://docs.discord.com/developers/topics/opcodes-and-status-codes#voice-voice-close-event-codes
const (
	CloseUnknownOpcode      = 4001
	CloseDecodeError        = 4002
	CloseNotAuthenticated   = 4003
	CloseAuthFailed         = 4004
	CloseAlreadyAuth        = 4005
	CloseSessionInvalid     = 4006
	CloseSessionTimeout     = 4009
	CloseServerNotFound     = 4011
	CloseUnknownProtocol    = 4012
	CloseDisconnected       = 4014
	CloseServerCrashed      = 4015
	CloseUnknownEncryption  = 4016
	CloseDAVERequired       = 4017
	CloseBadRequest         = 4020
	CloseRateLimited        = 4021
	CloseCallTerminated     = 4022
	defaultHeartbeatMillis  = 13750
	defaultReplayLimit      = 256
	maxClientMessageBytes   = 1 << 20
	writeQueueLen           = 512
	udpMaxPacket            = 1500
	defaultIdentifyDeadline = 10 * time.Second
)

// DefaultModes is what Ready offers by default: Discord's current list, of
// which this server can decrypt the two rtpsize AEAD modes.
var DefaultModes = []string{
	string(transport.AES256GCM),
	string(transport.XChaCha20Poly1305),
	"xsalsa20_poly1305_lite_rtpsize",
	"xsalsa20_poly1305_lite",
	"xsalsa20_poly1305_suffix",
	"xsalsa20_poly1305",
}

// DAVEHandler is the hook through which the DAVE implementation joins the
// server. Leave Config.DAVE nil for transport encryption only (protocol
// version 0).
type DAVEHandler interface {
	// ProtocolVersion returns the DAVE protocol version to announce in the
	// Session Description, given the client's max_dave_protocol_version.
	ProtocolVersion(s *Session, clientMax int) int
	// HandleMessage receives a client message with an opcode in 21–31. For
	// JSON messages payload is the raw "d" value; for binary messages it is
	// the bytes after the opcode byte. It runs on the session's reader
	// goroutine; payload is only valid during the call.
	HandleMessage(s *Session, op int, binary bool, payload []byte)
}

// Config configures a Server. The zero value works.
type Config struct {
	// CA signs the TLS certificate; nil makes a new CA (Server.CA returns it).
	CA *CA
	// HeartbeatInterval is sent in Hello (default 13.75 s, Discord's usual).
	HeartbeatInterval time.Duration
	// Modes are the encryption modes offered in Ready (default DefaultModes).
	Modes []string
	// DiscardPayloads keeps only statistics, no Opus bytes (load tests).
	DiscardPayloads bool
	// ReplayLimit is how many sent messages a session keeps for Resume
	// (default 256).
	ReplayLimit int
	// UDPReaders is how many goroutines read the UDP socket (default 1).
	UDPReaders int
	// DAVE is the optional DAVE hook (see DAVEHandler).
	DAVE DAVEHandler
	// Logger receives debug logs (default: discard).
	Logger *slog.Logger
}

type credKey struct{ server, user, session string }

// Server is one local voice server: a TLS WebSocket endpoint and a UDP port.
type Server struct {
	cfg    Config
	ca     *CA
	log    *slog.Logger
	ln     net.Listener
	http   *http.Server
	udp    *net.UDPConn
	udpAP  netip.AddrPort
	wg     sync.WaitGroup
	closed chan struct{}

	mu       sync.Mutex
	creds    map[credKey]string
	sessions map[credKey]*Session
	conns    map[*wsConn]struct{}
	bySSRC   ssrcMap
	nextSSRC uint32
	waiters  []chan struct{}

	dropUDP      atomic.Bool
	delayUDP     atomic.Int64
	refuseResume atomic.Bool
	delayQ       chan delayed
}

type delayed struct {
	due time.Time
	pkt []byte
	src netip.AddrPort
}

var (
	errClosed     = errors.New("voicetest: server closed")
	errQueueFull  = errors.New("voicetest: client is not reading; write queue full")
	errNotAttachd = errors.New("voicetest: session has no live WebSocket")
)

// New starts a server on 127.0.0.1 (random ports). Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = defaultHeartbeatMillis * time.Millisecond
	}
	if cfg.Modes == nil {
		cfg.Modes = DefaultModes
	}
	if cfg.ReplayLimit <= 0 {
		cfg.ReplayLimit = defaultReplayLimit
	}
	if cfg.UDPReaders <= 0 {
		cfg.UDPReaders = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ca := cfg.CA
	if ca == nil {
		var err error
		if ca, err = NewCA(); err != nil {
			return nil, err
		}
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = udp.SetReadBuffer(8 << 20)
	enableRxTimestamps(udp)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		udp.Close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, ca: ca, log: cfg.Logger, udp: udp,
		udpAP:    udp.LocalAddr().(*net.UDPAddr).AddrPort(),
		closed:   make(chan struct{}),
		creds:    map[credKey]string{},
		sessions: map[credKey]*Session{},
		conns:    map[*wsConn]struct{}{},
		delayQ:   make(chan delayed, 4096),
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.nextSSRC = binary.BigEndian.Uint32(b[:])&0x0fffffff + 1
	s.ln = tlsListener(ln, ca)
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveWS),
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		ReadHeaderTimeout: 30 * time.Second,
	}
	s.wg.Add(2 + cfg.UDPReaders)
	go func() { defer s.wg.Done(); _ = s.http.Serve(s.ln) }()
	go func() { defer s.wg.Done(); s.delayLoop() }()
	for range cfg.UDPReaders {
		go func() { defer s.wg.Done(); s.udpLoop() }()
	}
	return s, nil
}

// CA returns the authority that signed this server's certificate.
func (s *Server) CA() *CA { return s.ca }

// Endpoint returns host:port of the WebSocket, as VOICE_SERVER_UPDATE gives it.
func (s *Server) Endpoint() string { return s.ln.Addr().String() }

// UDPAddr returns the media address announced in Ready.
func (s *Server) UDPAddr() netip.AddrPort { return s.udpAP }

// AllowSession registers the credentials an Identify must present. A wrong
// token closes the WebSocket with 4004, as Discord does.
func (s *Server) AllowSession(serverID, userID, sessionID, token string) {
	s.mu.Lock()
	s.creds[credKey{serverID, userID, sessionID}] = token
	s.mu.Unlock()
}

// Close closes every connection and stops the server.
func (s *Server) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	err := s.http.Close()
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.CloseNow()
	}
	_ = s.udp.Close()
	s.wg.Wait()
	return err
}

// Sessions returns the sessions that completed Identify and are still valid.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// WaitSession waits until the session of userID has completed Select
// Protocol (it can receive media) and returns it.
func (s *Server) WaitSession(ctx context.Context, userID string) (*Session, error) {
	for {
		s.mu.Lock()
		for k, ss := range s.sessions {
			if k.user == userID && ss.ready() {
				s.mu.Unlock()
				return ss, nil
			}
		}
		ch := make(chan struct{})
		s.waiters = append(s.waiters, ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, errClosed
		}
	}
}

// notify wakes WaitSession callers; call with s.mu held.
func (s *Server) notifyLocked() {
	for _, ch := range s.waiters {
		close(ch)
	}
	s.waiters = nil
}

// CloseWithCode closes every live WebSocket with code. Sessions closed with a
// code that forbids resuming (anything but 4015 and codes below 4000) are
// forgotten, as on Discord.
func (s *Server) CloseWithCode(code int) {
	for _, ss := range s.Sessions() {
		ss.CloseWithCode(code)
	}
}

// DropSocket cuts every live WebSocket without a close frame (as a network
// failure would); the sessions stay resumable.
func (s *Server) DropSocket() {
	for _, ss := range s.Sessions() {
		ss.DropSocket()
	}
}

// DropUDP makes the server ignore (drop) every incoming UDP packet while on.
func (s *Server) DropUDP(on bool) { s.dropUDP.Store(on) }

// DelayUDP holds every incoming UDP packet for d before handling it (0: off).
func (s *Server) DelayUDP(d time.Duration) { s.delayUDP.Store(int64(d)) }

// RefuseResume makes Resume attempts fail with 4006 (session no longer
// valid) while on, so the client must start a new session.
func (s *Server) RefuseResume(on bool) { s.refuseResume.Store(on) }

// MoveTo moves every session to dst, as when Discord changes a call's voice
// server: dst learns the credentials with newToken, and each session here is
// closed with 4014. The caller then tells the client about dst (a
// VOICE_SERVER_UPDATE: dst.Endpoint() and newToken).
func (s *Server) MoveTo(dst *Server, newToken string) {
	for _, ss := range s.Sessions() {
		dst.AllowSession(ss.ServerID, ss.UserID, ss.SessionID, newToken)
		s.mu.Lock()
		delete(s.creds, ss.key())
		s.mu.Unlock()
		ss.CloseWithCode(CloseDisconnected)
	}
}

func (s *Server) forget(ss *Session) {
	s.mu.Lock()
	gone := s.sessions[ss.key()] == ss
	if gone {
		delete(s.sessions, ss.key())
	}
	s.mu.Unlock()
	s.bySSRC.delete(ss.SSRC)
	if gone && ss.ready() {
		for _, o := range s.peers(ss) {
			_ = o.Send(OpClientDisconnect, map[string]any{"user_id": ss.UserID})
		}
		// A DAVE handler that wants to know (the DAVE role) hears of the end.
		if e, ok := s.cfg.DAVE.(interface{ SessionEnded(*Session) }); ok {
			e.SessionEnded(ss)
		}
	}
}

// peers returns the other media-ready sessions of ss's guild.
func (s *Server) peers(ss *Session) []*Session {
	var out []*Session
	for _, o := range s.Sessions() {
		if o != ss && o.ServerID == ss.ServerID && o.ready() {
			out = append(out, o)
		}
	}
	return out
}

// Session is the server's view of one voice session; it outlives the
// WebSockets that resume it.
type Session struct {
	srv       *Server
	ServerID  string
	UserID    string
	SessionID string
	// SSRC is the audio SSRC assigned in Ready.
	SSRC uint32
	// MaxDAVE is the client's max_dave_protocol_version.
	MaxDAVE int
	rec     *Recorder

	mu        sync.Mutex
	token     string
	ws        *wsConn
	seq       int
	replay    []sentMsg
	mode      transport.Mode
	secret    []byte
	dave      int
	speaking  atomic.Int32
	speakCh   chan struct{}
	heartbeat int
	seqAck    int
	resumes   int
	selected  bool

	rxMu   sync.Mutex
	opener *transport.Cipher
}

type sentMsg struct {
	seq    int
	binary bool
	data   []byte
}

func (ss *Session) key() credKey { return credKey{ss.ServerID, ss.UserID, ss.SessionID} }

func (ss *Session) ready() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.selected
}

// Recorder returns the recorder of this session's audio SSRC.
func (ss *Session) Recorder() *Recorder { return ss.rec }

// Mode returns the transport encryption mode selected by the client.
func (ss *Session) Mode() transport.Mode {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.mode
}

// SecretKey returns the transport key sent in Session Description.
func (ss *Session) SecretKey() []byte {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]byte(nil), ss.secret...)
}

// DAVEVersion returns the DAVE protocol version announced in Session Description.
func (ss *Session) DAVEVersion() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.dave
}

// Speaking returns the last speaking flags the client sent (op 5).
func (ss *Session) Speaking() int { return int(ss.speaking.Load()) }

// WaitSpeaking waits until the client's last Speaking flags equal want.
func (ss *Session) WaitSpeaking(ctx context.Context, want int) error {
	for {
		ss.mu.Lock()
		if int(ss.speaking.Load()) == want {
			ss.mu.Unlock()
			return nil
		}
		if ss.speakCh == nil {
			ss.speakCh = make(chan struct{})
		}
		ch := ss.speakCh
		ss.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Counters returns how many heartbeats and resumes the session has seen and
// the last seq_ack a heartbeat carried.
func (ss *Session) Counters() (heartbeats, resumes, lastSeqAck int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.heartbeat, ss.resumes, ss.seqAck
}

// Seq returns the sequence number of the last message sent to the client.
func (ss *Session) Seq() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.seq
}

// Send sends a JSON message {"op","d","seq"} and keeps it for replay.
func (ss *Session) Send(op int, d any) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.seq++
	msg, err := json.Marshal(struct {
		Op  int             `json:"op"`
		D   json.RawMessage `json:"d"`
		Seq int             `json:"seq"`
	}{op, raw, ss.seq})
	if err != nil {
		return err
	}
	return ss.pushLocked(sentMsg{seq: ss.seq, data: msg})
}

// SendBinary sends a binary frame [u16 seq][u8 op][payload] and keeps it for
// replay.
func (ss *Session) SendBinary(op byte, payload []byte) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.seq++
	msg := make([]byte, 3+len(payload))
	binary.BigEndian.PutUint16(msg, uint16(ss.seq))
	msg[2] = op
	copy(msg[3:], payload)
	return ss.pushLocked(sentMsg{seq: ss.seq, binary: true, data: msg})
}

func (ss *Session) pushLocked(m sentMsg) error {
	ss.replay = append(ss.replay, m)
	if over := len(ss.replay) - ss.srv.cfg.ReplayLimit; over > 0 {
		ss.replay = append(ss.replay[:0], ss.replay[over:]...)
	}
	if ss.ws == nil {
		return errNotAttachd
	}
	return ss.ws.enqueue(m.binary, m.data)
}

// CloseWithCode closes the session's live WebSocket with code; unless the
// code allows resuming (4015, or below 4000), the session is forgotten.
func (ss *Session) CloseWithCode(code int) {
	resumable := code == CloseServerCrashed || code < 4000
	ss.mu.Lock()
	ws := ss.ws
	ss.ws = nil
	ss.mu.Unlock()
	if !resumable {
		ss.srv.forget(ss)
	}
	if ws != nil {
		ws.closeWith(code, "voicetest: closed on command")
	}
}

// DropSocket cuts the live WebSocket without a close frame.
func (ss *Session) DropSocket() {
	ss.mu.Lock()
	ws := ss.ws
	ss.ws = nil
	ss.mu.Unlock()
	if ws != nil {
		_ = ws.ws.CloseNow()
	}
}

// wsConn is one accepted WebSocket with its writer goroutine.
type wsConn struct {
	ws   *websocket.Conn
	out  chan outFrame
	done chan struct{}
}

type outFrame struct {
	binary bool
	data   []byte
	close  int
	reason string
}

func (c *wsConn) enqueue(bin bool, data []byte) error {
	select {
	case c.out <- outFrame{binary: bin, data: data}:
		return nil
	case <-c.done:
		return errNotAttachd
	default:
		go func() { _ = c.ws.CloseNow() }()
		return errQueueFull
	}
}

// closeWith queues a close frame after the messages already queued.
func (c *wsConn) closeWith(code int, reason string) {
	select {
	case c.out <- outFrame{close: code, reason: reason}:
	case <-c.done:
	default:
		_ = c.ws.CloseNow()
	}
}

func (c *wsConn) writeLoop(ctx context.Context) {
	for {
		select {
		case f := <-c.out:
			if f.close != 0 {
				_ = c.ws.Close(websocket.StatusCode(f.close), f.reason)
				return
			}
			typ := websocket.MessageText
			if f.binary {
				typ = websocket.MessageBinary
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.ws.Write(wctx, typ, f.data)
			cancel()
			if err != nil {
				_ = c.ws.CloseNow()
				return
			}
		case <-c.done:
			return
		}
	}
}

type inMsg struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("v"); v != "" && v != "8" {
		s.log.Debug("voicetest: client asked for gateway version", "v", v)
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(maxClientMessageBytes)
	c := &wsConn{ws: ws, out: make(chan outFrame, writeQueueLen), done: make(chan struct{})}
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		_ = ws.CloseNow()
		return
	default:
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop(ctx) }()
	defer func() {
		close(c.done)
		cancel()
		<-writerDone
		_ = ws.CloseNow()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	hello, _ := json.Marshal(map[string]any{"op": OpHello, "d": map[string]any{"heartbeat_interval": s.cfg.HeartbeatInterval.Milliseconds()}})
	_ = c.enqueue(false, hello)
	var sess *Session
	defer func() {
		if sess != nil {
			sess.mu.Lock()
			if sess.ws == c {
				sess.ws = nil
			}
			sess.mu.Unlock()
		}
	}()
	identifyBy := time.Now().Add(defaultIdentifyDeadline)
	for {
		rctx := ctx
		var rcancel context.CancelFunc = func() {}
		if sess == nil {
			rctx, rcancel = context.WithDeadline(ctx, identifyBy)
		}
		typ, data, err := ws.Read(rctx)
		rcancel()
		if err != nil {
			if sess == nil && rctx.Err() != nil && ctx.Err() == nil {
				c.closeWith(CloseSessionTimeout, "identify timeout")
				<-writerDone
			}
			return
		}
		if typ == websocket.MessageBinary {
			if len(data) < 1 {
				c.closeWith(CloseDecodeError, "empty binary message")
				<-writerDone
				return
			}
			op := int(data[0])
			if sess == nil {
				c.closeWith(CloseNotAuthenticated, "binary before identify")
				<-writerDone
				return
			}
			if op >= OpDAVEFirst && op <= OpDAVELast && s.cfg.DAVE != nil {
				s.cfg.DAVE.HandleMessage(sess, op, true, data[1:])
			}
			continue
		}
		var m inMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.closeWith(CloseDecodeError, "invalid JSON")
			<-writerDone
			return
		}
		if code := s.handle(c, &sess, &m); code != 0 {
			c.closeWith(code, closeReason(code))
			<-writerDone
			return
		}
	}
}

func closeReason(code int) string { return "voicetest: " + strconv.Itoa(code) }

// handle processes one JSON message and returns a close code to end the
// connection with, or 0.
func (s *Server) handle(c *wsConn, sessp **Session, m *inMsg) int {
	sess := *sessp
	switch m.Op {
	case OpHeartbeat:
		// v8: {"t": nonce, "seq_ack": n}; older clients send the bare nonce.
		var hb struct {
			T      json.RawMessage `json:"t"`
			SeqAck *int            `json:"seq_ack"`
		}
		nonce := m.D
		if len(m.D) > 0 && m.D[0] == '{' {
			if err := json.Unmarshal(m.D, &hb); err != nil {
				return CloseDecodeError
			}
			nonce = hb.T
		}
		if sess != nil {
			sess.mu.Lock()
			sess.heartbeat++
			if hb.SeqAck != nil {
				sess.seqAck = *hb.SeqAck
			}
			sess.mu.Unlock()
		}
		if len(nonce) == 0 {
			nonce = json.RawMessage("null")
		}
		ack, _ := json.Marshal(struct {
			Op int `json:"op"`
			D  struct {
				T json.RawMessage `json:"t"`
			} `json:"d"`
		}{Op: OpHeartbeatACK, D: struct {
			T json.RawMessage `json:"t"`
		}{nonce}})
		_ = c.enqueue(false, ack)
		return 0
	case OpIdentify:
		if sess != nil {
			return CloseAlreadyAuth
		}
		var id struct {
			ServerID string `json:"server_id"`
			UserID   string `json:"user_id"`
			Session  string `json:"session_id"`
			Token    string `json:"token"`
			MaxDAVE  int    `json:"max_dave_protocol_version"`
		}
		if err := json.Unmarshal(m.D, &id); err != nil {
			return CloseDecodeError
		}
		k := credKey{id.ServerID, id.UserID, id.Session}
		s.mu.Lock()
		tok, ok := s.creds[k]
		if !ok || tok != id.Token || id.Token == "" {
			s.mu.Unlock()
			return CloseAuthFailed
		}
		if old := s.sessions[k]; old != nil {
			s.bySSRC.delete(old.SSRC)
		}
		s.nextSSRC++
		ss := &Session{srv: s, ServerID: id.ServerID, UserID: id.UserID, SessionID: id.Session,
			SSRC: s.nextSSRC, MaxDAVE: id.MaxDAVE, token: tok, ws: c}
		ss.rec = newRecorder(ss.SSRC, !s.cfg.DiscardPayloads)
		s.sessions[k] = ss
		s.mu.Unlock()
		s.bySSRC.store(ss.SSRC, ss)
		*sessp = ss
		_ = ss.Send(OpReady, map[string]any{
			"ssrc": ss.SSRC, "ip": s.udpAP.Addr().String(), "port": s.udpAP.Port(),
			"modes": s.cfg.Modes, "experiments": []string{},
		})
		return 0
	case OpResume:
		if sess != nil {
			return CloseAlreadyAuth
		}
		var rs struct {
			ServerID string `json:"server_id"`
			Session  string `json:"session_id"`
			Token    string `json:"token"`
			SeqAck   *int   `json:"seq_ack"`
		}
		if err := json.Unmarshal(m.D, &rs); err != nil {
			return CloseDecodeError
		}
		if s.refuseResume.Load() {
			return CloseSessionInvalid
		}
		var found *Session
		s.mu.Lock()
		for k, ss := range s.sessions {
			if k.server == rs.ServerID && k.session == rs.Session {
				found = ss
			}
		}
		s.mu.Unlock()
		if found == nil {
			return CloseSessionInvalid
		}
		found.mu.Lock()
		if found.token != rs.Token {
			found.mu.Unlock()
			return CloseAuthFailed
		}
		prev := found.ws
		found.ws = c
		found.resumes++
		ack := -1
		if rs.SeqAck != nil {
			ack = *rs.SeqAck
		}
		for _, msg := range found.replay {
			if msg.seq > ack {
				_ = c.enqueue(msg.binary, msg.data)
			}
		}
		found.mu.Unlock()
		if prev != nil && prev != c {
			_ = prev.ws.CloseNow()
		}
		*sessp = found
		_ = found.Send(OpResumed, nil)
		return 0
	}
	if sess == nil {
		return CloseNotAuthenticated
	}
	switch m.Op {
	case OpSelectProtocol:
		var sp struct {
			Protocol string `json:"protocol"`
			Data     struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
				Mode    string `json:"mode"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.D, &sp); err != nil {
			return CloseDecodeError
		}
		if sp.Protocol != "udp" {
			return CloseUnknownProtocol
		}
		key := make([]byte, transport.KeySize)
		_, _ = rand.Read(key)
		ciph, err := transport.New(transport.Mode(sp.Data.Mode), key)
		if err != nil {
			return CloseUnknownEncryption
		}
		dave := 0
		if s.cfg.DAVE != nil {
			dave = s.cfg.DAVE.ProtocolVersion(sess, sess.MaxDAVE)
		}
		sess.rxMu.Lock()
		sess.opener = ciph
		sess.rxMu.Unlock()
		sess.mu.Lock()
		sess.mode, sess.secret, sess.dave, sess.selected = ciph.Mode(), key, dave, true
		sess.mu.Unlock()
		ints := make([]int, len(key))
		for i, b := range key {
			ints[i] = int(b)
		}
		_ = sess.Send(OpSessionDescription, map[string]any{
			"mode": sp.Data.Mode, "secret_key": ints, "dave_protocol_version": dave,
			"audio_codec": "opus", "video_codec": nil, "media_session_id": fmt.Sprintf("%x", key[:8]),
		})
		if peers := s.peers(sess); len(peers) > 0 {
			ids := make([]string, len(peers))
			for i, o := range peers {
				ids[i] = o.UserID
				_ = o.Send(OpClientsConnect, map[string]any{"user_ids": []string{sess.UserID}})
			}
			_ = sess.Send(OpClientsConnect, map[string]any{"user_ids": ids})
		}
		s.mu.Lock()
		s.notifyLocked()
		s.mu.Unlock()
	case OpSpeaking:
		var sp struct {
			Speaking int `json:"speaking"`
		}
		if err := json.Unmarshal(m.D, &sp); err != nil {
			return CloseDecodeError
		}
		sess.speaking.Store(int32(sp.Speaking))
		sess.mu.Lock()
		if sess.speakCh != nil {
			close(sess.speakCh)
			sess.speakCh = nil
		}
		sess.mu.Unlock()
	default:
		if m.Op >= OpDAVEFirst && m.Op <= OpDAVELast && s.cfg.DAVE != nil {
			s.cfg.DAVE.HandleMessage(sess, m.Op, false, m.D)
		}
		// Other client opcodes (video, client flags, platform) are ignored.
	}
	return 0
}
