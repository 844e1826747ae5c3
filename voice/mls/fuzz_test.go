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

func FuzzRatchetTree(f *testing.F) {
	fuzzRoundTrip(f, func() wireStruct { return new(RatchetTree) }, testRatchetTree(f), []byte{1, 0})
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
