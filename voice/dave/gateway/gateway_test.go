package gateway

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/quaverbot/quaver/voice/mls"
)

func id(u uint64) []byte { return binary.BigEndian.AppendUint64(nil, u) }

// TestKeyPackageValidation: the gateway refuses key packages that name
// another user, lack the full lifetime or carry a broken signature, as
// Discord's does (protocol.md "Validation").
func TestKeyPackageValidation(t *testing.T) {
	g, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	g.Join(10)
	good, _ := mls.NewKeyPackage(id(10))
	other, _ := mls.NewKeyPackage(id(11))
	o := mls.DefaultKeyPackageOptions(id(10))
	o.Lifetime = mls.Lifetime{NotBefore: 1, NotAfter: 1 << 40}
	short, _ := mls.NewKeyPackageWithOptions(o)
	broken := good.KeyPackage.Marshal()
	broken[len(broken)-5] ^= 1
	for name, body := range map[string][]byte{
		"other user": other.KeyPackage.Marshal(), "short lifetime": short.KeyPackage.Marshal(),
		"bad signature": broken, "garbage": {1, 2, 3},
	} {
		if _, err := g.KeyPackage(10, body); !errors.Is(err, errBadKeyPackage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := g.KeyPackage(99, good.KeyPackage.Marshal()); !errors.Is(err, errNotMember) {
		t.Errorf("unknown user: %v", err)
	}
	// The first user gets no proposals (nobody else is pending); the second
	// gets the first's add, and the first the second's.
	out, err := g.KeyPackage(10, good.KeyPackage.Marshal())
	if err != nil || len(out) != 0 {
		t.Fatalf("first key package: %v, %d messages", err, len(out))
	}
	g.Join(11)
	msg := mls.Message{Version: mls.ProtocolMLS10, WireFormat: mls.WireFormatKeyPackage, KeyPackage: &other.KeyPackage}
	out, err = g.KeyPackage(11, msg.Marshal()) // the whitepaper's MLSMessage form
	if err != nil || len(out) != 2 || out[0].To != 11 || out[1].To != 10 || out[0].Op != OpProposals {
		t.Fatalf("second key package: %v, %+v", err, out)
	}
}

// TestCommitSelection: the first valid commit of the epoch wins, a second
// one for the same epoch is refused, and a commit that skips a proposal in
// flight is refused.
func TestCommitSelection(t *testing.T) {
	g, _ := New(2)
	es := []mls.ExternalSender{{SignatureKey: g.sender.SignatureKey, Credential: g.sender.Credential}}
	kps := map[uint64]*mls.KeyPackageBundle{}
	groups := map[uint64]*mls.Group{}
	for _, u := range []uint64{10, 11} {
		g.Join(u)
		kps[u], _ = mls.NewKeyPackage(id(u))
		groups[u], _ = mls.CreateGroup(id(2), kps[u], mls.GroupOptions{Extensions: []mls.Extension{mls.ExternalSendersExtension(es)}})
	}
	var out []Message
	for _, u := range []uint64{10, 11} {
		o, err := g.KeyPackage(u, kps[u].KeyPackage.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o...)
	}
	commits := map[uint64][]byte{}
	for _, m := range out {
		msgs, _ := mls.UnmarshalMessages(m.Binary[1:])
		for _, p := range msgs {
			if _, err := groups[m.To].ProcessMessage(p); err != nil {
				t.Fatal(err)
			}
		}
		c, w, err := groups[m.To].CommitPendingProposals()
		if err != nil {
			t.Fatal(err)
		}
		commits[m.To] = append(c, w.Marshal()...)
	}
	if _, err := g.CommitWelcome(10, commits[10][:len(commits[10])-3]); err == nil {
		t.Fatal("a truncated commit_welcome was accepted")
	}
	res, err := g.CommitWelcome(11, commits[11])
	if err != nil || g.Epoch() != 1 || len(g.Members()) != 2 {
		t.Fatalf("first commit: %v (epoch %d)", err, g.Epoch())
	}
	var ops []int
	for _, m := range res {
		ops = append(ops, m.Op*100+int(m.To))
	}
	if len(res) != 2 || res[0].Op != OpAnnounceCommit || res[0].To != 11 || res[1].Op != OpWelcome || res[1].To != 10 {
		t.Fatalf("relayed %v", ops)
	}
	if _, err := g.CommitWelcome(10, commits[10]); !errors.Is(err, errStaleCommit) {
		t.Fatalf("losing commit: %v", err)
	}
	// Readiness: op 22 goes out once both members are ready.
	tid := binary.BigEndian.Uint16(res[0].Binary)
	if g.Ready(10, tid) != nil {
		t.Fatal("executed before every member was ready")
	}
	if ex := g.Ready(11, tid); len(ex) != 2 || ex[0].Op != OpExecuteTransition {
		t.Fatalf("execute: %+v", ex)
	}
	// 11 leaves: 10 would be alone, so the group is reset (protocol.md
	// "Sole member reset"): prepare_epoch 1, then transition 0.
	reset, err := g.Leave(11)
	if err != nil || len(reset) != 2 || reset[0].To != 10 || reset[0].Op != OpPrepareEpoch || reset[1].Op != OpPrepareTransition {
		t.Fatalf("sole member reset: %v %+v", err, reset)
	}
	if g.Epoch() != 0 || len(g.Members()) != 0 {
		t.Fatalf("after the reset: epoch %d, members %v", g.Epoch(), g.Members())
	}
}

func FuzzGateway(f *testing.F) {
	kp, _ := mls.NewKeyPackage(id(10))
	f.Add(byte(26), kp.KeyPackage.Marshal())
	f.Add(byte(28), []byte{0, 1, 0, 1, 0, 2})
	f.Add(byte(23), []byte{0, 1})
	f.Fuzz(func(t *testing.T, op byte, body []byte) {
		g, err := New(3)
		if err != nil {
			t.Fatal(err)
		}
		g.Join(10)
		g.Join(11)
		switch op % 3 {
		case 0:
			_, _ = g.KeyPackage(10, body)
		case 1:
			_, _ = g.CommitWelcome(10, body)
		default:
			if len(body) >= 2 {
				g.Ready(10, binary.BigEndian.Uint16(body))
			}
			_, _ = g.InvalidCommitWelcome(10)
			_, _ = g.Leave(11)
		}
	})
}
