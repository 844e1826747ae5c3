package voicetest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"github.com/quaverbot/quaver/voice/dave/frame"
	"github.com/quaverbot/quaver/voice/dave/gateway"
	"github.com/quaverbot/quaver/voice/mls"
)

// DAVEConfig configures the DAVE role of the server.
type DAVEConfig struct {
	// ChannelID is the call's channel, the MLS group id.
	ChannelID uint64
	// ListenerUserID, if non-zero, adds an in-process group member with this
	// user id that can decrypt what the clients send (see DAVE.Listener).
	ListenerUserID uint64
	// Require closes clients whose max_dave_protocol_version is 0 with 4017,
	// as Discord does since March 2026.
	Require bool
	// Logger receives debug logs (default: discard).
	Logger *slog.Logger
}

// DAVE plays Discord's voice gateway in the DAVE protocol: it is the MLS
// external sender (its own P-256 key), signs Add and Remove proposals as
// members come and go, relays commits and welcomes, and announces and
// executes transitions (the logic lives in voice/dave/gateway). Set it as
// Config.DAVE and call Attach with the server.
type DAVE struct {
	cfg DAVEConfig
	log *slog.Logger

	mu       sync.Mutex
	srv      *Server
	gw       *gateway.Gateway
	greeted  map[*Session]bool
	listener *Listener
}

// daveOut is a message to send to a session once the lock is released.
type daveOut struct {
	to *Session
	m  gateway.Message
}

// NewDAVE returns the DAVE role for one call.
func NewDAVE(cfg DAVEConfig) (*DAVE, error) {
	gw, err := gateway.New(cfg.ChannelID)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DAVE{cfg: cfg, log: log, gw: gw, greeted: map[*Session]bool{}}
	if cfg.ListenerUserID != 0 {
		l, err := newListener(cfg.ListenerUserID, cfg.ChannelID)
		if err != nil {
			return nil, err
		}
		d.listener = l
		gw.Join(l.user)
		out, err := gw.KeyPackage(l.user, l.kp.KeyPackage.Marshal())
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		sends := d.routeLocked(out)
		d.mu.Unlock()
		d.send(sends)
	}
	return d, nil
}

// Attach tells the role which server it serves (to reach other sessions).
func (d *DAVE) Attach(srv *Server) {
	d.mu.Lock()
	d.srv = srv
	d.mu.Unlock()
}

// Listener returns the in-process member (nil without ListenerUserID).
func (d *DAVE) Listener() *Listener { return d.listener }

// Epoch returns the epoch of the call's group as the gateway knows it.
func (d *DAVE) Epoch() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gw.Epoch()
}

// ProtocolVersion implements DAVEHandler: version 1 for clients that offer
// it; clients that do not are closed with 4017 when the role requires DAVE.
func (d *DAVE) ProtocolVersion(s *Session, clientMax int) int {
	if clientMax < 1 {
		if d.cfg.Require {
			s.CloseWithCode(CloseDAVERequired) // queued: the client reads 4017 instead of Session Description
		}
		return 0
	}
	u, err := strconv.ParseUint(s.UserID, 10, 64)
	if err != nil {
		return 0
	}
	d.mu.Lock()
	d.gw.Join(u)
	d.mu.Unlock()
	return 1
}

// SessionEnded is called by the server when a session is gone for good: the
// gateway proposes the member's removal (or resets a group left with one
// member).
func (d *DAVE) SessionEnded(s *Session) {
	u, err := strconv.ParseUint(s.UserID, 10, 64)
	if err != nil {
		return
	}
	d.mu.Lock()
	delete(d.greeted, s)
	out, err := d.gw.Leave(u)
	sends := d.routeLocked(out)
	d.mu.Unlock()
	if err != nil {
		d.log.Debug("voicetest: DAVE leave", "user", u, "err", err)
	}
	d.send(sends)
}

