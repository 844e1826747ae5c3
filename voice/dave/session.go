package dave

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/quaverbot/quaver/voice"
	"github.com/quaverbot/quaver/voice/dave/frame"
	"github.com/quaverbot/quaver/voice/mls"
)

// Sender sends gateway messages; *voice.Conn implements it.
type Sender interface {
	SendJSON(ctx context.Context, op int, d any) error
	SendBinary(ctx context.Context, op byte, payload []byte) error
}

// Config configures a Session.
type Config struct {
	// UserID is the bot's user id; ChannelID the voice channel's (the MLS group id).
	UserID, ChannelID uint64
	// SendTimeout bounds each gateway send (default 5 s).
	SendTimeout time.Duration
	// PassthroughExpiry is how long receivers keep accepting unencrypted
	// frames after a transition to E2EE executes (default 10 s).
	PassthroughExpiry time.Duration
	// Now is the clock for key expiry (default time.Now).
	Now func() time.Time
	// Logger receives logs (nil: slog.Default()).
	Logger *slog.Logger
	// OnTransition, if set, is called after a transition executed with the
	// protocol version now in effect (0: transport encryption only) and
	// whether our frames are end-to-end encrypted. It runs on the goroutine
	// that handled the gateway message and must not block.
	OnTransition func(version int, encrypting bool)
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig() Config {
	return Config{SendTimeout: 5 * time.Second, PassthroughExpiry: 10 * time.Second, Now: time.Now}
}

var (
	errNoGroup         = errors.New("dave: no MLS group")
	errBadProposal     = errors.New("dave: proposal refused")
	errUnknownUser     = errors.New("dave: add proposal for a user the gateway did not announce")
	errBadExternal     = errors.New("dave: group's external sender differs from the gateway's")
	errDuplicateMember = errors.New("dave: the group holds a user twice")
	errInlineProposal  = errors.New("dave: commit carries a proposal by value (DAVE allows references only)")
)

// outMsg is a gateway message to send once the session lock is released.
type outMsg struct {
	op  int
	bin []byte // binary body, or nil for JSON
	d   any
}

// Session is one voice connection's DAVE state. It implements
// voice.DAVEHandler (gateway side) and voice.FrameEncryptor (media side);
// DecryptFrame serves the receive side. It is safe for concurrent use: the
// gateway goroutine, the pacer and receivers may call it at once.
type Session struct {
	cfg Config
	log *slog.Logger

	mu          sync.Mutex
	version     int // protocol version in effect for the media (0: none)
	conn        *voice.Conn
	connSSRC    uint32
	external    *mls.ExternalSender
	kp          *mls.KeyPackageBundle
	group       *mls.Group
	established bool                  // group is the call's (not our local pending group)
	recognized  map[uint64]bool       // users the gateway announced
	transitions map[uint16]int        // prepared transition id → protocol version
	ratchets    map[uint16]*mls.Group // group whose keys a transition's execution starts sending with
	decs        map[uint64]*frame.Decryptor
	enc         frame.Encryptor
	passAfter   bool // receivers in passthrough (downgrade prepared or no E2EE yet)
	executed    bool // a transition executed during the current message
}

// NewSession returns a session for cfg; zero Config fields take their defaults.
func NewSession(cfg Config) *Session {
	d := DefaultConfig()
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = d.SendTimeout
	}
	if cfg.PassthroughExpiry <= 0 {
		cfg.PassthroughExpiry = d.PassthroughExpiry
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Session{
		cfg: cfg, log: log.With("component", "dave", "channel", cfg.ChannelID),
		recognized: map[uint64]bool{cfg.UserID: true}, transitions: map[uint16]int{},
		ratchets: map[uint16]*mls.Group{}, decs: map[uint64]*frame.Decryptor{}, passAfter: true,
	}
}

// HandleDAVE implements voice.DAVEHandler. The first message of a new voice
// session (one not announced with Connected) starts the protocol first, as
// Start does. Answers are written to the gateway before it returns, each
// bounded by Config.SendTimeout: the hook blocks only as long as a WebSocket
// write does.
func (s *Session) HandleDAVE(c *voice.Conn, op int, binary bool, payload []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SendTimeout)
	defer cancel()
	s.mu.Lock()
	fresh := s.conn != c || s.connSSRC != c.SSRC()
	s.conn, s.connSSRC = c, c.SSRC()
	s.mu.Unlock()
	if fresh {
		if err := s.Start(ctx, c, c.DAVEProtocolVersion()); err != nil {
			s.log.Warn("dave: start failed", "err", err)
		}
	}
	if err := s.Handle(ctx, c, op, binary, payload); err != nil {
		s.log.Warn("dave: message refused", "op", op, "err", err)
	}
}

