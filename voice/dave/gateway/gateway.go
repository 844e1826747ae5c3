// Package gateway plays the voice gateway's part in DAVE (protocol.md
// "Delivery Service" and "External Sender"; https://daveprotocol.com): it is
// the MLS external sender with its own P-256 key, validates key packages,
// signs Add and Remove proposals as members come and go, picks the first
// commit of each epoch, relays it with the welcome, announces transitions
// and executes them once every member is ready. It knows nothing about
// WebSockets: every call returns the messages to deliver, so the local voice
// server and the tests drive it alike.
package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/quaverbot/quaver/voice/mls"
)

// DAVE opcodes the gateway sends (protocol.md "Voice Gateway Opcodes").
const (
	OpPrepareTransition = 21
	OpExecuteTransition = 22
	OpPrepareEpoch      = 24
	OpExternalSender    = 25
	OpProposals         = 27
	OpAnnounceCommit    = 29
	OpWelcome           = 30
)

var (
	errNotMember      = errors.New("gateway: unknown user")
	errBadKeyPackage  = errors.New("gateway: key package refused (not a valid KeyPackage for this user with the full lifetime)")
	errStaleCommit    = errors.New("gateway: commit is not for the current epoch or lost to an earlier one")
	errInvalidCommit  = errors.New("gateway: commit does not reference exactly the proposals in flight")
	errSplitCommitMsg = errors.New("gateway: commit_welcome does not hold a commit")
)

// Message is one gateway message for one user: a binary body (after the
// opcode) or a JSON "d" value.
type Message struct {
	To     uint64
	Op     int
	Binary []byte
	JSON   any
}

type member struct {
	kp      *mls.KeyPackage // latest key package (pending members)
	inGroup bool
}

// Gateway is one call's DAVE delivery service. It is not safe for
// concurrent use; its owner serialises calls.
type Gateway struct {
	groupID []byte
	key     *mls.SignaturePrivateKey
	sender  mls.ExternalSender
	version int

	users map[uint64]*member
	order []uint64 // users in join order
	// The gateway keeps what Discord's does (protocol.md "Delivery
	// Service"): the epoch and each member's leaf, not the ratchet tree,
	// which it cannot rebuild (a creator's leaf reaches it only inside the
	// encrypted GroupInfo).
	established bool
	epoch       uint64
	leaves      []uint64 // user per leaf, 0 for blank
	inflight    []flight // proposals broadcast this epoch
	nextTID     uint16
	waiting     map[uint16]map[uint64]bool // transition → users not yet ready
}

// flight is a proposal in flight: whom it adds (0 for a remove) or the
// leaf it removes.
type flight struct {
	msg, ref []byte
	adds     uint64
	removes  int
}

// New returns the gateway of channel, with a fresh external sender key.
func New(channel uint64) (*Gateway, error) {
	k, err := mls.GenerateSignatureKey()
	if err != nil {
		return nil, err
	}
	return &Gateway{
		groupID: binary.BigEndian.AppendUint64(nil, channel), key: k, version: 1,
		sender: mls.ExternalSender{SignatureKey: k.PublicKey(), Credential: mls.Credential{Type: mls.CredentialBasic, Identity: []byte{}}},
		users:  map[uint64]*member{}, waiting: map[uint16]map[uint64]bool{}, nextTID: 1,
	}, nil
}

// ExternalSender is the body of opcode 25.
func (g *Gateway) ExternalSender() []byte { return g.sender.Marshal() }

// Version is the DAVE protocol version in effect (0 after a downgrade).
func (g *Gateway) Version() int { return g.version }

// Epoch is the established group's epoch (0: none).
func (g *Gateway) Epoch() uint64 { return g.epoch }

// Members are the users in the established group.
func (g *Gateway) Members() []uint64 {
	var out []uint64
	for _, u := range g.order {
		if g.users[u].inGroup {
			out = append(out, u)
		}
	}
	return out
}

// Join registers a user who connected; the caller sends them opcode 25
// (ExternalSender) itself, after Session Description.
func (g *Gateway) Join(user uint64) {
	if _, ok := g.users[user]; !ok {
		g.users[user] = &member{}
		g.order = append(g.order, user)
	}
}

