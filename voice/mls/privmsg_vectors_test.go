package mls

import (
	"bytes"
	"crypto/hmac"
	"testing"
)

// TestVectorsMessageProtection checks PublicMessage and PrivateMessage
// protection: the vectors' messages unprotect to the given contents with
// valid signatures and membership tags, and contents this package protects
// unprotect again. The group has two leaves; the sender is leaf 1.
func TestVectorsMessageProtection(t *testing.T) {
	var vs []struct {
		CipherSuite      CipherSuite `json:"cipher_suite"`
		GroupID          hexBytes    `json:"group_id"`
		Epoch            uint64      `json:"epoch"`
		TreeHash         hexBytes    `json:"tree_hash"`
		Confirmed        hexBytes    `json:"confirmed_transcript_hash"`
		SignaturePriv    hexBytes    `json:"signature_priv"`
		SignaturePub     hexBytes    `json:"signature_pub"`
		EncryptionSecret hexBytes    `json:"encryption_secret"`
		SenderDataSecret hexBytes    `json:"sender_data_secret"`
		MembershipKey    hexBytes    `json:"membership_key"`
		Proposal         hexBytes    `json:"proposal"`
		ProposalPriv     hexBytes    `json:"proposal_priv"`
		ProposalPub      hexBytes    `json:"proposal_pub"`
		Commit           hexBytes    `json:"commit"`
		CommitPriv       hexBytes    `json:"commit_priv"`
		CommitPub        hexBytes    `json:"commit_pub"`
		Application      hexBytes    `json:"application"`
		ApplicationPriv  hexBytes    `json:"application_priv"`
	}
	loadVectors(t, "message-protection.json", &vs)
	tally := newTally(t, "message-protection.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		gc := &GroupContext{Version: ProtocolMLS10, CipherSuite: SuiteP256, GroupID: v.GroupID, Epoch: v.Epoch,
			TreeHash: v.TreeHash, ConfirmedTranscriptHash: v.Confirmed}
		keys := &messageKeys{senderDataSecret: v.SenderDataSecret, encryptionSecret: v.EncryptionSecret, leafCount: 2}
		sig, err := ParseSignaturePrivateKey(v.SignaturePriv)
		if err != nil {
			t.Fatal(err)
		}
		body := func(c *FramedContent) []byte {
			switch c.ContentType {
			case ContentProposal:
				return c.Proposal.Marshal()
			case ContentCommit:
				return c.Commit.Marshal()
			}
			return c.ApplicationData
		}
		checkPriv := func(name string, msg, want []byte) *FramedContent {
			var m Message
			if err := m.Unmarshal(msg); err != nil || m.PrivateMessage == nil {
				t.Fatalf("%d %s: %v", i, name, err)
			}
			c, auth, err := decryptPrivateMessage(keys, m.PrivateMessage)
			if err != nil {
				t.Fatalf("%d %s: decrypt: %v", i, name, err)
			}
			if !bytes.Equal(body(c), want) {
				t.Fatalf("%d %s: content differs", i, name)
			}
			if err := VerifyWithLabel(v.SignaturePub, "FramedContentTBS", framedContentTBS(WireFormatPrivateMessage, c, gc), auth.Signature); err != nil {
				t.Fatalf("%d %s: signature: %v", i, name, err)
			}
			// Protect it again ourselves and unprotect.
			pm, err := encryptPrivateMessage(keys, c, gc, sig, auth.ConfirmationTag, 3)
			if err != nil {
				t.Fatal(err)
			}
			c2, _, err := decryptPrivateMessage(keys, pm)
			if err != nil || !bytes.Equal(body(c2), want) {
				t.Fatalf("%d %s: own round trip: %v", i, name, err)
			}
			return c
		}
		checkPub := func(name string, msg, want []byte) {
			var m Message
			if err := m.Unmarshal(msg); err != nil || m.PublicMessage == nil {
				t.Fatalf("%d %s: %v", i, name, err)
			}
			pm := m.PublicMessage
			if !bytes.Equal(body(&pm.Content), want) {
				t.Fatalf("%d %s: content differs", i, name)
			}
			if !hmac.Equal(membershipTag(v.MembershipKey, pm, gc), pm.MembershipTag) {
				t.Fatalf("%d %s: membership tag", i, name)
			}
			if err := VerifyWithLabel(v.SignaturePub, "FramedContentTBS", framedContentTBS(WireFormatPublicMessage, &pm.Content, gc), pm.Auth.Signature); err != nil {
				t.Fatalf("%d %s: signature: %v", i, name, err)
			}
		}
		checkPriv("proposal_priv", v.ProposalPriv, v.Proposal)
		checkPriv("commit_priv", v.CommitPriv, v.Commit)
		checkPriv("application_priv", v.ApplicationPriv, v.Application)
		checkPub("proposal_pub", v.ProposalPub, v.Proposal)
		checkPub("commit_pub", v.CommitPub, v.Commit)
		tally.passed++
	}
}