// Connected starts the protocol for c's current voice session: call it after
// Connect returns (and after every new session, as StateReady reports), so
// that the key package (opcode 26) follows Session Description at once, as
// Discord expects. Without it, the first DAVE message starts the protocol.
func (s *Session) Connected(ctx context.Context, c *voice.Conn) error {
	s.mu.Lock()
	started := s.conn == c && s.connSSRC == c.SSRC()
	s.conn, s.connSSRC = c, c.SSRC()
	s.mu.Unlock()
	if started { // a DAVE message of this session already started it
		return nil
	}
	return s.Start(ctx, c, c.DAVEProtocolVersion())
}

// Start begins the protocol for a new voice session at version (from
// Session Description): it drops the previous session's group and keys
// (frames pass through until the new group's first transition) and, for a
// non-zero version, makes a fresh key package and sends it (opcode 26).
func (s *Session) Start(ctx context.Context, tx Sender, version int) error {
	s.mu.Lock()
	s.enc.SetKeyRatchet(nil)
	clear(s.decs)
	clear(s.transitions)
	s.passAfter, s.version = true, version
	msgs, err := s.resetLocked(version)
	s.mu.Unlock()
	return s.send(ctx, tx, msgs, err)
}

// Handle processes one gateway message (opcodes 11, 13, 21–31) and sends
// the answers through tx.
func (s *Session) Handle(ctx context.Context, tx Sender, op int, binary bool, payload []byte) error {
	s.mu.Lock()
	s.executed = false
	msgs, err := s.handleLocked(op, binary, payload)
	executed, version := s.executed, s.version
	s.mu.Unlock()
	err = s.send(ctx, tx, msgs, err)
	if executed && s.cfg.OnTransition != nil {
		s.cfg.OnTransition(version, s.enc.Active())
	}
	return err
}

func (s *Session) send(ctx context.Context, tx Sender, msgs []outMsg, err error) error {
	for _, m := range msgs {
		var e error
		if m.bin != nil {
			e = tx.SendBinary(ctx, byte(m.op), m.bin)
		} else {
			e = tx.SendJSON(ctx, m.op, m.d)
		}
		if e != nil {
			return errors.Join(err, fmt.Errorf("dave: sending op %d: %w", m.op, e))
		}
	}
	return err
}

// resetLocked drops the group and sends a new key package (protocol.md
// "Key Packages").
func (s *Session) resetLocked(version int) ([]outMsg, error) {
	s.group, s.established, s.kp = nil, false, nil
	clear(s.ratchets)
	if version <= 0 {
		return nil, nil
	}
	kp, err := mls.NewKeyPackage(binary.BigEndian.AppendUint64(nil, s.cfg.UserID))
	if err != nil {
		return nil, err
	}
	s.kp = kp
	if err := s.createLocalGroupLocked(); err != nil {
		return nil, err
	}
	// The whitepaper names an MLSMessage here, but libdave and davey send the
	// bare KeyPackage, and that is what Discord's gateway takes.
	return []outMsg{{op: OpKeyPackage, bin: kp.KeyPackage.Marshal()}}, nil
}

// createLocalGroupLocked makes our one-member pending group once both the
// key package and the external sender are known (protocol.md "Initial Group
// Creation").
func (s *Session) createLocalGroupLocked() error {
	if s.established || s.kp == nil || s.external == nil {
		return nil
	}
	g, err := mls.CreateGroup(binary.BigEndian.AppendUint64(nil, s.cfg.ChannelID), s.kp,
		mls.GroupOptions{Extensions: []mls.Extension{mls.ExternalSendersExtension([]mls.ExternalSender{*s.external})}})
	if err != nil {
		return err
	}
	s.group = g
	return nil
}

