// Package voice is Quaver's Discord voice client: voice gateway v8 over a
// TLS WebSocket, UDP IP discovery, rtpsize AEAD transport encryption, RTP
// packetisation of Opus frames, and the reconnect logic Discord's close codes
// call for (see closecodes.go). Frames are sent by the node's shared pacer
// (voice/pacer), which calls Conn.Tick on a 20 ms grid.
//
// Hooks for end-to-end encryption (DAVE): Config.Encryptor encrypts each Opus
// frame before transport encryption, and Config.DAVE receives the DAVE
// gateway opcodes (21–31) and can send its own.
//
// https://docs.discord.com/developers/topics/voice-connections
package voice

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverbot/quaver/voice/pacer"
	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
)

// Voice gateway opcodes.
// https://docs.discord.com/developers/topics/opcodes-and-status-codes#voice
const (
	opIdentify           = 0
	opSelectProtocol     = 1
	opReady              = 2
	opHeartbeat          = 3
	opSessionDescription = 4
	opSpeaking           = 5
	opHeartbeatACK       = 6
	opResume             = 7
	opHello              = 8
	opResumed            = 9
	opDAVEFirst          = 21
	opDAVELast           = 31
	gatewayVersion       = 8
	silenceFrames        = 5
	maxFrame             = 4000
)

// FrameSource supplies Opus frames, one per 20 ms. NextFrame must not block:
// ok=false means no frame is ready now (paused, buffering, ended). The
// returned slice is only read until the next call.
type FrameSource interface {
	NextFrame() (opus []byte, ok bool)
}

// FrameEncryptor is the end-to-end encryption hook (DAVE) applied to each
// Opus frame before transport encryption. EncryptFrame appends the encrypted
// frame to dst and returns it; it runs on the pacer's goroutine, must not
// block, and should not allocate. The five silence frames sent when audio
// stops bypass it (DAVE passes Opus silence through unencrypted); a frame
// whose encryption fails is not sent.
type FrameEncryptor interface {
	EncryptFrame(dst, frame []byte) ([]byte, error)
}

// MediaGate is implemented by a FrameEncryptor that knows whether a frame
// sent now can be heard: a DAVE session that is joining its call's group
// has no sender key yet, and members that already encrypt drop the clear
// frames it would pass through. While MediaReady is false (for at most
// MaxE2EEWait after the media session starts) the connection sends nothing
// and does not read its source, so no audio is lost, only delayed. It is
// called on the pacer's goroutine once per frame slot and must not block.
type MediaGate interface {
	MediaReady() bool
}

// MaxE2EEWait bounds how long a connection holds its audio for a MediaGate:
// after it, frames go out in passthrough, as they would without the gate.
const MaxE2EEWait = 3 * time.Second

// DAVEHandler is the hook for end-to-end encryption (DAVE) on the gateway
// side. It receives every gateway message the client does not handle itself:
// who is in the call (op 11 clients connect, op 13 client disconnect) and the
// DAVE opcodes 21–31, JSON ("d" as payload) or binary (the bytes after the
// opcode). It runs on the connection's goroutine, must not block, and
// payload is only valid during the call. It answers with Conn.SendJSON and
// Conn.SendBinary; Conn.DAVEProtocolVersion tells what the server chose.
type DAVEHandler interface {
	HandleDAVE(c *Conn, op int, binary bool, payload []byte)
}

// State is a connection state reported in events.
type State int

// Connection states.
const (
	StateConnecting State = iota
	StateReady
	StateResuming
	StateReconnecting
	StateWaitingForServer
	StateStopped
)

func (s State) String() string {
	return [...]string{"connecting", "ready", "resuming", "reconnecting", "waiting-for-server", "stopped"}[s]
}

// Event tells the owner about a state change. For StateStopped, Err says why
// (nil after Close).
type Event struct {
	State State
	// Code is the close code that caused the change, if any.
	Code int
	Err  error
}

