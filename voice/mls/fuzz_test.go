package mls

import (
	"bytes"
	"testing"
)

// Each fuzz target decodes arbitrary bytes; whatever decodes must re-encode
// to the same bytes (the codec accepts only canonical encodings).

type wireStruct interface {
	Marshal() []byte
	Unmarshal([]byte) error
}

func fuzzRoundTrip(f *testing.F, mk func() wireStruct, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := mk()
		if err := v.Unmarshal(b); err != nil {
			return
		}
		if got := v.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, got)
		}
	})
}

func seedKeyPackage(f *testing.F) []byte {
	kp, err := NewKeyPackage([]byte("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	return kp.KeyPackage.Marshal()
}

func FuzzKeyPackage(f *testing.F) {
	fuzzRoundTrip(f, func() wireStruct { return new(KeyPackage) }, seedKeyPackage(f), []byte{0, 1, 0, 2})
}

func FuzzMessage(f *testing.F) {
	seeds := append([][]byte{{0, 1, 0, 1}, {0, 1, 0, 5}}, testGroupMessages(f)...)
	fuzzRoundTrip(f, func() wireStruct { return new(Message) }, seeds...)
}

func FuzzWelcome(f *testing.F) {
	var seeds [][]byte
	for _, s := range testGroupMessages(f) {
		if len(s) > 4 && s[3] == byte(WireFormatWelcome) {
			seeds = append(seeds, s[4:])
		}
	}
	fuzzRoundTrip(f, func() wireStruct { return new(Welcome) }, seeds...)
}

func FuzzGroupInfo(f *testing.F) {
	fuzzRoundTrip(f, func() wireStruct { return new(GroupInfo) }, testGroupInfo(f))
}

// FuzzRatchetTree also runs the tree algorithms a joiner applies to a
// received tree: hashes, parent-hash and leaf checks, resolutions, filtered
// direct paths, and adding and removing leaves.
func FuzzRatchetTree(f *testing.F) {
	f.Add(testRatchetTree(f))
	f.Add([]byte{1, 0})
	kp, err := NewKeyPackage([]byte("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tree RatchetTree
		if tree.Unmarshal(b) != nil {
			return
		}
		if got := tree.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs")
		}
		tree.TreeHash()
		_ = tree.verifyParentHashes()
		_ = tree.verifyLeaves([]byte("g"))
		for x := range tree.nodes {
			tree.resolution(nodeIndex(x))
		}
		for i := uint32(0); i < tree.leafCount(); i++ {
			tree.filteredDirectPath(LeafIndex(i))
		}
		c := tree.clone()
		leaf := kp.KeyPackage.LeafNode
		if _, err := c.addLeaf(&leaf); err != nil && c.leafCount() < maxTreeLeaves {
			t.Fatal(err)
		}
		for i := uint32(0); i < c.leafCount(); i++ {
			if c.Leaf(LeafIndex(i)) != nil && c.leafCount() > 1 {
				_ = c.removeLeaf(LeafIndex(i))
				break
			}
		}
		c.TreeHash()
	})
}

// testGroupMessages returns encoded MLSMessages of a small group's life: a
// proposal, a commit and a welcome.
func testGroupMessages(tb testing.TB) [][]byte {
	w, alice := newTestWorld(tb, "alice")
	bobKP, err := NewKeyPackage([]byte("bob"))
	if err != nil {
		tb.Fatal(err)
	}
	prop := w.propose(tb, 0, AddProposal(&bobKP.KeyPackage))
	commit, welcome, err := alice.CommitPendingProposals()
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{prop, commit, (&Message{Version: ProtocolMLS10, WireFormat: WireFormatWelcome, Welcome: welcome}).Marshal()}
}

func testGroupInfo(tb testing.TB) []byte {
	_, alice := newTestWorld(tb, "carol")
	gi := &GroupInfo{GroupContext: alice.Context(), ConfirmationTag: make([]byte, 32), Extensions: []Extension{{Type: ExtRatchetTree, Data: alice.Tree().Marshal()}}, Signature: []byte{1}}
	return gi.Marshal()
}

func testRatchetTree(tb testing.TB) []byte {
	w, alice := newTestWorld(tb, "alice")
	bobKP, _ := NewKeyPackage([]byte("bob"))
	w.propose(tb, 0, AddProposal(&bobKP.KeyPackage))
	commit, _, err := alice.CommitPendingProposals()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := alice.ProcessMessage(commit); err != nil {
		tb.Fatal(err)
	}
	return alice.Tree().Marshal()
}

// FuzzProcessCommit reaches the commit logic past the signature checks: the
// fuzzed bytes are a Commit body that a real member frames, signs and tags,
// so the receiver runs proposal resolution, tree updates and path
// decryption on arbitrary content. It must fail cleanly, never panic.
func FuzzProcessCommit(f *testing.F) {
	w, alice := newTestWorld(f, "alice")
	bobKP, err := NewKeyPackage([]byte("bob"))
	if err != nil {
		f.Fatal(err)
	}
	w.propose(f, 0, AddProposal(&bobKP.KeyPackage))
	c, wl, err := alice.CommitPendingProposals()
	if err != nil {
		f.Fatal(err)
	}
	w.deliver(f, c)
	w.join(f, "bob", bobKP, wl)
	carolKP, _ := NewKeyPackage([]byte("carol"))
	for _, p := range []*Proposal{AddProposal(&carolKP.KeyPackage), RemoveProposal(1), nil} {
		var refs []ProposalOrRef
		if p != nil {
			refs = []ProposalOrRef{{Proposal: p}}
		}
		msg, _, err := alice.commit(refs)
		if err != nil {
			f.Fatal(err)
		}
		var m Message
		if err := m.Unmarshal(msg); err != nil {
			f.Fatal(err)
		}
		f.Add(m.PublicMessage.Content.Commit.Marshal())
	}
	alice.ClearPendingCommit()
	bobState := *bob(w)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Commit
		if c.Unmarshal(b) != nil {
			return
		}
		pm := &PublicMessage{Content: FramedContent{GroupID: alice.ctx.GroupID, Epoch: alice.ctx.Epoch,
			Sender: Sender{Type: SenderMember, Index: uint32(alice.self)}, AuthenticatedData: []byte{},
			ContentType: ContentCommit, Commit: &c}}
		sig, err := SignWithLabel(alice.sigKey, "FramedContentTBS", framedContentTBS(WireFormatPublicMessage, &pm.Content, &alice.ctx))
		if err != nil {
			t.Fatal(err)
		}
		pm.Auth = FramedContentAuthData{Signature: sig, ConfirmationTag: make([]byte, hashSize)}
		pm.MembershipTag = membershipTag(alice.secrets.membership, pm, &alice.ctx)
		g := bobState // shallow copy; a failed commit leaves the state untouched
		if _, err := g.ProcessPublicMessage(pm); err == nil {
			t.Fatal("commit with a zero confirmation tag accepted")
		}
	})
}

