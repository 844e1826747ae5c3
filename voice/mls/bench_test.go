package mls

import (
	"fmt"
	"testing"
)

// benchGroup builds a group of n members driven by an external sender.
func benchGroup(b *testing.B, n int) *testWorld {
	w, alice := newTestWorld(b, "m0")
	for i := 1; i < n; i++ {
		kp, err := NewKeyPackage([]byte(fmt.Sprintf("m%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		w.propose(b, alice.Epoch(), AddProposal(&kp.KeyPackage))
		c, wl, err := alice.CommitPendingProposals()
		if err != nil {
			b.Fatal(err)
		}
		w.deliver(b, c)
		w.join(b, fmt.Sprintf("m%d", i), kp, wl)
	}
	return w
}

// BenchmarkCommitAddWithWelcome: an 8-member group commits one Add with an
// UpdatePath and a Welcome (the committer's cost per membership change).
func BenchmarkCommitAddWithWelcome(b *testing.B) {
	w := benchGroup(b, 8)
	g := w.members["m0"]
	kp, _ := NewKeyPackage([]byte("new"))
	msg, _ := NewExternalProposal(w.groupID, g.Epoch(), 0, AddProposal(&kp.KeyPackage), w.extKey)
	if _, err := g.ProcessMessage(msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := g.CommitPendingProposals(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessCommit: a member of an 8-member group applies another
// member's path-only commit (state restored each round).
func BenchmarkProcessCommit(b *testing.B) {
	w := benchGroup(b, 8)
	c, _, err := w.members["m0"].CommitPendingProposals()
	if err != nil {
		b.Fatal(err)
	}
	g := w.members["m5"]
	saved := *g
	savedPriv := map[nodeIndex]*HPKEPrivateKey{}
	for k, v := range g.priv {
		savedPriv[k] = v
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		*g = saved
		g.priv = map[nodeIndex]*HPKEPrivateKey{}
		for k, v := range savedPriv {
			g.priv[k] = v
		}
		if _, err := g.ProcessMessage(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinFromWelcome: joining an 8-member group.
func BenchmarkJoinFromWelcome(b *testing.B) {
	w := benchGroup(b, 8)
	g := w.members["m0"]
	kp, _ := NewKeyPackage([]byte("new"))
	msg, _ := NewExternalProposal(w.groupID, g.Epoch(), 0, AddProposal(&kp.KeyPackage), w.extKey)
	if _, err := g.ProcessMessage(msg); err != nil {
		b.Fatal(err)
	}
	_, wl, err := g.CommitPendingProposals()
	if err != nil {
		b.Fatal(err)
	}
	enc := wl.Marshal()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := JoinFromWelcome(enc, kp, GroupOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExporter(b *testing.B) {
	_, g := newTestWorld(b, "alice")
	ctx := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Exporter("Discord Secure Frames v0", ctx, 16); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalKeyPackage(b *testing.B) {
	kp, _ := NewKeyPackage([]byte("bench"))
	enc := kp.KeyPackage.Marshal()
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		var k KeyPackage
		if err := k.Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}
