package discordtest

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// gatewayState holds sessions and connections; guarded by Server.mu.
type gatewayState struct {
	lastIdentify map[int]time.Time // by rate-limit key
	sessions     map[string]*session
	conns        map[*conn]struct{}
	identifies   int
	closes       []CloseCode
}

func (g *gatewayState) init() {
	g.lastIdentify = map[int]time.Time{}
	g.sessions = map[string]*session{}
	g.conns = map[*conn]struct{}{}
}

func (g *gatewayState) allConns() []*conn {
	out := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		out = append(out, c)
	}
	return out
}

type logged struct {
	seq   int64
	frame []byte
}

// session is an identified gateway session; it outlives its connection
// for Config.ResumeWindow so that a client can resume it.
type session struct {
	id         string
	shard      int
	shards     int
	intents    uint64
	seq        int64
	log        []logged
	conn       *conn
	detachedAt time.Time
	created    time.Time
	resumes    int
	heartbeats int
	compress   bool // identify asked for payload compression
}

// outFrame is one frame queued for a connection's writer.
type outFrame struct {
	data   []byte
	packed bool // send zlib-compressed as a binary message (payload compression)
	close  bool
	code   CloseCode
	reason string
}

// conn is one gateway WebSocket. Fields after ws are guarded by Server.mu,
// except where noted.
type conn struct {
	srv     *Server
	ws      *websocket.Conn // nil in fuzz tests
	version int
	zstream bool
	wake    chan struct{}
	done    chan struct{} // closed when the writer exits
	// readerDone is closed when the reader exits.
	readerDone chan struct{}

	out        []outFrame
	sess       *session
	identified bool
	ended      bool // no more frames are queued after a close
	killed     bool // dropped on purpose: whatever is read next is not the client's
	// reader-only:
	events []int64  // receive times (ms) of recent events, for 4008
	after  []func() // work to run once s.mu is released
}

func newConn(s *Server, ws *websocket.Conn, version int, zstream bool) *conn {
	return &conn{srv: s, ws: ws, version: version, zstream: zstream,
		wake: make(chan struct{}, 1), done: make(chan struct{}), readerDone: make(chan struct{})}
}

// enqueueLocked queues a frame and wakes the writer; s.mu must be held.
func (c *conn) enqueueLocked(f outFrame) {
	if c.ended {
		return
	}
	if f.close {
		c.ended = true
	}
	if c.sess != nil && c.sess.compress && !c.zstream && len(f.data) >= payloadCompressMin {
		f.packed = true
	}
	c.out = append(c.out, f)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) sendOpLocked(op int, d any) {
	b, err := json.Marshal(map[string]any{"op": op, "d": d, "s": nil, "t": nil})
	if err != nil {
		return
	}
	c.enqueueLocked(outFrame{data: b})
}

func (c *conn) closeLocked(code CloseCode) {
	c.srv.log.Debug("discordtest: gateway close", "code", int(code), "reason", code.Reason())
	c.srv.gw.closes = append(c.srv.gw.closes, code)
	c.enqueueLocked(outFrame{close: true, code: code, reason: code.Reason()})
	c.srv.notifyLocked()
}

