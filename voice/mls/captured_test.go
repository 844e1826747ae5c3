package mls

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

// TestCapturedDiscordProposals runs the MLS layer on payloads captured from
// a real Discord voice session: the external sender parses, the Add
// proposal's signature verifies against it, the key package made by
// Discord's client validates, committing yields a Welcome, and the revoke
// payload names the proposal's reference.
func TestCapturedDiscordProposals(t *testing.T) {
	p := filepath.Join(testenv.SharedData(t, "dave"), "discord-captured.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ChannelID      string   `json:"channel_id"`
		OwnUserID      string   `json:"own_user_id"`
		AddedUserID    string   `json:"added_user_id"`
		ExternalSender hexBytes `json:"external_sender_op25_payload_hex"`
		Appending      hexBytes `json:"appending_proposals_op27_vector_hex"`
		Revoking       hexBytes `json:"revoking_proposals_op27_vector_hex"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	id := func(s string) []byte {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.AppendUint64(nil, n)
	}
	var es ExternalSender
	if err := es.Unmarshal(c.ExternalSender); err != nil {
		t.Fatalf("external sender: %v", err)
	}
	if !bytes.Equal(es.Marshal(), c.ExternalSender) {
		t.Fatal("external sender re-encoding differs")
	}
	proposals, err := UnmarshalMessages(c.Appending)
	if err != nil || len(proposals) != 1 {
		t.Fatalf("appending proposals: %v (%d)", err, len(proposals))
	}
	if !bytes.Equal(MarshalMessages(proposals), c.Appending) {
		t.Fatal("proposal vector re-encoding differs")
	}
	refs, err := UnmarshalRefs(c.Revoking)
	if err != nil || len(refs) != 1 || !bytes.Equal(MarshalRefs(refs), c.Revoking) {
		t.Fatalf("revoking refs: %v", err)
	}

	kp, err := NewKeyPackage(id(c.OwnUserID))
	if err != nil {
		t.Fatal(err)
	}
	g, err := CreateGroup(id(c.ChannelID), kp, GroupOptions{Extensions: []Extension{ExternalSendersExtension([]ExternalSender{es})}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.ProcessMessage(proposals[0])
	if err != nil {
		t.Fatalf("captured proposal: %v", err)
	}
	pr := res.Proposal
	if pr.Proposal.Type != ProposalAdd || !bytes.Equal(pr.Proposal.KeyPackage.LeafNode.Credential.Identity, id(c.AddedUserID)) {
		t.Fatalf("proposal adds %x, want user %s", pr.Proposal.KeyPackage.LeafNode.Credential.Identity, c.AddedUserID)
	}
	if !bytes.Equal(pr.Ref, refs[0]) {
		t.Fatalf("proposal ref %x, revoke names %s", pr.Ref, hex.EncodeToString(refs[0]))
	}
	commit, welcome, err := g.CommitPendingProposals()
	if err != nil || welcome == nil {
		t.Fatalf("commit: %v, welcome %v", err, welcome != nil)
	}
	if len(welcome.Secrets) != 1 || !bytes.Equal(welcome.Secrets[0].NewMember, pr.Proposal.KeyPackage.Ref()) {
		t.Fatal("welcome does not address the added key package")
	}
	if _, err := g.ProcessMessage(commit); err != nil || g.Epoch() != 1 || len(g.Members()) != 2 {
		t.Fatalf("merging own commit: %v (epoch %d)", err, g.Epoch())
	}
	// Revoke: a fresh group state with the proposal revoked commits nothing.
	g2, _ := CreateGroup(id(c.ChannelID), kp, GroupOptions{Extensions: []Extension{ExternalSendersExtension([]ExternalSender{es})}})
	if _, err := g2.ProcessMessage(proposals[0]); err != nil {
		t.Fatal(err)
	}
	if !g2.RemovePendingProposal(refs[0]) || len(g2.PendingProposals()) != 0 {
		t.Fatal("revoke did not remove the proposal")
	}
}