// Config configures a Conn. Endpoint, GuildID, UserID, SessionID and Token
// come from VOICE_SERVER_UPDATE and VOICE_STATE_UPDATE.
type Config struct {
	// Endpoint is host:port of the voice server (VOICE_SERVER_UPDATE).
	Endpoint string
	// GuildID is the guild (server_id in the voice gateway).
	GuildID string
	// ChannelID is the voice channel (VOICE_STATE_UPDATE).
	ChannelID string
	// UserID is the bot's user ID.
	UserID string
	// SessionID is the main gateway session (VOICE_STATE_UPDATE).
	SessionID string
	// Token is the voice token (VOICE_SERVER_UPDATE).
	Token string
	// RootCAs verifies the voice server (nil: system roots).
	RootCAs *x509.CertPool
	// Dialer opens WebSockets (nil: NewWSDialer(RootCAs)).
	Dialer WSDialer
	// UDPDialer opens the media socket (nil: net.Dialer).
	UDPDialer UDPDialer
	// Clock drives heartbeats and waits (nil: system time).
	Clock Clock
	// Pacer sends the frames; nil: the Conn starts and owns a private one.
	Pacer *pacer.Pacer
	// MaxDAVEProtocolVersion is announced in Identify (0: no DAVE).
	MaxDAVEProtocolVersion int
	// Encryptor is the E2EE frame hook (nil: none).
	Encryptor FrameEncryptor
	// DAVE receives DAVE gateway opcodes (nil: ignored).
	DAVE DAVEHandler
	// OnEvent receives state changes; it runs on the connection's goroutine
	// and must not block. Nil: no events.
	OnEvent func(Event)
	// ServerUpdateWait is how long to wait for fresh credentials after 4014
	// (or 4004/4011) before stopping (default 5 s).
	ServerUpdateWait time.Duration
	// NullEndpointWait is how long to wait for the next VOICE_SERVER_UPDATE
	// after one with a null endpoint (default 60 s).
	NullEndpointWait time.Duration
	// HandshakeTimeout bounds each connect or resume (default 10 s).
	HandshakeTimeout time.Duration
	// RetryBackoff is the first pause between failed attempts, doubled each
	// time (default 250 ms); MaxAttempts failed attempts in a row stop the
	// connection (default 5).
	RetryBackoff time.Duration
	MaxAttempts  int
	// Logger receives logs (nil: slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig() Config {
	return Config{
		ServerUpdateWait: 5 * time.Second,
		NullEndpointWait: 60 * time.Second,
		HandshakeTimeout: 10 * time.Second,
		RetryBackoff:     250 * time.Millisecond,
		MaxAttempts:      5,
	}
}

var (
	// ErrDAVERequired is the stop reason when the voice server demands DAVE
	// end-to-end encryption (close 4017) and this connection offers none.
	ErrDAVERequired = errors.New("voice: DAVE required: the voice server demands end-to-end encryption (close 4017), which this connection does not offer")
	// ErrNoServerUpdate is the stop reason when no fresh credentials came in
	// time after the server disconnected us.
	ErrNoServerUpdate = errors.New("voice: disconnected and no new voice server credentials arrived in time")
	// ErrLeftChannel is the stop reason after UpdateState with no channel.
	ErrLeftChannel = errors.New("voice: left the voice channel")
	errClosed      = errors.New("voice: connection closed")
	errNoDiscovery = errors.New("voice: no IP discovery response")
	errHandshake   = errors.New("voice: handshake failed")
)

// media is what the frame path needs, swapped atomically on reconnect.
type media struct {
	since  time.Time // when the media session started (for MaxE2EEWait)
	udp    datagramConn
	cipher *transport.Cipher
	ssrc   uint32
}

type command struct {
	kind      int // cmdServer, cmdState, cmdClose
	endpoint  string
	token     string
	sessionID string
	channelID string
}

const (
	cmdServer = iota
	cmdState
)

// Conn is one voice connection. Create with New, start with Connect, end
// with Close.
type Conn struct {
	cfg  Config
	log  *slog.Logger
	clk  Clock
	gate MediaGate // cfg.Encryptor's, when it has one

	ctx    context.Context
	cancel context.CancelFunc
	linkMu sync.Mutex
	link   *link // guarded by linkMu; replaced only by the supervisor

	// Owned by the supervisor goroutine (and Connect before it starts).
	seqAck    int
	endpoint  string
	token     string
	sessionID string
	channelID string
	ownPacer  bool
	handle    *pacer.Handle

	cmds     chan command
	speakReq chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	done     chan struct{}
	errMu    sync.Mutex
	err      error

	// Frame path, touched by the pacer goroutine.
	media       atomic.Pointer[media]
	source      atomic.Pointer[sourceBox]
	speakWant   atomic.Int32
	speakSent   atomic.Int32
	seq         uint16
	tsBase      uint32
	silenceLeft int
	pending     []byte
	pktBuf      []byte
	e2eeBuf     []byte
	hdr         rtp.Header
	hdrBuf      [rtp.FixedHeaderLen]byte
	sent        atomic.Uint64
	daveVersion atomic.Int32
}

type sourceBox struct{ s FrameSource }