// kill drops the TCP connection without a close frame or TLS
// close_notify, as a network failure would. s.mu must not be held.
func (c *conn) kill() {
	c.srv.mu.Lock()
	c.killed = true
	c.srv.mu.Unlock()
	if c.ws == nil {
		return
	}
	nc := c.ws.UnderlyingConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_ = nc.Close()
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// emitLocked appends a dispatch to the session's log and sends it to its
// connection, if any.
func (s *Server) emitLocked(sess *session, event string, d json.RawMessage) {
	sess.seq++
	frame := make([]byte, 0, len(d)+64)
	frame = append(frame, `{"op":0,"t":`...)
	frame = strconv.AppendQuote(frame, event)
	frame = append(frame, `,"s":`...)
	frame = strconv.AppendInt(frame, sess.seq, 10)
	frame = append(frame, `,"d":`...)
	frame = append(frame, d...)
	frame = append(frame, '}')
	sess.log = append(sess.log, logged{seq: sess.seq, frame: frame})
	// Trim in batches so that each dispatch costs O(1) amortised.
	if len(sess.log) >= 2*s.cfg.ResumeBuffer {
		over := len(sess.log) - s.cfg.ResumeBuffer
		sess.log = append(sess.log[:0:0], sess.log[over:]...)
	}
	if sess.conn != nil {
		sess.conn.enqueueLocked(outFrame{data: frame})
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// liveSessionsLocked lists sessions still connected or resumable, dropping
// expired ones.
func (s *Server) liveSessionsLocked() []*session {
	now := time.Now()
	out := make([]*session, 0, len(s.gw.sessions))
	for id, sess := range s.gw.sessions {
		if sess.conn == nil && now.Sub(sess.detachedAt) > s.cfg.ResumeWindow {
			delete(s.gw.sessions, id)
			continue
		}
		out = append(out, sess)
	}
	return out
}

// dispatchGuildLocked sends an event to every session of the guild's shard
// that has intent (0: no intent needed).
func (s *Server) dispatchGuildLocked(g *guild, event string, d any, intent uint64) {
	if g == nil {
		return
	}
	raw := mustJSON(d)
	for _, sess := range s.liveSessionsLocked() {
		if ShardOf(g.ID, sess.shards) != sess.shard {
			continue
		}
		if intent != 0 && sess.intents&intent == 0 {
			continue
		}
		s.emitLocked(sess, event, raw)
	}
}

// sessionForGuildLocked picks the one session that receives a guild's
// interactions: the newest connected one, else the newest resumable one.
func (s *Server) sessionForGuildLocked(guildID string) *session {
	var best *session
	for _, sess := range s.liveSessionsLocked() {
		if ShardOf(guildID, sess.shards) != sess.shard {
			continue
		}
		switch {
		case best == nil:
			best = sess
		case (sess.conn != nil) != (best.conn != nil):
			if sess.conn != nil {
				best = sess
			}
		case sess.created.After(best.created):
			best = sess
		}
	}
	return best
}

// serveGateway upgrades an HTTP request to a gateway connection and runs
// it until it ends.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	default:
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	q := r.URL.Query()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	version, _ := strconv.Atoi(q.Get("v"))
	c := newConn(s, ws, version, q.Get("compress") == "zlib-stream")
	s.mu.Lock()
	s.gw.conns[c] = struct{}{}
	switch {
	case !gatewayVersions[q.Get("v")]:
		c.closeLocked(CloseInvalidAPIVersion)
	case q.Get("encoding") != "" && q.Get("encoding") != "json":
		c.closeLocked(CloseDecodeError)
	case q.Get("compress") != "" && q.Get("compress") != "zlib-stream":
		c.closeLocked(CloseDecodeError)
	default:
		c.sendOpLocked(opHello, map[string]any{"heartbeat_interval": s.cfg.HeartbeatInterval.Milliseconds()})
	}
	s.mu.Unlock()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	c.readLoop()
	<-c.done

	s.mu.Lock()
	delete(s.gw.conns, c)
	if c.sess != nil && c.sess.conn == c {
		c.sess.conn = nil
		c.sess.detachedAt = time.Now()
	}
	s.notifyLocked()
	s.mu.Unlock()
}

func (c *conn) readLoop() {
	defer close(c.readerDone)
	s := c.srv
	timeout := 2*s.cfg.HeartbeatInterval + 5*time.Second
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			s.mu.Lock()
			// A client closing with 1000 or 1001 ends its session
			// (https://discord.com/developers/docs/events/gateway#initiating-a-disconnect).
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) &&
				!c.killed && c.sess != nil && c.sess.conn == c {
				delete(s.gw.sessions, c.sess.id)
				s.log.Debug("discordtest: session ended by client", "session", c.sess.id, "code", ce.Code)
			}
			if !c.ended {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					c.closeLocked(CloseSessionTimedOut)
				} else {
					c.ended = true
				}
			}
			c.ended = true
			select {
			case c.wake <- struct{}{}:
			default:
			}
			s.mu.Unlock()
			return
		}
		code := c.process(mt, data)
		c.runAfter()
		if code != 0 {
			s.mu.Lock()
			c.closeLocked(code)
			s.mu.Unlock()
		}
	}
}