func (s *Session) handleLocked(op int, bin bool, p []byte) ([]outMsg, error) {
	switch op {
	case OpClientsConnect, OpClientDisconnect:
		var c clientsJSON
		if err := json.Unmarshal(p, &c); err != nil {
			return nil, fmt.Errorf("dave: op %d: %w", op, err)
		}
		for _, id := range c.UserIDs {
			if u, err := strconv.ParseUint(id, 10, 64); err == nil {
				s.recognized[u] = true
			}
		}
		if u, err := strconv.ParseUint(c.UserID, 10, 64); err == nil && op == OpClientDisconnect && u != s.cfg.UserID {
			delete(s.recognized, u)
		}
		return nil, nil
	case OpPrepareTransition:
		var t transitionJSON
		if err := json.Unmarshal(p, &t); err != nil || t.ProtocolVersion == nil || t.TransitionID < 0 || t.TransitionID > 0xFFFF {
			return nil, fmt.Errorf("dave: op 21: bad body %q", p)
		}
		id := uint16(t.TransitionID)
		s.transitions[id] = *t.ProtocolVersion
		if *t.ProtocolVersion == 0 { // downgrade: accept clear frames from now on
			s.setPassthroughLocked(true)
		}
		if id == 0 {
			s.executeLocked(0)
			return nil, nil
		}
		return []outMsg{{op: OpReadyForTransition, d: transitionJSON{TransitionID: int(id)}}}, nil
	case OpExecuteTransition:
		var t transitionJSON
		if err := json.Unmarshal(p, &t); err != nil || t.TransitionID < 0 || t.TransitionID > 0xFFFF {
			return nil, fmt.Errorf("dave: op 22: bad body %q", p)
		}
		s.executeLocked(uint16(t.TransitionID))
		return nil, nil
	case OpPrepareEpoch:
		var e epochJSON
		if err := json.Unmarshal(p, &e); err != nil {
			return nil, fmt.Errorf("dave: op 24: %w", err)
		}
		if e.Epoch == 1 { // the group is (re)created
			return s.resetLocked(e.ProtocolVersion)
		}
		return nil, nil
	case OpExternalSender:
		var es mls.ExternalSender
		if err := es.Unmarshal(p); err != nil {
			return nil, fmt.Errorf("dave: op 25: %w", err)
		}
		s.external = &es
		return nil, s.createLocalGroupLocked()
	case OpProposals:
		var pr Proposals
		if err := pr.Unmarshal(p); err != nil {
			return nil, fmt.Errorf("dave: op 27: %w", err)
		}
		return s.proposalsLocked(&pr)
	case OpAnnounceCommit:
		var t Transition
		if err := t.Unmarshal(p); err != nil {
			return nil, fmt.Errorf("dave: op 29: %w", err)
		}
		return s.commitLocked(t.ID, t.Data)
	case OpWelcome:
		var t Transition
		if err := t.Unmarshal(p); err != nil {
			return nil, fmt.Errorf("dave: op 30: %w", err)
		}
		return s.welcomeLocked(t.ID, t.Data)
	}
	return nil, nil
}

// checkProposal applies the DAVE rules to an appended proposal before MLS
// verifies it: a PublicMessage proposal from external sender 0, Add or
// Remove only, Add only for users the gateway announced.
func (s *Session) checkProposal(msg []byte) error {
	var m mls.Message
	if err := m.Unmarshal(msg); err != nil {
		return err
	}
	pm := m.PublicMessage
	if pm == nil || pm.Content.ContentType != mls.ContentProposal || pm.Content.Proposal == nil ||
		pm.Content.Sender.Type != mls.SenderExternal || pm.Content.Sender.Index != 0 {
		return errBadProposal
	}
	switch p := pm.Content.Proposal; p.Type {
	case mls.ProposalAdd:
		id := p.KeyPackage.LeafNode.Credential.Identity
		if len(id) != 8 || !s.recognized[binary.BigEndian.Uint64(id)] {
			return errUnknownUser
		}
	case mls.ProposalRemove:
	default:
		return errBadProposal
	}
	return nil
}