func (g *Gateway) proposal(p *mls.Proposal, adds uint64) (flight, error) {
	msg, err := mls.NewExternalProposal(g.groupID, g.Epoch(), 0, p, g.key)
	if err != nil {
		return flight{}, err
	}
	ref, err := mls.ProposalRefOf(msg)
	if err != nil {
		return flight{}, err
	}
	return flight{msg: msg, ref: ref, adds: adds}, nil
}

func proposalsBody(msgs ...[]byte) []byte {
	return append([]byte{0}, mls.MarshalMessages(msgs)...)
}

// receivers are the users who act on proposals: the group's members, or
// every pending user while no group is established.
func (g *Gateway) receivers(except uint64) []uint64 {
	var out []uint64
	for _, u := range g.order {
		m := g.users[u]
		if u != except && (m.inGroup || (!g.established && m.kp != nil)) {
			out = append(out, u)
		}
	}
	return out
}

// KeyPackage handles opcode 26 from user: the body is the user's KeyPackage,
// bare (as libdave and davey send it) or in an MLSMessage (as the whitepaper
// writes it). It answers with the Add proposal.
func (g *Gateway) KeyPackage(user uint64, body []byte) ([]Message, error) {
	m, ok := g.users[user]
	if !ok {
		return nil, errNotMember
	}
	kp := new(mls.KeyPackage)
	if kp.Unmarshal(body) != nil {
		var msg mls.Message
		if err := msg.Unmarshal(body); err != nil || msg.KeyPackage == nil {
			return nil, errBadKeyPackage
		}
		kp = msg.KeyPackage
	}
	lt := kp.LeafNode.Lifetime
	if kp.Verify() != nil || kp.LeafNode.Credential.Type != mls.CredentialBasic ||
		!bytes.Equal(kp.LeafNode.Credential.Identity, binary.BigEndian.AppendUint64(nil, user)) ||
		lt.NotBefore != 0 || lt.NotAfter != ^uint64(0) {
		return nil, errBadKeyPackage
	}
	var out []Message
	if m.inGroup && g.established {
		// A member re-keying: remove the old leaf first (protocol.md "Member Remove").
		rm, err := g.removeLocked(user)
		if err != nil {
			return nil, err
		}
		out = append(out, rm...)
	}
	m.kp = kp
	// Replace an add already in flight for this user.
	out = append(out, g.revokeAdds(user)...)
	f, err := g.proposal(mls.AddProposal(kp), user)
	if err != nil {
		return nil, err
	}
	if !g.established {
		// Initial group creation: the newcomer gets the adds already in flight.
		var prior [][]byte
		for _, x := range g.inflight {
			prior = append(prior, x.msg)
		}
		if len(prior) > 0 {
			out = append(out, Message{To: user, Op: OpProposals, Binary: proposalsBody(prior...)})
		}
	}
	g.inflight = append(g.inflight, f)
	for _, u := range g.receivers(user) {
		out = append(out, Message{To: u, Op: OpProposals, Binary: proposalsBody(f.msg)})
	}
	return out, nil
}

func (g *Gateway) removeLocked(user uint64) ([]Message, error) {
	if m, ok := g.users[user]; ok {
		m.inGroup = false
	}
	leaf := slices.Index(g.leaves, user)
	if leaf < 0 {
		return nil, nil
	}
	f, err := g.proposal(mls.RemoveProposal(mls.LeafIndex(leaf)), 0)
	if err != nil {
		return nil, err
	}
	f.removes = leaf
	g.inflight = append(g.inflight, f)
	var out []Message
	for _, u := range g.receivers(user) {
		out = append(out, Message{To: u, Op: OpProposals, Binary: proposalsBody(f.msg)})
	}
	return out, nil
}