// HandleMessage implements DAVEHandler for opcodes 23, 26, 28 and 31.
func (d *DAVE) HandleMessage(s *Session, op int, bin bool, payload []byte) {
	u, err := strconv.ParseUint(s.UserID, 10, 64)
	if err != nil {
		return
	}
	var pre []daveOut
	d.mu.Lock()
	if op == 26 && !d.greeted[s] {
		// The external sender (opcode 25) before the first proposal, and the
		// listener announced like any other member of the call (opcode 11).
		d.greeted[s] = true
		pre = append(pre, daveOut{s, gateway.Message{To: u, Op: gateway.OpExternalSender, Binary: d.gw.ExternalSender()}})
		if d.listener != nil {
			pre = append(pre, daveOut{s, gateway.Message{To: u, Op: OpClientsConnect, JSON: map[string]any{"user_ids": []string{strconv.FormatUint(d.listener.user, 10)}}}})
		}
	}
	out, err := d.clientLocked(u, op, payload)
	sends := append(pre, d.routeLocked(out)...)
	d.mu.Unlock()
	if err != nil {
		d.log.Debug("voicetest: DAVE message refused", "user", u, "op", op, "err", err)
	}
	d.send(sends)
}

// clientLocked hands a client message to the gateway.
func (d *DAVE) clientLocked(u uint64, op int, payload []byte) ([]gateway.Message, error) {
	tid := func() uint16 {
		var j struct {
			TransitionID uint16 `json:"transition_id"`
		}
		_ = json.Unmarshal(payload, &j)
		return j.TransitionID
	}
	switch op {
	case 23:
		return d.gw.Ready(u, tid()), nil
	case 26:
		return d.gw.KeyPackage(u, payload)
	case 28:
		return d.gw.CommitWelcome(u, payload)
	case 31:
		return d.gw.InvalidCommitWelcome(u)
	}
	return nil, nil
}

// routeLocked delivers the gateway's messages: the listener's in process
// (its answers go back to the gateway at once), the others to sessions.
func (d *DAVE) routeLocked(msgs []gateway.Message) []daveOut {
	var out []daveOut
	for len(msgs) > 0 {
		m := msgs[0]
		msgs = msgs[1:]
		if d.listener != nil && m.To == d.listener.user {
			for _, r := range d.listener.handle(m) {
				more, err := d.clientLocked(d.listener.user, r.op, r.body)
				if err != nil {
					d.log.Debug("voicetest: listener message refused", "op", r.op, "err", err)
				}
				msgs = append(msgs, more...)
			}
			continue
		}
		if d.srv == nil {
			continue
		}
		for _, ss := range d.srv.Sessions() {
			if ss.UserID == strconv.FormatUint(m.To, 10) {
				out = append(out, daveOut{ss, m})
			}
		}
	}
	return out
}

func (d *DAVE) send(out []daveOut) {
	for _, o := range out {
		var err error
		if o.m.Binary != nil {
			err = o.to.SendBinary(byte(o.m.Op), o.m.Binary)
		} else {
			err = o.to.Send(o.m.Op, o.m.JSON)
		}
		if err != nil {
			d.log.Debug("voicetest: DAVE send failed", "user", o.to.UserID, "op", o.m.Op, "err", err)
		}
	}
}

// listenerMsg is an answer of the listener to the gateway.
type listenerMsg struct {
	op   int
	body []byte
}

var errNoListenerGroup = errors.New("voicetest: the listener is not in the group")

// Listener is a DAVE group member inside the server: it joins from the
// welcome the committing clients make for it, follows their commits, and
// decrypts the media frames they send. It never commits itself.
type Listener struct {
	user, channel uint64

	mu    sync.Mutex
	kp    *mls.KeyPackageBundle
	group *mls.Group
	decs  map[uint64]*frame.Decryptor
}

func newListener(user, channel uint64) (*Listener, error) {
	kp, err := mls.NewKeyPackage(binary.BigEndian.AppendUint64(nil, user))
	if err != nil {
		return nil, err
	}
	return &Listener{user: user, channel: channel, kp: kp, decs: map[uint64]*frame.Decryptor{}}, nil
}