// New returns an unconnected Conn.
func New(cfg Config) *Conn {
	def := DefaultConfig()
	if cfg.ServerUpdateWait <= 0 {
		cfg.ServerUpdateWait = def.ServerUpdateWait
	}
	if cfg.NullEndpointWait <= 0 {
		cfg.NullEndpointWait = def.NullEndpointWait
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = def.HandshakeTimeout
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = def.RetryBackoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = def.MaxAttempts
	}
	if cfg.Dialer == nil {
		cfg.Dialer = NewWSDialer(cfg.RootCAs)
	}
	if cfg.UDPDialer == nil {
		cfg.UDPDialer = &net.Dialer{}
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	gate, _ := cfg.Encryptor.(MediaGate)
	c := &Conn{
		cfg: cfg, log: cfg.Logger.With("guild", cfg.GuildID), clk: cfg.Clock, gate: gate,
		endpoint: cfg.Endpoint, token: cfg.Token, sessionID: cfg.SessionID, channelID: cfg.ChannelID,
		seqAck:   -1,
		cmds:     make(chan command, 8),
		speakReq: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		pending:  make([]byte, 0, maxFrame),
		pktBuf:   make([]byte, 0, maxFrame+64),
		e2eeBuf:  make([]byte, 0, maxFrame+64),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	c.seq = uint16(b[0])<<8 | uint16(b[1])
	c.tsBase = uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
	return c
}

// SetSource sets the player's frame source (nil: nothing to send). The
// source is kept across reconnects, so playback resumes where it was.
func (c *Conn) SetSource(s FrameSource) {
	if s == nil {
		c.source.Store(nil)
		return
	}
	c.source.Store(&sourceBox{s})
}

// DAVEProtocolVersion returns the dave_protocol_version of the current
// session's Session Description (0: transport encryption only).
func (c *Conn) DAVEProtocolVersion() int { return int(c.daveVersion.Load()) }

// PacketsSent returns how many RTP packets the connection has sent.
func (c *Conn) PacketsSent() uint64 { return c.sent.Load() }

// SSRC returns the current audio SSRC (0 while not connected).
func (c *Conn) SSRC() uint32 {
	if m := c.media.Load(); m != nil {
		return m.ssrc
	}
	return 0
}

// Done is closed when the connection has stopped; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection stopped (nil while running or after Close).
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Connect runs the handshake (Hello, Identify, Ready, IP discovery, Select
// Protocol, Session Description), registers with the pacer and starts the
// connection's goroutine. It returns once media can flow.
func (c *Conn) Connect(ctx context.Context) error {
	c.emit(Event{State: StateConnecting})
	if err := c.newSession(ctx); err != nil {
		return err
	}
	p := c.cfg.Pacer
	if p == nil {
		var err error
		if p, err = pacer.New(pacer.DefaultConfig()); err != nil {
			c.teardown()
			return err
		}
		c.ownPacer = true
		c.cfg.Pacer = p
	}
	h, err := p.Add(c)
	if err != nil {
		c.teardown()
		return err
	}
	c.handle = h
	c.emit(Event{State: StateReady})
	c.wg.Add(1)
	go c.run()
	return nil
}

// Close disconnects (close code 1000) and stops the connection.
func (c *Conn) Close() error {
	c.stopOnce.Do(func() { close(c.stop); c.cancel() })
	c.wg.Wait()
	if c.handle == nil { // never connected
		c.teardown()
	}
	return nil
}

// UpdateServer passes on a VOICE_SERVER_UPDATE. A new endpoint or token
// reconnects there with a new session, keeping the frame source (and so the
// player's position); an empty endpoint disconnects and waits for the next
// update.
func (c *Conn) UpdateServer(endpoint, token string) {
	select {
	case c.cmds <- command{kind: cmdServer, endpoint: endpoint, token: token}:
	case <-c.done:
	}
}

// UpdateState passes on the bot's VOICE_STATE_UPDATE. An empty channelID
// means the bot left the channel: the connection stops. A new channel makes
// the current credentials stale: they are not reused, and the next reconnect
// waits for UpdateServer.
func (c *Conn) UpdateState(sessionID, channelID string) {
	select {
	case c.cmds <- command{kind: cmdState, sessionID: sessionID, channelID: channelID}:
	case <-c.done:
	}
}

// SendJSON sends a gateway message {"op","d"} (for the DAVE hook).
func (c *Conn) SendJSON(ctx context.Context, op int, d any) error {
	l := c.currentLink()
	if l == nil {
		return errClosed
	}
	return l.sendJSON(ctx, op, d)
}

// SendBinary sends a binary gateway message [op][payload] (for the DAVE hook).
func (c *Conn) SendBinary(ctx context.Context, op byte, payload []byte) error {
	l := c.currentLink()
	if l == nil {
		return errClosed
	}
	msg := make([]byte, 1+len(payload))
	msg[0] = op
	copy(msg[1:], payload)
	return l.ws.Write(ctx, true, msg)
}

func (c *Conn) currentLink() *link {
	c.linkMu.Lock()
	defer c.linkMu.Unlock()
	return c.link
}

func (c *Conn) setLink(l *link) {
	c.linkMu.Lock()
	c.link = l
	c.linkMu.Unlock()
}

func (c *Conn) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

func (c *Conn) url() string {
	return fmt.Sprintf("wss://%s/?v=%d", c.endpoint, gatewayVersion)
}

// newSession connects afresh: WebSocket, Identify, UDP, Select Protocol.
func (c *Conn) newSession(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	if c.token == "" || c.endpoint == "" {
		return errHandshake
	}
	l, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.seqAck = -1
	if err := l.sendJSON(ctx, opIdentify, map[string]any{
		"server_id": c.cfg.GuildID, "user_id": c.cfg.UserID, "session_id": c.sessionID,
		"token": c.token, "max_dave_protocol_version": c.cfg.MaxDAVEProtocolVersion,
	}); err != nil {
		l.ws.Abort()
		return err
	}
	var ready struct {
		SSRC  uint32   `json:"ssrc"`
		IP    string   `json:"ip"`
		Port  int      `json:"port"`
		Modes []string `json:"modes"`
	}
	if err := c.expect(ctx, l, opReady, &ready); err != nil {
		l.close()
		return err
	}
	mode, err := transport.Choose(ready.Modes)
	if err != nil {
		l.close()
		return err
	}
	udp, local, err := c.discover(ctx, net.JoinHostPort(ready.IP, fmt.Sprint(ready.Port)), ready.SSRC)
	if err != nil {
		l.close()
		return err
	}
	if err := l.sendJSON(ctx, opSelectProtocol, map[string]any{
		"protocol": "udp",
		"data":     map[string]any{"address": local.Addr().String(), "port": local.Port(), "mode": string(mode)},
	}); err != nil {
		udp.Close()
		l.close()
		return err
	}
	var sd struct {
		Mode      string `json:"mode"`
		SecretKey []int  `json:"secret_key"`
		DAVE      int    `json:"dave_protocol_version"`
	}
	if err := c.expect(ctx, l, opSessionDescription, &sd); err != nil {
		udp.Close()
		l.close()
		return err
	}
	key := make([]byte, len(sd.SecretKey))
	for i, v := range sd.SecretKey {
		key[i] = byte(v)
	}
	ciph, err := transport.New(transport.Mode(sd.Mode), key)
	if err != nil {
		udp.Close()
		l.close()
		return err
	}
	c.daveVersion.Store(int32(sd.DAVE))
	if sd.DAVE > 0 && c.cfg.Encryptor == nil {
		c.log.Warn("voice: server announced DAVE but no encryptor is set", "version", sd.DAVE)
	}
	c.installMedia(&media{since: c.clk.Now(), udp: sendOnly(udp), cipher: ciph, ssrc: ready.SSRC})
	c.setLink(l)
	c.log.Debug("voice: session ready", "ssrc", ready.SSRC, "mode", sd.Mode)
	return nil
}

// datagramConn is where media packets go: the dialed socket, or a
// transport.Sender once the socket is detached from the runtime's poller.
type datagramConn interface {
	Write(b []byte) (int, error)
	Close() error
}

// sendOnly detaches a real UDP socket from the runtime's poller after IP
// discovery, the last time the client reads it (see transport.Sender: at
// thousands of connections the poller's wake-ups cost more than the sends).
// Other connections (a test's wrapper, say) are used as they are.
func sendOnly(c net.Conn) datagramConn {
	if uc, ok := c.(*net.UDPConn); ok {
		if s, err := transport.Detach(uc); err == nil {
			return s
		}
	}
	return c
}

// installMedia swaps in new media (nil: none) and closes the old socket.
// Speaking must be announced again on the new session.
func (c *Conn) installMedia(m *media) {
	c.speakSent.Store(0)
	c.speakWant.Store(0)
	old := c.media.Swap(m)
	if old != nil && (m == nil || old.udp != m.udp) {
		_ = old.udp.Close()
	}
}

// resume reconnects the WebSocket and sends Resume with seq_ack.
func (c *Conn) resume(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	l, err := c.dial(ctx)
	if err != nil {
		return err
	}
	if err := l.sendJSON(ctx, opResume, map[string]any{
		"server_id": c.cfg.GuildID, "session_id": c.sessionID, "token": c.token, "seq_ack": c.seqAck,
	}); err != nil {
		l.ws.Abort()
		return err
	}
	if err := c.expect(ctx, l, opResumed, nil); err != nil {
		l.close()
		return err
	}
	c.speakSent.Store(0)
	c.speakWant.Store(0)
	c.setLink(l)
	return nil
}

// dial opens the WebSocket and reads Hello.
func (c *Conn) dial(ctx context.Context) (*link, error) {
	ws, err := c.cfg.Dialer.Dial(ctx, c.url())
	if err != nil {
		return nil, err
	}
	l := newLink(ws)
	var hello struct {
		HeartbeatInterval float64 `json:"heartbeat_interval"`
	}
	if err := c.expect(ctx, l, opHello, &hello); err != nil {
		l.close()
		return nil, err
	}
	if hello.HeartbeatInterval <= 0 {
		l.close()
		return nil, fmt.Errorf("%w: Hello without heartbeat_interval", errHandshake)
	}
	l.heartbeat = time.Duration(hello.HeartbeatInterval * float64(time.Millisecond))
	return l, nil
}

// expect reads messages until op arrives (decoding its d into v), handling
// others on the way.
func (c *Conn) expect(ctx context.Context, l *link, op int, v any) error {
	for {
		select {
		case f := <-l.in:
			if f.err != nil {
				return f.err
			}
			m, err := c.track(f)
			if err != nil {
				return err
			}
			if m == nil {
				continue
			}
			if m.Op == op {
				if v != nil {
					if err := json.Unmarshal(m.D, v); err != nil {
						return fmt.Errorf("voice: decoding op %d: %w", op, err)
					}
				}
				return nil
			}
			c.handleOther(m)
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for op %d: %w", errHandshake, op, ctx.Err())
		}
	}
}

// track updates seq_ack from a frame and decodes JSON; binary frames return
// nil after being handed to the DAVE hook.
func (c *Conn) track(f frame) (*message, error) {
	if f.binary {
		if len(f.data) < 3 {
			return nil, nil
		}
		c.seqAck = int(uint16(f.data[0])<<8 | uint16(f.data[1]))
		op := int(f.data[2])
		if c.cfg.DAVE != nil && op >= opDAVEFirst && op <= opDAVELast {
			c.cfg.DAVE.HandleDAVE(c, op, true, f.data[3:])
		}
		return nil, nil
	}
	var m message
	if err := json.Unmarshal(f.data, &m); err != nil {
		return nil, fmt.Errorf("voice: invalid gateway JSON: %w", err)
	}
	if m.Seq != nil {
		c.seqAck = *m.Seq
	}
	return &m, nil
}

// handleOther passes messages the client does not handle to the DAVE hook.
func (c *Conn) handleOther(m *message) {
	switch m.Op {
	case opReady, opSessionDescription, opHeartbeatACK, opHello, opResumed:
		return
	}
	if c.cfg.DAVE != nil {
		c.cfg.DAVE.HandleDAVE(c, m.Op, false, m.D)
	}
}

func (c *Conn) discover(ctx context.Context, addr string, ssrc uint32) (net.Conn, netip.AddrPort, error) {
	udp, err := c.cfg.UDPDialer.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	req := transport.Discovery{Type: transport.DiscoveryRequest, SSRC: ssrc}
	var buf [transport.DiscoveryLen]byte
	if _, err := req.MarshalTo(buf[:]); err != nil {
		udp.Close()
		return nil, netip.AddrPort{}, err
	}
	var in [1500]byte
	for attempt := 0; attempt < 5; attempt++ {
		if _, err := udp.Write(buf[:]); err != nil {
			udp.Close()
			return nil, netip.AddrPort{}, err
		}
		deadline := time.Now().Add(time.Duration(250<<attempt) * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = udp.SetReadDeadline(deadline)
		for {
			n, err := udp.Read(in[:])
			if err != nil {
				break
			}
			var resp transport.Discovery
			if resp.Unmarshal(in[:n]) == nil && resp.Type == transport.DiscoveryResponse && resp.SSRC == ssrc {
				_ = udp.SetReadDeadline(time.Time{})
				return udp, resp.Addr, nil
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	udp.Close()
	return nil, netip.AddrPort{}, errNoDiscovery
}

// teardown closes the link and media.
func (c *Conn) teardown() {
	if l := c.currentLink(); l != nil {
		l.close()
		c.setLink(nil)
	}
	c.installMedia(nil)
}