func FuzzUnmarshalMessages(f *testing.F) {
	f.Add(MarshalMessages(testGroupMessages(f)))
	f.Add(MarshalRefs([][]byte{make([]byte, 32)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if msgs, err := UnmarshalMessages(b); err == nil && !bytes.Equal(MarshalMessages(msgs), b) {
			t.Fatal("message vector re-encoding differs")
		}
		if refs, err := UnmarshalRefs(b); err == nil && !bytes.Equal(MarshalRefs(refs), b) {
			t.Fatal("ref vector re-encoding differs")
		}
		var es ExternalSender
		if es.Unmarshal(b) == nil && !bytes.Equal(es.Marshal(), b) {
			t.Fatal("external sender re-encoding differs")
		}
	})
}

// FuzzExternalView feeds arbitrary messages to an external view that knows
// a real proposal, so mutated commits reach proposal resolution and path merging.
func FuzzExternalView(f *testing.F) {
	w, alice := newTestWorld(f, "alice")
	bobKP, err := NewKeyPackage([]byte("bob"))
	if err != nil {
		f.Fatal(err)
	}
	prop := w.propose(f, 0, AddProposal(&bobKP.KeyPackage))
	commit, _, err := alice.CommitPendingProposals()
	if err != nil {
		f.Fatal(err)
	}
	base := NewExternalView(w.groupID, &KeyPackage{LeafNode: *alice.Tree().Leaf(0)}, alice.Context().Extensions)
	if _, err := base.AddProposal(prop); err != nil {
		f.Fatal(err)
	}
	f.Add(prop)
	f.Add(commit)
	f.Fuzz(func(t *testing.T, b []byte) {
		v := &ExternalView{g: &Group{tree: base.g.tree, ctx: base.g.ctx, proposals: base.g.proposals}}
		_, _ = v.ApplyCommit(b)
		v = &ExternalView{g: &Group{tree: base.g.tree, ctx: base.g.ctx}}
		_, _ = v.AddProposal(b)
	})
}

// FuzzProcessMessage feeds arbitrary bytes to a member and a joiner.
func FuzzProcessMessage(f *testing.F) {
	w, alice := newTestWorld(f, "alice")
	bobKP, err := NewKeyPackage([]byte("bob"))
	if err != nil {
		f.Fatal(err)
	}
	prop := w.propose(f, 0, AddProposal(&bobKP.KeyPackage))
	commit, welcome, err := alice.CommitPendingProposals()
	if err != nil {
		f.Fatal(err)
	}
	alice.ClearPendingCommit()
	f.Add(prop)
	f.Add(commit)
	f.Add(welcome.Marshal())
	state := *alice
	f.Fuzz(func(t *testing.T, b []byte) {
		g := state
		g.proposals = append([]*PendingProposal(nil), state.proposals...)
		if res, err := g.ProcessMessage(b); err == nil && res.Commit != nil {
			t.Fatal("a commit was applied without its committer's keys")
		}
		_, _ = JoinFromWelcome(b, bobKP, GroupOptions{})
	})
}