// writeLoop writes queued frames until a close frame or a dead socket.
func (c *conn) writeLoop() {
	defer close(c.done)
	defer c.ws.Close()
	var zbuf, pbuf bytes.Buffer
	var zw *zlib.Writer
	if c.zstream {
		zw = zlib.NewWriter(&zbuf)
	}
	pw := zlib.NewWriter(&pbuf)
	for {
		<-c.wake
		c.srv.mu.Lock()
		frames := c.out
		c.out = nil
		ended := c.ended
		c.srv.mu.Unlock()
		for _, f := range frames {
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if f.close {
				_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(int(f.code), f.reason))
				// Let the client read the close frame and answer it before
				// the TCP connection goes away.
				t := time.NewTimer(2 * time.Second)
				select {
				case <-c.readerDone:
				case <-t.C:
				}
				t.Stop()
				return
			}
			var err error
			if f.packed {
				// Payload compression: each payload is a whole zlib stream
				// (https://discord.com/developers/docs/events/gateway#payload-compression).
				pbuf.Reset()
				pw.Reset(&pbuf)
				if _, err = pw.Write(f.data); err == nil {
					err = pw.Close()
				}
				if err == nil {
					err = c.ws.WriteMessage(websocket.BinaryMessage, pbuf.Bytes())
				}
			} else if zw != nil {
				zbuf.Reset()
				if _, err = zw.Write(f.data); err == nil {
					err = zw.Flush()
				}
				if err == nil {
					err = c.ws.WriteMessage(websocket.BinaryMessage, zbuf.Bytes())
				}
			} else {
				err = c.ws.WriteMessage(websocket.TextMessage, f.data)
			}
			if err != nil {
				return
			}
		}
		if ended && len(frames) == 0 {
			return
		}
	}
}

// inbound is a decoded gateway payload
// (https://discord.com/developers/docs/topics/gateway-events#payload-structure).
type inbound struct {
	Op int
	D  json.RawMessage
}

var (
	errNoOpcode  = errors.New("discordtest: gateway payload has no op")
	errTooLarge  = errors.New("discordtest: gateway payload exceeds 4096 bytes")
	errNotObject = errors.New("discordtest: gateway payload is not a JSON object")
)