// Leave handles a user disconnecting: it proposes their removal, and resets
// the group when one member would be left alone (protocol.md "Sole member
// reset").
func (g *Gateway) Leave(user uint64) ([]Message, error) {
	m, ok := g.users[user]
	if !ok {
		return nil, nil
	}
	delete(g.users, user)
	g.order = slices.DeleteFunc(g.order, func(u uint64) bool { return u == user })
	for tid, w := range g.waiting {
		delete(w, user)
		_ = tid
	}
	revokes := g.revokeAdds(user)
	if !m.inGroup || !g.established {
		return revokes, nil
	}
	if len(g.Members()) <= 1 && g.version > 0 {
		var out []Message
		for _, u := range g.Members() {
			out = append(out, Message{To: u, Op: OpPrepareEpoch, JSON: map[string]any{"protocol_version": g.version, "epoch": 1}},
				Message{To: u, Op: OpPrepareTransition, JSON: map[string]any{"protocol_version": g.version, "transition_id": 0}})
		}
		g.resetGroup()
		return out, nil
	}
	m.inGroup = false
	rm, err := g.removeLocked(user)
	return append(revokes, rm...), err
}

// revokeAdds drops the adds of user still in flight and tells the receivers
// to revoke them (opcode 27, revoke).
func (g *Gateway) revokeAdds(user uint64) []Message {
	var refs [][]byte
	g.inflight = slices.DeleteFunc(g.inflight, func(f flight) bool {
		if f.adds == user {
			refs = append(refs, f.ref)
		}
		return f.adds == user
	})
	if len(refs) == 0 {
		return nil
	}
	body := append([]byte{1}, mls.MarshalRefs(refs)...)
	var out []Message
	for _, u := range g.receivers(user) {
		out = append(out, Message{To: u, Op: OpProposals, Binary: body})
	}
	return out
}

func (g *Gateway) resetGroup() {
	g.established, g.epoch, g.leaves, g.inflight = false, 0, nil, nil
	for _, m := range g.users {
		m.inGroup, m.kp = false, nil
	}
}

// CommitWelcome handles opcode 28 from user. The first valid commit of the
// epoch is announced to the members (opcode 29) and its Welcome sent to each
// added user (opcode 30); later ones are dropped (errStaleCommit).
func (g *Gateway) CommitWelcome(user uint64, body []byte) ([]Message, error) {
	if _, ok := g.users[user]; !ok {
		return nil, errNotMember
	}
	commit, welcome, err := splitCommitWelcome(body)
	if err != nil {
		return nil, err
	}
	creating := !g.established
	if creating && g.users[user].kp == nil {
		return nil, errStaleCommit
	}
	var m mls.Message
	if m.Unmarshal(commit) != nil || m.PublicMessage == nil {
		return nil, errSplitCommitMsg
	}
	fc := m.PublicMessage.Content
	if !bytes.Equal(fc.GroupID, g.groupID) || fc.Epoch != g.epoch || fc.Sender.Type != mls.SenderMember || fc.Commit == nil {
		return nil, errStaleCommit
	}
	if !referencesExactly(fc.Commit, g.inflight, user, creating) {
		return nil, errInvalidCommit
	}
	leaves := slices.Clone(g.leaves)
	if creating {
		leaves = []uint64{user}
	}
	if int(fc.Sender.Index) >= len(leaves) || leaves[fc.Sender.Index] != user {
		return nil, errStaleCommit
	}
	// Apply the referenced proposals: removes, then adds into the leftmost
	// blank leaf (RFC 9420 §12.3).
	var added []uint64
	for _, f := range g.inflight {
		if f.adds == 0 && f.removes < len(leaves) {
			leaves[f.removes] = 0
		}
	}
	for len(leaves) > 0 && leaves[len(leaves)-1] == 0 {
		leaves = leaves[:len(leaves)-1]
	}
	for _, p := range fc.Commit.Proposals {
		i := slices.IndexFunc(g.inflight, func(f flight) bool { return bytes.Equal(f.ref, p.Reference) })
		if i < 0 || g.inflight[i].adds == 0 {
			continue
		}
		u := g.inflight[i].adds
		if j := slices.Index(leaves, 0); j >= 0 {
			leaves[j] = u
		} else {
			leaves = append(leaves, u)
		}
		if m, ok := g.users[u]; ok {
			m.inGroup, m.kp = true, nil
			added = append(added, u)
		}
	}
	g.leaves, g.established = leaves, true
	g.users[user].inGroup = true
	g.epoch++
	tid := g.nextTID
	g.nextTID++
	if g.nextTID == 0 {
		g.nextTID = 1
	}
	g.inflight = nil
	var out []Message
	wait := map[uint64]bool{}
	ann := append(binary.BigEndian.AppendUint16(nil, tid), commit...)
	for _, u := range g.Members() {
		wait[u] = true
		if !slices.Contains(added, u) {
			out = append(out, Message{To: u, Op: OpAnnounceCommit, Binary: ann})
		}
	}
	for _, u := range added {
		out = append(out, Message{To: u, Op: OpWelcome, Binary: append(binary.BigEndian.AppendUint16(nil, tid), welcome...)})
	}
	g.waiting[tid] = wait
	return out, nil
}