func (s *Session) proposalsLocked(pr *Proposals) ([]outMsg, error) {
	if s.group == nil {
		return nil, nil // no local group yet: proposals are ignored
	}
	if s.group.HasPendingCommit() {
		s.group.ClearPendingCommit()
	}
	if pr.Revoke {
		for _, r := range pr.Refs {
			s.group.RemovePendingProposal(r)
		}
	} else {
		for _, m := range pr.Messages {
			if err := s.checkProposal(m); err != nil {
				return nil, err
			}
			if _, err := s.group.ProcessMessage(m); err != nil {
				return nil, fmt.Errorf("dave: proposal: %w", err)
			}
		}
	}
	if len(s.group.PendingProposals()) == 0 {
		return nil, nil
	}
	commit, welcome, err := s.group.CommitPendingProposals()
	if err != nil {
		return nil, fmt.Errorf("dave: commit: %w", err)
	}
	cw := CommitWelcome{Commit: commit}
	if welcome != nil {
		cw.Welcome = welcome.Marshal()
	}
	return []outMsg{{op: OpCommitWelcome, bin: cw.Marshal()}}, nil
}

func (s *Session) commitLocked(id uint16, commit []byte) ([]outMsg, error) {
	if s.group == nil {
		return nil, nil
	}
	if s.established && !byReference(commit) {
		return s.invalidLocked(id, errInlineProposal)
	}
	own := s.group.HasPendingCommit()
	_, err := s.group.ProcessMessage(commit)
	if err != nil {
		if own {
			s.group.ClearPendingCommit()
		}
		if !s.established {
			// Someone else's commit created the group: our Welcome follows.
			return nil, nil
		}
		return s.invalidLocked(id, err)
	}
	if err := s.checkGroupLocked(); err != nil {
		return s.invalidLocked(id, err)
	}
	s.established = true
	return s.preparedLocked(id), nil
}

func (s *Session) welcomeLocked(id uint16, welcome []byte) ([]outMsg, error) {
	if s.established || s.kp == nil {
		return nil, nil
	}
	g, err := mls.JoinFromWelcome(welcome, s.kp, mls.GroupOptions{})
	if err != nil {
		return s.invalidLocked(id, err)
	}
	old := s.group
	s.group = g
	if err := s.checkGroupLocked(); err != nil {
		s.group = old
		return s.invalidLocked(id, err)
	}
	s.established = true
	return s.preparedLocked(id), nil
}

// byReference reports whether commit is a commit MLSMessage whose proposals
// are all references (protocol.md "Client Commit Validity").
func byReference(commit []byte) bool {
	var m mls.Message
	if m.Unmarshal(commit) != nil || m.PublicMessage == nil || m.PublicMessage.Content.Commit == nil {
		return false
	}
	for _, p := range m.PublicMessage.Content.Commit.Proposals {
		if p.Proposal != nil {
			return false
		}
	}
	return true
}

// checkGroupLocked applies the DAVE group rules (protocol.md "Invalid
// Groups", "Client Commit Validity"): exactly the gateway's external sender,
// and no user twice.
func (s *Session) checkGroupLocked() error {
	es := s.group.ExternalSenders()
	if s.external == nil || len(es) != 1 || !bytes.Equal(es[0].Marshal(), s.external.Marshal()) {
		return errBadExternal
	}
	seen := map[string]bool{}
	for _, m := range s.group.Members() {
		if seen[string(m.Identity)] {
			return errDuplicateMember
		}
		seen[string(m.Identity)] = true
	}
	return nil
}

// invalidLocked reports an unprocessable commit or welcome (opcode 31) and
// starts over with a new key package.
func (s *Session) invalidLocked(id uint16, cause error) ([]outMsg, error) {
	s.log.Warn("dave: invalid commit or welcome", "transition", id, "err", cause)
	msgs := []outMsg{{op: OpInvalidCommitWelcome, d: transitionJSON{TransitionID: int(id)}}}
	more, err := s.resetLocked(max(s.version, ProtocolVersion))
	return append(msgs, more...), err
}