// decodeInbound parses one client payload without trusting it.
func decodeInbound(data []byte) (inbound, error) {
	if len(data) > maxGatewayPayload {
		return inbound{}, errTooLarge
	}
	var raw struct {
		Op *int            `json:"op"`
		D  json.RawMessage `json:"d"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return inbound{}, fmt.Errorf("%w: %v", errNotObject, err)
	}
	if dec.More() {
		return inbound{}, fmt.Errorf("%w: trailing data", errNotObject)
	}
	if raw.Op == nil {
		return inbound{}, errNoOpcode
	}
	return inbound{Op: *raw.Op, D: raw.D}, nil
}

type identifyData struct {
	Token          string          `json:"token"`
	Intents        *uint64         `json:"intents"`
	Shard          *[2]int         `json:"shard"`
	Compress       bool            `json:"compress"`
	LargeThreshold int             `json:"large_threshold"`
	Properties     json.RawMessage `json:"properties"`
	Presence       json.RawMessage `json:"presence"`
}

type resumeData struct {
	Token     string `json:"token"`
	SessionID string `json:"session_id"`
	Seq       int64  `json:"seq"`
}

type voiceStateData struct {
	GuildID   string  `json:"guild_id"`
	ChannelID *string `json:"channel_id"`
	SelfMute  bool    `json:"self_mute"`
	SelfDeaf  bool    `json:"self_deaf"`
}

type requestMembersData struct {
	GuildID   json.RawMessage `json:"guild_id"`
	Query     *string         `json:"query"`
	Limit     int             `json:"limit"`
	UserIDs   json.RawMessage `json:"user_ids"`
	Nonce     string          `json:"nonce"`
	Presences bool            `json:"presences"`
}

func decodeD(d json.RawMessage, v any) bool {
	if len(d) == 0 {
		return false
	}
	return json.Unmarshal(d, v) == nil
}

// process handles one inbound frame and returns a close code, or 0 to keep
// the connection. It never blocks on I/O.
func (c *conn) process(mt int, data []byte) CloseCode {
	// Client events are limited per connection
	// (https://discord.com/developers/docs/topics/gateway#rate-limiting).
	now := time.Now().UnixMilli()
	c.events = append(c.events, now)
	drop := 0
	for drop < len(c.events) && now-c.events[drop] >= c.srv.cfg.GatewayEventWindow.Milliseconds() {
		drop++
	}
	c.events = c.events[drop:]
	if len(c.events) > c.srv.cfg.GatewayEventLimit {
		return CloseRateLimited
	}
	if mt != websocket.TextMessage {
		return CloseDecodeError
	}
	in, err := decodeInbound(data)
	if err != nil {
		return CloseDecodeError
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	switch in.Op {
	case opHeartbeat:
		var seq *int64
		if len(in.D) > 0 && json.Unmarshal(in.D, &seq) != nil {
			return CloseDecodeError
		}
		if c.sess != nil {
			c.sess.heartbeats++
		}
		c.sendOpLocked(opHeartbeatAck, nil)
		return 0
	case opIdentify:
		if c.identified {
			return CloseAlreadyAuthenticated
		}
		var d identifyData
		if !decodeD(in.D, &d) {
			return CloseDecodeError
		}
		return s.identifyLocked(c, d)
	case opResume:
		if c.identified {
			return CloseAlreadyAuthenticated
		}
		var d resumeData
		if !decodeD(in.D, &d) {
			return CloseDecodeError
		}
		return s.resumeLocked(c, d)
	case opPresenceUpdate, opVoiceStateUpdate, opRequestGuildMembers, opRequestSoundboard:
		if !c.identified {
			return CloseNotAuthenticated
		}
	default:
		return CloseUnknownOpcode
	}
	switch in.Op {
	case opPresenceUpdate:
		var d struct {
			Status string `json:"status"`
		}
		if !decodeD(in.D, &d) {
			return CloseDecodeError
		}
	case opVoiceStateUpdate:
		var d voiceStateData
		if !decodeD(in.D, &d) {
			return CloseDecodeError
		}
		s.botVoiceUpdateLocked(c, d)
	case opRequestGuildMembers:
		var d requestMembersData
		if !decodeD(in.D, &d) {
			return CloseDecodeError
		}
		return s.requestMembersLocked(c.sess, d)
	}
	return 0
}

// runAfter runs the work process deferred until s.mu is free.
func (c *conn) runAfter() {
	for _, f := range c.after {
		f()
	}
	c.after = c.after[:0]
}

func (s *Server) checkToken(tok string) bool {
	return tok == s.cfg.Token || tok == "Bot "+s.cfg.Token
}

func (s *Server) identifyLocked(c *conn, d identifyData) CloseCode {
	if !s.checkToken(d.Token) {
		return CloseAuthenticationFailed
	}
	if d.Intents == nil {
		return CloseDecodeError
	}
	shard, shards := 0, 1
	if d.Shard != nil {
		shard, shards = d.Shard[0], d.Shard[1]
	}
	if shards < 1 || shard < 0 || shard >= shards {
		return CloseInvalidShard
	}
	if *d.Intents&^intentsKnown != 0 {
		return CloseInvalidIntents
	}
	if *d.Intents&IntentsPrivileged&^s.cfg.PrivilegedIntents != 0 {
		return CloseDisallowedIntents
	}
	guilds := s.guildsOfShardLocked(shard, shards)
	if len(guilds) > s.cfg.MaxGuildsPerShard {
		return CloseShardingRequired
	}
	// Identify concurrency
	// (https://discord.com/developers/docs/events/gateway#rate-limiting).
	if iv := s.cfg.IdentifyInterval; iv > 0 {
		key := shard % s.cfg.MaxConcurrency
		if last, ok := s.gw.lastIdentify[key]; ok && time.Since(last) < iv {
			c.sendOpLocked(opInvalidSession, false)
			s.notifyLocked()
			return 0
		}
		s.gw.lastIdentify[key] = time.Now()
	}
	sess := &session{id: newSessionID(), shard: shard, shards: shards, intents: *d.Intents,
		conn: c, created: time.Now(), compress: d.Compress}
	s.gw.sessions[sess.id] = sess
	s.gw.identifies++
	c.sess = sess
	c.identified = true
	unavailable := make([]map[string]any, 0, len(guilds))
	for _, g := range guilds {
		unavailable = append(unavailable, map[string]any{"id": g.ID, "unavailable": true})
	}
	bot := s.w.bot.object()
	ready := map[string]any{
		"v": c.version, "user": map[string]any{
			"id": bot.ID, "username": bot.Username, "discriminator": "0", "global_name": nil,
			"avatar": nil, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0,
			"email": nil,
		},
		"guilds": unavailable, "session_id": sess.id, "session_type": "normal",
		"resume_gateway_url": s.GatewayURL(), "shard": []int{shard, shards},
		"application":      map[string]any{"id": s.w.appID, "flags": 0},
		"private_channels": []any{}, "presences": []any{}, "relationships": []any{},
		"guild_join_requests": []any{}, "geo_ordered_rtc_regions": []string{"local"},
		"user_settings": map[string]any{}, "auth": map[string]any{},
		"_trace": []string{"discordtest"},
	}
	s.log.Debug("discordtest: identified", "session", sess.id, "shard", shard, "shards", shards, "intents", *d.Intents, "guilds", len(guilds))
	s.emitLocked(sess, "READY", mustJSON(ready))
	for _, g := range guilds {
		s.emitLocked(sess, "GUILD_CREATE", mustJSON(s.guildCreateJSON(g, sess.intents)))
	}
	s.notifyLocked()
	return 0
}

func (s *Server) resumeLocked(c *conn, d resumeData) CloseCode {
	if !s.checkToken(d.Token) {
		return CloseAuthenticationFailed
	}
	var sess *session
	for _, live := range s.liveSessionsLocked() {
		if live.id == d.SessionID {
			sess = live
		}
	}
	if sess == nil {
		c.sendOpLocked(opInvalidSession, false)
		return 0
	}
	if d.Seq > sess.seq || d.Seq < 0 {
		return CloseInvalidSeq
	}
	if len(sess.log) > 0 && sess.log[0].seq > d.Seq+1 {
		// The missed events are no longer buffered.
		delete(s.gw.sessions, sess.id)
		c.sendOpLocked(opInvalidSession, false)
		return 0
	}
	if old := sess.conn; old != nil && old != c {
		old.sess = nil
		old.closeLocked(CloseUnknownError)
	}
	s.log.Debug("discordtest: resumed", "session", sess.id, "from_seq", d.Seq, "to_seq", sess.seq)
	sess.conn = c
	sess.resumes++
	c.sess = sess
	c.identified = true
	for _, l := range sess.log {
		if l.seq > d.Seq {
			c.enqueueLocked(outFrame{data: l.frame})
		}
	}
	s.emitLocked(sess, "RESUMED", json.RawMessage(`{"_trace":["discordtest"]}`))
	s.notifyLocked()
	return 0
}

func (s *Server) requestMembersLocked(sess *session, d requestMembersData) CloseCode {
	var ids []string
	var one string
	if json.Unmarshal(d.GuildID, &one) == nil {
		ids = []string{one}
	} else if json.Unmarshal(d.GuildID, &ids) != nil {
		return CloseDecodeError
	}
	var want []string
	if len(d.UserIDs) > 0 && string(d.UserIDs) != "null" {
		if json.Unmarshal(d.UserIDs, &one) == nil {
			want = []string{one}
		} else if json.Unmarshal(d.UserIDs, &want) != nil {
			return CloseDecodeError
		}
	}
	if want == nil && (d.Query == nil || *d.Query == "") && sess.intents&IntentGuildMembers == 0 {
		// Listing all members needs the GUILD_MEMBERS intent.
		return CloseDisallowedIntents
	}
	for _, gid := range ids {
		g := s.w.guilds[gid]
		if g == nil || ShardOf(gid, sess.shards) != sess.shard {
			continue
		}
		members := []map[string]any{}
		notFound := []string{}
		for _, uid := range g.memberOrder {
			if d.Limit > 0 && len(members) >= d.Limit {
				break
			}
			u := s.w.users[uid]
			switch {
			case want != nil:
				if !containsString(want, uid) {
					continue
				}
			case d.Query != nil && *d.Query != "":
				if len(u.Username) < len(*d.Query) || !equalFoldPrefix(u.Username, *d.Query) {
					continue
				}
			}
			members = append(members, s.memberJSON(g, g.members[uid]))
		}
		for _, uid := range want {
			if g.members[uid] == nil {
				notFound = append(notFound, uid)
			}
		}
		chunk := map[string]any{"guild_id": gid, "members": members, "chunk_index": 0,
			"chunk_count": 1, "not_found": notFound}
		if d.Nonce != "" {
			chunk["nonce"] = d.Nonce
		}
		s.emitLocked(sess, "GUILD_MEMBERS_CHUNK", mustJSON(chunk))
	}
	return 0
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func equalFoldPrefix(s, prefix string) bool {
	return bytes.EqualFold([]byte(s[:len(prefix)]), []byte(prefix))
}
