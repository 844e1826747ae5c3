package dave

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/mls"
)

// captured is ../shared/testdata/dave/discord-captured.json: opcode payloads
// from a real Discord voice session.
type captured struct {
	ChannelID      string `json:"channel_id"`
	OwnUserID      string `json:"own_user_id"`
	AddedUserID    string `json:"added_user_id"`
	ExternalSender string `json:"external_sender_op25_payload_hex"`
	Appending      string `json:"appending_proposals_op27_vector_hex"`
	Revoking       string `json:"revoking_proposals_op27_vector_hex"`
	Silence        string `json:"silence_frame_hex"`
}

func loadCaptured(t *testing.T) (c captured, own, channel, added uint64) {
	t.Helper()
	b, err := os.ReadFile(testenv.SharedData(t, "dave", "discord-captured.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	p := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return c, p(c.OwnUserID), p(c.ChannelID), p(c.AddedUserID)
}

// sink records what a session sends.
type sink struct{ msgs []clientMsg }

func (s *sink) SendJSON(_ context.Context, op int, d any) error {
	b, err := json.Marshal(d)
	s.msgs = append(s.msgs, clientMsg{op: op, body: b})
	return err
}

func (s *sink) SendBinary(_ context.Context, op byte, p []byte) error {
	s.msgs = append(s.msgs, clientMsg{op: int(op), body: bytes.Clone(p)})
	return nil
}

func (s *sink) last(op int) []byte {
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if s.msgs[i].op == op {
			return s.msgs[i].body
		}
	}
	return nil
}

// TestCapturedDiscordSession feeds a Session the payloads Discord's gateway
// sent in a real call: it takes the external sender, verifies the proposal's
// signature against it, accepts the KeyPackage made by Discord's client,
// answers with a commit and a Welcome for that key package, and the revoke
// payload withdraws the proposal so nothing is committed.
func TestCapturedDiscordSession(t *testing.T) {
	c, own, channel, added := loadCaptured(t)
	ctx := context.Background()
	es, app, rev := unhex(t, c.ExternalSender), unhex(t, c.Appending), unhex(t, c.Revoking)

	start := func() (*Session, *sink) {
		s := NewSession(Config{UserID: own, ChannelID: channel})
		tx := &sink{}
		if err := s.Start(ctx, tx, 1); err != nil {
			t.Fatal(err)
		}
		var kp mls.KeyPackage
		if err := kp.Unmarshal(tx.last(OpKeyPackage)); err != nil || kp.Verify() != nil {
			t.Fatalf("our key package: %v", err)
		}
		if err := s.Handle(ctx, tx, OpExternalSender, true, es); err != nil {
			t.Fatalf("captured external sender: %v", err)
		}
		return s, tx
	}

	// The proposal adds a user the gateway has not announced yet: refused.
	s, tx := start()
	if err := s.Handle(ctx, tx, OpProposals, true, append([]byte{0}, app...)); !errors.Is(err, errUnknownUser) {
		t.Fatalf("add for an unannounced user: %v", err)
	}
	announce := []byte(`{"user_ids":["` + c.AddedUserID + `"]}`)

	// A proposal whose signature is broken is refused.
	s, tx = start()
	_ = s.Handle(ctx, tx, OpClientsConnect, false, announce)
	bad := bytes.Clone(app)
	bad[len(bad)-10] ^= 1
	if err := s.Handle(ctx, tx, OpProposals, true, append([]byte{0}, bad...)); err == nil {
		t.Fatal("a proposal with a corrupted signature was accepted")
	}

	s, tx = start()
	_ = s.Handle(ctx, tx, OpClientsConnect, false, announce)
	if err := s.Handle(ctx, tx, OpProposals, true, append([]byte{0}, app...)); err != nil {
		t.Fatalf("captured proposals: %v", err)
	}
	cw := tx.last(OpCommitWelcome)
	if cw == nil {
		t.Fatal("no commit/welcome (op 28) sent")
	}
	// The key package inside the proposal is Discord's client's: it verifies.
	msgs, _ := mls.UnmarshalMessages(app)
	var pm mls.Message
	if err := pm.Unmarshal(msgs[0]); err != nil {
		t.Fatal(err)
	}
	theirs := pm.PublicMessage.Content.Proposal.KeyPackage
	if err := theirs.Verify(); err != nil {
		t.Fatalf("Discord client's key package: %v", err)
	}
	if got := binary.BigEndian.Uint64(theirs.LeafNode.Credential.Identity); got != added {
		t.Fatalf("key package of user %d, want %d", got, added)
	}
	// Our op 28: a commit of the proposal by reference, and a Welcome for it.
	var commit mls.Message
	var welcome mls.Welcome
	found := false
	for i := 4; i < len(cw) && !found; i++ {
		if commit.Unmarshal(cw[:i]) == nil && welcome.Unmarshal(cw[i:]) == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("op 28 is not commit || welcome: %s", hex.EncodeToString(cw[:16]))
	}
	ref, _ := mls.ProposalRefOf(msgs[0])
	refs, _ := mls.UnmarshalRefs(rev)
	if !bytes.Equal(ref, refs[0]) {
		t.Fatal("the revoke payload names another proposal")
	}
	cp := commit.PublicMessage.Content.Commit.Proposals
	if len(cp) != 1 || !bytes.Equal(cp[0].Reference, ref) {
		t.Fatal("the commit does not reference the captured proposal")
	}
	if len(welcome.Secrets) != 1 || !bytes.Equal(welcome.Secrets[0].NewMember, theirs.Ref()) {
		t.Fatal("the welcome is not addressed to the Discord client's key package")
	}
	// The gateway echoes our commit: the group is established with both users.
	ann := (&Transition{ID: 3, Data: commit.Marshal()}).Marshal()
	if err := s.Handle(ctx, tx, OpAnnounceCommit, true, ann); err != nil {
		t.Fatal(err)
	}
	if s.Epoch() != 1 || len(s.Members()) != 2 || len(s.VoicePrivacyCode()) != 30 {
		t.Fatalf("after our commit: epoch %d, members %v", s.Epoch(), s.Members())
	}
	if !bytes.Contains(tx.last(OpReadyForTransition), []byte(`"transition_id":3`)) {
		t.Fatal("no ready_for_transition (op 23) for transition 3")
	}
	if s.Encrypting() {
		t.Fatal("encrypting before the transition executed")
	}
	_ = s.Handle(ctx, tx, OpExecuteTransition, false, []byte(`{"transition_id":3}`))
	if !s.Encrypting() {
		t.Fatal("not encrypting after the transition executed")
	}
	sil := unhex(t, c.Silence)
	if out, _ := s.EncryptFrame(nil, sil); !bytes.Equal(out, sil) {
		t.Fatal("the silence frame was encrypted")
	}

	// An unacceptable commit (a proposal by value, and unsigned) is reported
	// with op 31, and the session starts over with a new key package.
	inline := mls.Message{Version: mls.ProtocolMLS10, WireFormat: mls.WireFormatPublicMessage, PublicMessage: &mls.PublicMessage{
		Content: mls.FramedContent{GroupID: binary.BigEndian.AppendUint64(nil, channel), Epoch: 1,
			Sender: mls.Sender{Type: mls.SenderMember, Index: 1}, ContentType: mls.ContentCommit,
			Commit: &mls.Commit{Proposals: []mls.ProposalOrRef{{Proposal: mls.RemoveProposal(0)}}}},
		Auth:          mls.FramedContentAuthData{Signature: []byte{1}, ConfirmationTag: make([]byte, 32)},
		MembershipTag: make([]byte, 32),
	}}
	n0 := len(tx.msgs)
	_ = s.Handle(ctx, tx, OpAnnounceCommit, true, (&Transition{ID: 4, Data: inline.Marshal()}).Marshal())
	if len(tx.msgs) < n0+2 || tx.msgs[n0].op != OpInvalidCommitWelcome || tx.msgs[n0+1].op != OpKeyPackage || s.Epoch() != 0 {
		t.Fatalf("inline-proposal commit: sent %d messages, epoch %d", len(tx.msgs)-n0, s.Epoch())
	}

	// A new voice session (Start) drops the old group's keys: frames pass
	// through until the new group's first transition.
	if !s.Encrypting() {
		t.Fatal("an invalid commit stopped the current epoch's encryption")
	}
	if err := s.Start(ctx, tx, 1); err != nil || s.Encrypting() || tx.msgs[len(tx.msgs)-1].op != OpKeyPackage {
		t.Fatalf("new session: %v, still encrypting %v", err, s.Encrypting())
	}

	// Revoke: the proposal is withdrawn and nothing is left to commit.
	s, tx = start()
	_ = s.Handle(ctx, tx, OpClientsConnect, false, announce)
	_ = s.Handle(ctx, tx, OpProposals, true, append([]byte{0}, app...))
	n := len(tx.msgs)
	if err := s.Handle(ctx, tx, OpProposals, true, append([]byte{1}, rev...)); err != nil {
		t.Fatalf("captured revoke: %v", err)
	}
	if len(tx.msgs) != n || len(s.group.PendingProposals()) != 0 || s.group.HasPendingCommit() {
		t.Fatal("the revoked proposal is still pending or was committed")
	}
}
