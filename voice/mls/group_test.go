package mls

import (
	"bytes"
	"errors"
	"testing"
)

// testWorld is a group driven by an external sender, as in DAVE.
type testWorld struct {
	t       *testing.T
	extKey  *SignaturePrivateKey
	groupID []byte
	members map[string]*Group
}

func newTestWorld(t testing.TB, creator string) (*testWorld, *Group) {
	tt, _ := t.(*testing.T)
	ext, err := GenerateSignatureKey()
	if err != nil {
		t.Fatal(err)
	}
	w := &testWorld{t: tt, extKey: ext, groupID: []byte("channel-1234"), members: map[string]*Group{}}
	kp, err := NewKeyPackage([]byte(creator))
	if err != nil {
		t.Fatal(err)
	}
	g, err := CreateGroup(w.groupID, kp, GroupOptions{Extensions: []Extension{
		ExternalSendersExtension([]ExternalSender{{SignatureKey: ext.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte("gateway")}}}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.members[creator] = g
	return w, g
}

// propose sends an external proposal to every member and returns it.
func (w *testWorld) propose(t testing.TB, epoch uint64, p *Proposal) []byte {
	msg, err := NewExternalProposal(w.groupID, epoch, 0, p, w.extKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range w.members {
		res, err := g.ProcessMessage(msg)
		if err != nil {
			t.Fatalf("%s: proposal: %v", name, err)
		}
		if res.Proposal == nil {
			t.Fatalf("%s: proposal not queued", name)
		}
	}
	return msg
}

// deliver processes a commit at every member except skip, plus the committer's echo.
func (w *testWorld) deliver(t testing.TB, commit []byte, skip ...string) {
	for name, g := range w.members {
		if contains(skip, name) {
			continue
		}
		if _, err := g.ProcessMessage(commit); err != nil {
			t.Fatalf("%s: commit: %v", name, err)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// agree checks that all members share epoch, authenticator, exporter and tree.
func (w *testWorld) agree(t testing.TB) {
	t.Helper()
	var ref *Group
	var refName string
	for name, g := range w.members {
		if ref == nil {
			ref, refName = g, name
			continue
		}
		if g.Epoch() != ref.Epoch() {
			t.Fatalf("%s epoch %d, %s epoch %d", name, g.Epoch(), refName, ref.Epoch())
		}
		if !bytes.Equal(g.EpochAuthenticator(), ref.EpochAuthenticator()) {
			t.Fatalf("%s and %s disagree on the epoch authenticator", name, refName)
		}
		a, _ := g.Exporter("Discord Secure Frames v0", []byte{1, 2}, 16)
		b, _ := ref.Exporter("Discord Secure Frames v0", []byte{1, 2}, 16)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s and %s disagree on the exporter", name, refName)
		}
		if !bytes.Equal(g.Tree().Marshal(), ref.Tree().Marshal()) {
			t.Fatalf("%s and %s disagree on the tree", name, refName)
		}
	}
	if len(ref.Members()) != len(w.members) {
		t.Fatalf("%d members in tree, %d in world", len(ref.Members()), len(w.members))
	}
}

// join joins from the Welcome, alternating the bare and the MLSMessage encoding.
func (w *testWorld) join(t testing.TB, name string, kp *KeyPackageBundle, welcome *Welcome) {
	b := welcome.Marshal()
	if len(w.members)%2 == 1 {
		b = (&Message{Version: ProtocolMLS10, WireFormat: WireFormatWelcome, Welcome: welcome}).Marshal()
	}
	g, err := JoinFromWelcome(b, kp, GroupOptions{})
	if err != nil {
		t.Fatalf("%s: join: %v", name, err)
	}
	w.members[name] = g
}

func TestGroupLifecycleWithExternalSender(t *testing.T) {
	w, alice := newTestWorld(t, "alice")
	bobKP, _ := NewKeyPackage([]byte("bob"))
	w.propose(t, alice.Epoch(), AddProposal(&bobKP.KeyPackage))
	commit, welcome, err := alice.CommitPendingProposals()
	if err != nil || welcome == nil {
		t.Fatalf("commit: %v (welcome %v)", err, welcome != nil)
	}
	if alice.Epoch() != 0 || !alice.HasPendingCommit() {
		t.Fatal("group advanced before its commit was confirmed")
	}
	w.deliver(t, commit) // alice merges her echoed commit
	if alice.Epoch() != 1 || alice.HasPendingCommit() {
		t.Fatal("own commit not merged when echoed")
	}
	w.join(t, "bob", bobKP, welcome)
	w.agree(t)

	// Two adds at once, committed by bob; alice follows.
	carolKP, _ := NewKeyPackage([]byte("carol"))
	daveKP, _ := NewKeyPackage([]byte("dave"))
	w.propose(t, bob(w).Epoch(), AddProposal(&carolKP.KeyPackage))
	w.propose(t, bob(w).Epoch(), AddProposal(&daveKP.KeyPackage))
	commit, welcome, err = bob(w).CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, commit)
	w.join(t, "carol", carolKP, welcome)
	w.join(t, "dave", daveKP, welcome)
	w.agree(t)
	if got := w.members["carol"].Members(); string(got[2].Identity) != "carol" || string(got[3].Identity) != "dave" {
		t.Fatalf("members = %+v", got)
	}

	// Remove bob; carol commits; bob learns he is out.
	w.propose(t, alice.Epoch(), RemoveProposal(1))
	commit, welcome, err = w.members["carol"].CommitPendingProposals()
	if err != nil || welcome != nil {
		t.Fatalf("commit: %v, welcome %v", err, welcome != nil)
	}
	if _, err := bob(w).ProcessMessage(commit); !errors.Is(err, ErrRemoved) {
		t.Fatalf("bob: got %v want ErrRemoved", err)
	}
	delete(w.members, "bob")
	w.deliver(t, commit)
	w.agree(t)

	// Remove the last leaf (3): leaf 2 is still occupied, so no truncation.
	w.propose(t, alice.Epoch(), RemoveProposal(3))
	commit, _, err = alice.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.members["dave"].ProcessMessage(commit); !errors.Is(err, ErrRemoved) {
		t.Fatalf("dave: %v", err)
	}
	delete(w.members, "dave")
	w.deliver(t, commit)
	w.agree(t)
	if n := alice.Tree().LeafCount(); n != 4 {
		t.Fatalf("leaf slots = %d, want 4 (leaf 2 still occupied)", n)
	}
	// A new member fills the leftmost blank leaf (bob's old slot 1).
	eveKP, _ := NewKeyPackage([]byte("eve"))
	w.propose(t, alice.Epoch(), AddProposal(&eveKP.KeyPackage))
	commit, welcome, err = w.members["carol"].CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, commit)
	w.join(t, "eve", eveKP, welcome)
	w.agree(t)
	if w.members["eve"].LeafIndex() != 1 {
		t.Fatalf("eve at leaf %d, want 1", w.members["eve"].LeafIndex())
	}
	// Remove carol (leaf 2) and eve (1): the tree truncates to one leaf.
	w.propose(t, alice.Epoch(), RemoveProposal(2))
	w.propose(t, alice.Epoch(), RemoveProposal(1))
	commit, _, err = alice.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	delete(w.members, "carol")
	delete(w.members, "eve")
	w.deliver(t, commit)
	if n := alice.Tree().LeafCount(); n != 1 {
		t.Fatalf("after removing all but leaf 0: %d leaf slots", n)
	}
}

func bob(w *testWorld) *Group { return w.members["bob"] }

func TestEmptyCommitAndLostRace(t *testing.T) {
	w, alice := newTestWorld(t, "alice")
	bobKP, _ := NewKeyPackage([]byte("bob"))
	w.propose(t, 0, AddProposal(&bobKP.KeyPackage))
	c, wl, err := alice.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, c)
	w.join(t, "bob", bobKP, wl)
	// Both commit (path-only); the delivery service orders bob's first.
	ca, _, err := alice.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	cb, _, err := bob(w).CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, cb)
	w.agree(t)
	if _, err := bob(w).ProcessMessage(ca); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("stale commit: %v", err)
	}
}

func TestRejections(t *testing.T) {
	w, alice := newTestWorld(t, "alice")
	bobKP, _ := NewKeyPackage([]byte("bob"))
	// A proposal signed by someone who is not the external sender.
	other, _ := GenerateSignatureKey()
	forged, _ := NewExternalProposal(w.groupID, 0, 0, AddProposal(&bobKP.KeyPackage), other)
	if _, err := alice.ProcessMessage(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged proposal: %v", err)
	}
	// Unknown external sender index, wrong epoch, wrong group.
	bad, _ := NewExternalProposal(w.groupID, 0, 1, AddProposal(&bobKP.KeyPackage), w.extKey)
	if _, err := alice.ProcessMessage(bad); !errors.Is(err, ErrUnknownSender) {
		t.Fatalf("sender index 1: %v", err)
	}
	bad, _ = NewExternalProposal(w.groupID, 5, 0, AddProposal(&bobKP.KeyPackage), w.extKey)
	if _, err := alice.ProcessMessage(bad); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("epoch 5: %v", err)
	}
	bad, _ = NewExternalProposal([]byte("other"), 0, 0, AddProposal(&bobKP.KeyPackage), w.extKey)
	if _, err := alice.ProcessMessage(bad); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("other group: %v", err)
	}
	// A key package whose signature was tampered with.
	tampered := bobKP.KeyPackage
	tampered.Signature = append([]byte(nil), tampered.Signature...)
	tampered.Signature[len(tampered.Signature)-1] ^= 1
	bad, _ = NewExternalProposal(w.groupID, 0, 0, AddProposal(&tampered), w.extKey)
	if _, err := alice.ProcessMessage(bad); err == nil {
		t.Fatal("tampered key package accepted")
	}
	// Adding the same key package twice fails at commit time.
	w.propose(t, 0, AddProposal(&bobKP.KeyPackage))
	w.propose(t, 0, AddProposal(&bobKP.KeyPackage))
	if _, _, err := alice.CommitPendingProposals(); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("duplicate add: %v", err)
	}
	for len(alice.PendingProposals()) > 0 {
		alice.RemovePendingProposal(alice.PendingProposals()[0].Ref)
	}
	// Revoking a proposal leaves it out of the commit.
	msg := w.propose(t, 0, AddProposal(&bobKP.KeyPackage))
	ref, err := ProposalRefOf(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !alice.RemovePendingProposal(ref) || len(alice.PendingProposals()) != 0 {
		t.Fatal("revoke did not remove the proposal")
	}
	// Commits from alice with a flipped membership tag or confirmation tag are rejected by bob.
	w.propose(t, 0, AddProposal(&bobKP.KeyPackage))
	c, wl, _ := alice.CommitPendingProposals()
	w.deliver(t, c)
	w.join(t, "bob", bobKP, wl)
	c, _, _ = alice.CommitPendingProposals()
	for _, field := range []string{"membership", "confirmation", "signature"} {
		var m Message
		if err := m.Unmarshal(c); err != nil {
			t.Fatal(err)
		}
		var p *[]byte
		switch field {
		case "membership":
			p = &m.PublicMessage.MembershipTag
		case "confirmation":
			p = &m.PublicMessage.Auth.ConfirmationTag
		default:
			p = &m.PublicMessage.Auth.Signature
		}
		(*p)[len(*p)-1] ^= 1
		if _, err := bob(w).ProcessMessage(m.Marshal()); err == nil {
			t.Fatalf("commit with a bad %s accepted", field)
		}
	}
	if _, err := bob(w).ProcessMessage(c); err != nil {
		t.Fatalf("intact commit after rejected copies: %v", err)
	}
	if _, err := alice.ProcessMessage(c); err != nil {
		t.Fatal(err)
	}
	w.agree(t)
	if _, err := JoinFromWelcome(wl.Marshal(), bobKP, GroupOptions{}); err != nil {
		t.Fatalf("a welcome can be opened again: %v", err)
	}
	stranger, _ := NewKeyPackage([]byte("stranger"))
	if _, err := JoinFromWelcome(wl.Marshal(), stranger, GroupOptions{}); !errors.Is(err, ErrNotForUs) {
		t.Fatalf("welcome for someone else: %v", err)
	}
	// A commit naming a proposal bob never saw.
	hidden, _ := NewExternalProposal(w.groupID, alice.Epoch(), 0, AddProposal(&stranger.KeyPackage), w.extKey)
	if _, err := alice.ProcessMessage(hidden); err != nil {
		t.Fatal(err)
	}
	c, _, err = alice.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob(w).ProcessMessage(c); !errors.Is(err, ErrUnknownProposal) {
		t.Fatalf("commit with an unknown reference: %v", err)
	}
}