// handle acts on one gateway message (under the role's lock).
func (l *Listener) handle(m gateway.Message) []listenerMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	ready := func(tid uint16) []listenerMsg {
		if tid == 0 {
			return nil
		}
		b, _ := json.Marshal(map[string]any{"transition_id": tid})
		return []listenerMsg{{23, b}}
	}
	var j struct {
		TransitionID    uint16 `json:"transition_id"`
		ProtocolVersion int    `json:"protocol_version"`
		Epoch           uint64 `json:"epoch"`
	}
	if m.JSON != nil {
		b, _ := json.Marshal(m.JSON)
		_ = json.Unmarshal(b, &j)
	}
	switch m.Op {
	case gateway.OpProposals:
		if l.group == nil || len(m.Binary) < 1 {
			return nil
		}
		if m.Binary[0] == 1 {
			refs, _ := mls.UnmarshalRefs(m.Binary[1:])
			for _, r := range refs {
				l.group.RemovePendingProposal(r)
			}
			return nil
		}
		msgs, _ := mls.UnmarshalMessages(m.Binary[1:])
		for _, p := range msgs {
			_, _ = l.group.ProcessMessage(p)
		}
	case gateway.OpAnnounceCommit:
		if l.group == nil || len(m.Binary) < 2 {
			return nil
		}
		if _, err := l.group.ProcessMessage(m.Binary[2:]); err != nil {
			return nil
		}
		l.prepare()
		return ready(binary.BigEndian.Uint16(m.Binary))
	case gateway.OpWelcome:
		if l.group != nil || len(m.Binary) < 2 {
			return nil
		}
		g, err := mls.JoinFromWelcome(m.Binary[2:], l.kp, mls.GroupOptions{})
		if err != nil {
			return nil
		}
		l.group = g
		l.prepare()
		return ready(binary.BigEndian.Uint16(m.Binary))
	case gateway.OpPrepareEpoch:
		if j.Epoch == 1 {
			kp, err := mls.NewKeyPackage(binary.BigEndian.AppendUint64(nil, l.user))
			if err != nil {
				return nil
			}
			l.kp, l.group = kp, nil
			return []listenerMsg{{26, kp.KeyPackage.Marshal()}}
		}
	case gateway.OpPrepareTransition:
		if j.ProtocolVersion == 0 {
			for _, d := range l.decs {
				d.SetPassthrough(true, 0)
			}
		}
		return ready(j.TransitionID)
	}
	return nil
}

// prepare installs every other member's keys of the new epoch.
func (l *Listener) prepare() {
	for _, m := range l.group.Members() {
		u := binary.BigEndian.Uint64(m.Identity)
		if u == l.user {
			continue
		}
		r, err := frame.SenderRatchet(l.group.Exporter, u)
		if err != nil {
			continue
		}
		d := l.decs[u]
		if d == nil {
			d = frame.NewDecryptor(nil)
			l.decs[u] = d
		}
		d.TransitionToKeyRatchet(r)
	}
}

// Epoch returns the listener's epoch (0 before it joined).
func (l *Listener) Epoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.group == nil {
		return 0
	}
	return l.group.Epoch()
}

// EpochAuthenticator returns the listener's epoch authenticator.
func (l *Listener) EpochAuthenticator() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.group == nil {
		return nil
	}
	return bytes.Clone(l.group.EpochAuthenticator())
}

// DecryptFrame appends the media frame that user sent in f to dst. It
// refuses unencrypted frames (other than Opus silence).
func (l *Listener) DecryptFrame(user uint64, dst, f []byte) ([]byte, error) {
	l.mu.Lock()
	d := l.decs[user]
	l.mu.Unlock()
	if d == nil {
		return dst, errNoListenerGroup
	}
	return d.DecryptFrame(dst, f)
}