// preparedLocked installs the receive keys of the group's new epoch and
// records that transition id switches the send key; it answers ready (23),
// or executes at once for transition 0.
func (s *Session) preparedLocked(id uint16) []outMsg {
	g := s.group
	in := map[uint64]bool{}
	for _, m := range g.Members() {
		u := binary.BigEndian.Uint64(m.Identity)
		in[u] = true
		if u == s.cfg.UserID {
			continue
		}
		r, err := frame.SenderRatchet(g.Exporter, u)
		if err != nil {
			continue
		}
		d := s.decs[u]
		if d == nil {
			d = frame.NewDecryptor(s.cfg.Now)
			if s.passAfter {
				d.SetPassthrough(true, 0)
			}
			s.decs[u] = d
		}
		d.TransitionToKeyRatchet(r)
	}
	for u, d := range s.decs {
		if !in[u] { // left the group: its last keys serve in-flight frames only
			d.RetireKeys(frame.KeyRetention)
		}
	}
	s.transitions[id] = ProtocolVersion
	s.ratchets[id] = g
	if id == 0 {
		s.executeLocked(0)
		return nil
	}
	return []outMsg{{op: OpReadyForTransition, d: transitionJSON{TransitionID: int(id)}}}
}

// executeLocked carries out a prepared transition: senders switch to the
// new epoch's key (or to passthrough for version 0).
func (s *Session) executeLocked(id uint16) {
	v, ok := s.transitions[id]
	if !ok {
		return
	}
	delete(s.transitions, id)
	g := s.ratchets[id]
	delete(s.ratchets, id)
	s.version = v
	s.executed = true
	if v == 0 {
		s.enc.SetKeyRatchet(nil)
		s.setPassthroughLocked(true)
		return
	}
	if g == nil {
		g = s.group
	}
	if g == nil || !s.established {
		return
	}
	r, err := frame.SenderRatchet(g.Exporter, s.cfg.UserID)
	if err != nil {
		return
	}
	s.enc.SetKeyRatchet(r)
	s.setPassthroughLocked(false)
}

func (s *Session) setPassthroughLocked(on bool) {
	s.passAfter = on
	for _, d := range s.decs {
		d.SetPassthrough(on, s.cfg.PassthroughExpiry)
	}
}

// MediaReady implements voice.MediaGate: a frame sent now can be heard when
// the media is not end-to-end encrypted (protocol version 0) or our sender
// key is in place. In between, while joining the call's group, a frame
// would go out in the clear and members that already encrypt would drop it.
func (s *Session) MediaReady() bool {
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	return v == 0 || s.enc.Active()
}

// EncryptFrame implements voice.FrameEncryptor: it encrypts frame with our
// sender key once a transition to E2EE has executed and passes it through
// otherwise (no group yet, or downgraded to protocol version 0).
func (s *Session) EncryptFrame(dst, f []byte) ([]byte, error) {
	return s.enc.EncryptFrame(dst, f)
}

// DecryptFrame appends the media frame that userID sent in f to dst.
func (s *Session) DecryptFrame(userID uint64, dst, f []byte) ([]byte, error) {
	s.mu.Lock()
	d := s.decs[userID]
	pass := s.passAfter
	s.mu.Unlock()
	if d == nil {
		if pass || frame.IsSilence(f) {
			return append(dst, f...), nil
		}
		return dst, errNoGroup
	}
	return d.DecryptFrame(dst, f)
}

// Epoch returns the epoch of the call's group (0 before one is established).
func (s *Session) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.established {
		return 0
	}
	return s.group.Epoch()
}

// Encrypting reports whether outgoing frames are end-to-end encrypted.
func (s *Session) Encrypting() bool { return s.enc.Active() }

// EpochAuthenticator returns the current epoch's authenticator (nil before
// a group is established).
func (s *Session) EpochAuthenticator() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.established {
		return nil
	}
	return bytes.Clone(s.group.EpochAuthenticator())
}

// VoicePrivacyCode is the 30-digit code Discord clients show for the call
// (the epoch authenticator as a displayable code, 6 groups of 5 digits).
func (s *Session) VoicePrivacyCode() string {
	a := s.EpochAuthenticator()
	if a == nil {
		return ""
	}
	return DisplayableCode(a, 30, 5)
}

// Members returns the user ids in the call's group.
func (s *Session) Members() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.established {
		return nil
	}
	var out []uint64
	for _, m := range s.group.Members() {
		out = append(out, binary.BigEndian.Uint64(m.Identity))
	}
	return out
}

// SetChannel changes the voice channel whose id names the MLS group this
// session creates from now on: a move to another channel starts a new voice
// session and so a new group (the current one ends with the old session).
func (s *Session) SetChannel(channelID uint64) {
	s.mu.Lock()
	s.cfg.ChannelID = channelID
	s.mu.Unlock()
}