// referencesExactly checks the gateway's commit rules (protocol.md "Voice
// Gateway Commit Validity"): only references, to exactly the proposals in
// flight (when creating, all but the committer's own add).
func referencesExactly(commit *mls.Commit, inflight []flight, committer uint64, creating bool) bool {
	var want [][]byte
	for _, f := range inflight {
		if !(creating && f.adds == committer) {
			want = append(want, f.ref)
		}
	}
	got := commit.Proposals
	if len(got) == 0 || len(got) != len(want) {
		return false
	}
	for _, p := range got {
		if p.Proposal != nil || !slices.ContainsFunc(want, func(r []byte) bool { return bytes.Equal(r, p.Reference) }) {
			return false
		}
	}
	return true
}

// Ready handles opcode 23; once every member is ready for tid, everyone
// gets opcode 22.
func (g *Gateway) Ready(user uint64, tid uint16) []Message {
	w, ok := g.waiting[tid]
	if !ok {
		return nil
	}
	delete(w, user)
	if len(w) > 0 {
		return nil
	}
	delete(g.waiting, tid)
	var out []Message
	for _, u := range g.order {
		out = append(out, Message{To: u, Op: OpExecuteTransition, JSON: map[string]any{"transition_id": tid}})
	}
	return out
}

// InvalidCommitWelcome handles opcode 31: the user is removed and becomes
// pending again; its next key package re-adds it.
func (g *Gateway) InvalidCommitWelcome(user uint64) ([]Message, error) {
	m, ok := g.users[user]
	if !ok || !m.inGroup || !g.established {
		return nil, nil
	}
	return g.removeLocked(user)
}

// Downgrade announces a transition to protocol version 0 (a client without
// DAVE joined; protocol.md "Downgrade to Transport-Only Encryption").
func (g *Gateway) Downgrade() []Message {
	tid := g.nextTID
	g.nextTID++
	g.version = 0
	wait := map[uint64]bool{}
	var out []Message
	for _, u := range g.order {
		wait[u] = true
		out = append(out, Message{To: u, Op: OpPrepareTransition, JSON: map[string]any{"protocol_version": 0, "transition_id": tid}})
	}
	g.waiting[tid] = wait
	g.resetGroup()
	return out
}

// Upgrade announces that a new group is created for protocol version 1
// (protocol.md "Upgrade from Transport-Only Encryption"); members answer
// with key packages.
func (g *Gateway) Upgrade() []Message {
	g.version = 1
	g.resetGroup()
	var out []Message
	for _, u := range g.order {
		out = append(out, Message{To: u, Op: OpPrepareEpoch, JSON: map[string]any{"protocol_version": 1, "epoch": 1}})
	}
	return out
}

// splitCommitWelcome splits an opcode 28 body into the commit MLSMessage
// and the optional Welcome that follows it without a length prefix.
func splitCommitWelcome(b []byte) (commit, welcome []byte, err error) {
	isCommit := func(x []byte) bool {
		var m mls.Message
		return m.Unmarshal(x) == nil && m.PublicMessage != nil && m.PublicMessage.Content.ContentType == mls.ContentCommit
	}
	if isCommit(b) {
		return b, nil, nil
	}
	for i := 4; i+1 < len(b); i++ {
		if b[i] != 0 || b[i+1] != byte(mls.SuiteP256) {
			continue
		}
		var w mls.Welcome
		if w.Unmarshal(b[i:]) == nil && isCommit(b[:i]) {
			return b[:i], b[i:], nil
		}
	}
	return nil, nil, errSplitCommitMsg
}
