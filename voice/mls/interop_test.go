package mls

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/quaverbot/quaver/internal/testenv"
)

// davey drives @snazzah/davey (DAVE on OpenMLS) in a Node process.
type davey struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

func startDavey(t *testing.T) *davey {
	node, dir := testenv.NodeModules(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@snazzah", "davey")); err != nil {
		testenv.Missing(t, "@snazzah/davey is not installed in tools/node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "davey_peer.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
		cancel()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return &davey{t: t, in: in, out: sc}
}

type daveyReply struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error"`
	Data    string   `json:"data"`
	Commit  string   `json:"commit"`
	Welcome string   `json:"welcome"`
	Epoch   *uint64  `json:"epoch"`
	Auth    string   `json:"auth"`
	Users   []string `json:"users"`
}

func (d *davey) call(cmd map[string]any) daveyReply {
	d.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		d.t.Fatal(err)
	}
	if !d.out.Scan() {
		d.t.Fatalf("davey exited: %v", d.out.Err())
	}
	var r daveyReply
	if err := json.Unmarshal(d.out.Bytes(), &r); err != nil {
		d.t.Fatal(err)
	}
	if !r.OK {
		d.t.Fatalf("davey %v: %s", cmd["op"], r.Error)
	}
	return r
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snowflake(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// TestInteropDaveyMLS checks this package against OpenMLS (through davey):
// davey commits and we join from its Welcome and follow its commits; we
// commit and davey members follow ours and join from our Welcome; removes
// work both ways; every member agrees on the epoch authenticator.
func TestInteropDaveyMLS(t *testing.T) {
	d := startDavey(t)
	const channel = 927310423890473011
	groupID := snowflake(channel)
	extKey, err := GenerateSignatureKey()
	if err != nil {
		t.Fatal(err)
	}
	es := ExternalSender{SignatureKey: extKey.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte{}}}
	esBytes := es.Marshal()

	newDavey := func(name string, user uint64) *KeyPackage {
		d.call(map[string]any{"op": "new", "name": name, "user": strconv.FormatUint(user, 10), "channel": strconv.FormatUint(channel, 10)})
		d.call(map[string]any{"op": "externalSender", "name": name, "data": hex.EncodeToString(esBytes)})
		var kp KeyPackage
		if err := kp.Unmarshal(unhex(t, d.call(map[string]any{"op": "keyPackage", "name": name}).Data)); err != nil {
			t.Fatalf("davey key package: %v", err)
		}
		if err := kp.Verify(); err != nil {
			t.Fatalf("davey key package does not verify: %v", err)
		}
		return &kp
	}
	// proposalVector encodes external proposals as DAVE's op 27 carries them.
	proposalVector := func(epoch uint64, ps ...*Proposal) ([]byte, [][]byte) {
		var msgs [][]byte
		for _, p := range ps {
			m, err := NewExternalProposal(groupID, epoch, 0, p, extKey)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, m)
		}
		return MarshalMessages(msgs), msgs
	}
	var ours *Group
	agree := func(names ...string) {
		t.Helper()
		for _, n := range names {
			st := d.call(map[string]any{"op": "state", "name": n})
			if st.Epoch == nil || *st.Epoch != ours.Epoch() {
				t.Fatalf("%s epoch %v, ours %d", n, st.Epoch, ours.Epoch())
			}
			if !bytes.Equal(unhex(t, st.Auth), ours.EpochAuthenticator()) {
				t.Fatalf("%s disagrees on the epoch authenticator at epoch %d", n, ours.Epoch())
			}
			var mine []string
			for _, m := range ours.Members() {
				mine = append(mine, strconv.FormatUint(binary.BigEndian.Uint64(m.Identity), 10))
			}
			sort.Strings(mine)
			sort.Strings(st.Users)
			if len(mine) != len(st.Users) {
				t.Fatalf("%s members %v, ours %v", n, st.Users, mine)
			}
		}
	}

	// 1. davey (A) commits the Add of our key package; we join from its Welcome.
	kpA := newDavey("A", 1001)
	_ = kpA
	me, err := NewKeyPackage(snowflake(2002))
	if err != nil {
		t.Fatal(err)
	}
	vec, _ := proposalVector(0, AddProposal(&me.KeyPackage))
	r := d.call(map[string]any{"op": "proposals", "name": "A", "data": hex.EncodeToString(vec), "users": []string{"1001", "2002"}})
	if r.Commit == "" || r.Welcome == "" {
		t.Fatal("davey made no commit/welcome")
	}
	d.call(map[string]any{"op": "commit", "name": "A", "data": r.Commit})
	ours, err = JoinFromWelcome(unhex(t, r.Welcome), me, GroupOptions{})
	if err != nil {
		t.Fatalf("joining from davey's welcome: %v", err)
	}
	agree("A")

	// 2. Add B (davey); A commits; we process A's commit; B joins.
	kpB := newDavey("B", 3003)
	vec, msgs := proposalVector(ours.Epoch(), AddProposal(kpB))
	for _, m := range msgs {
		if _, err := ours.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	r = d.call(map[string]any{"op": "proposals", "name": "A", "data": hex.EncodeToString(vec), "users": []string{"1001", "2002", "3003"}})
	d.call(map[string]any{"op": "commit", "name": "A", "data": r.Commit})
	if _, err := ours.ProcessMessage(unhex(t, r.Commit)); err != nil {
		t.Fatalf("processing davey's commit: %v", err)
	}
	d.call(map[string]any{"op": "welcome", "name": "B", "data": r.Welcome})
	agree("A", "B")

	// 3. Add C (davey); we commit; A and B process our commit; C joins from our Welcome.
	kpC := newDavey("C", 4004)
	vec, msgs = proposalVector(ours.Epoch(), AddProposal(kpC))
	for _, m := range msgs {
		if _, err := ours.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	users := []string{"1001", "2002", "3003", "4004"}
	for _, n := range []string{"A", "B"} {
		d.call(map[string]any{"op": "proposals", "name": n, "data": hex.EncodeToString(vec), "users": users})
	}
	commit, welcome, err := ours.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B"} {
		d.call(map[string]any{"op": "commit", "name": n, "data": hex.EncodeToString(commit)})
	}
	if _, err := ours.ProcessMessage(commit); err != nil {
		t.Fatalf("merging own commit: %v", err)
	}
	d.call(map[string]any{"op": "welcome", "name": "C", "data": hex.EncodeToString(welcome.Marshal())})
	agree("A", "B", "C")

	// 4. Remove B; we commit; A and C follow.
	var bLeaf LeafIndex
	for _, m := range ours.Members() {
		if binary.BigEndian.Uint64(m.Identity) == 3003 {
			bLeaf = m.Index
		}
	}
	vec, msgs = proposalVector(ours.Epoch(), RemoveProposal(bLeaf))
	for _, m := range msgs {
		if _, err := ours.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	users = []string{"1001", "2002", "4004"}
	for _, n := range []string{"A", "C"} {
		d.call(map[string]any{"op": "proposals", "name": n, "data": hex.EncodeToString(vec), "users": users})
	}
	commit, _, err = ours.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "C"} {
		d.call(map[string]any{"op": "commit", "name": n, "data": hex.EncodeToString(commit)})
	}
	if _, err := ours.ProcessMessage(commit); err != nil {
		t.Fatal(err)
	}
	agree("A", "C")

	// 5. Remove C; davey (A) commits; we follow.
	var cLeaf LeafIndex
	for _, m := range ours.Members() {
		if binary.BigEndian.Uint64(m.Identity) == 4004 {
			cLeaf = m.Index
		}
	}
	vec, msgs = proposalVector(ours.Epoch(), RemoveProposal(cLeaf))
	for _, m := range msgs {
		if _, err := ours.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	r = d.call(map[string]any{"op": "proposals", "name": "A", "data": hex.EncodeToString(vec), "users": []string{"1001", "2002"}})
	d.call(map[string]any{"op": "commit", "name": "A", "data": r.Commit})
	if _, err := ours.ProcessMessage(unhex(t, r.Commit)); err != nil {
		t.Fatalf("processing davey's remove commit: %v", err)
	}
	agree("A")
	if n := ours.Tree().LeafCount(); n != 2 {
		t.Fatalf("tree has %d leaf slots after removes, want 2", n)
	}
}

// TestInteropDaveyJoinsOurGroup: we create the group (as DAVE's first member
// does) and commit the Adds of two davey members, who join from our Welcome
// and then follow a commit one of them makes.
func TestInteropDaveyJoinsOurGroup(t *testing.T) {
	d := startDavey(t)
	const channel = 1234567890123
	groupID := snowflake(channel)
	extKey, err := GenerateSignatureKey()
	if err != nil {
		t.Fatal(err)
	}
	es := ExternalSender{SignatureKey: extKey.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte{}}}
	esBytes := es.Marshal()
	me, err := NewKeyPackage(snowflake(1))
	if err != nil {
		t.Fatal(err)
	}
	g, err := CreateGroup(groupID, me, GroupOptions{Extensions: []Extension{ExternalSendersExtension([]ExternalSender{es})}})
	if err != nil {
		t.Fatal(err)
	}
	var kps []*KeyPackage
	for _, n := range []string{"2", "3"} {
		d.call(map[string]any{"op": "new", "name": n, "user": n, "channel": strconv.FormatUint(channel, 10)})
		d.call(map[string]any{"op": "externalSender", "name": n, "data": hex.EncodeToString(esBytes)})
		var kp KeyPackage
		if err := kp.Unmarshal(unhex(t, d.call(map[string]any{"op": "keyPackage", "name": n}).Data)); err != nil {
			t.Fatal(err)
		}
		kps = append(kps, &kp)
	}
	for _, kp := range kps {
		m, err := NewExternalProposal(groupID, 0, 0, AddProposal(kp), extKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	commit, welcome, err := g.CommitPendingProposals()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ProcessMessage(commit); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"2", "3"} {
		d.call(map[string]any{"op": "welcome", "name": n, "data": hex.EncodeToString(welcome.Marshal())})
		st := d.call(map[string]any{"op": "state", "name": n})
		if st.Epoch == nil || *st.Epoch != 1 || !bytes.Equal(unhex(t, st.Auth), g.EpochAuthenticator()) {
			t.Fatalf("davey %s disagrees after joining our group (epoch %v)", n, st.Epoch)
		}
	}
	// Davey member 2 commits the gateway's removal of member 3 (leaf 2).
	rm, err := NewExternalProposal(groupID, 1, 0, RemoveProposal(2), extKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ProcessMessage(rm); err != nil {
		t.Fatal(err)
	}
	vec := MarshalMessages([][]byte{rm})
	r := d.call(map[string]any{"op": "proposals", "name": "2", "data": hex.EncodeToString(vec), "users": []string{"1", "2"}})
	d.call(map[string]any{"op": "commit", "name": "2", "data": r.Commit})
	if _, err := g.ProcessMessage(unhex(t, r.Commit)); err != nil {
		t.Fatalf("processing davey's commit: %v", err)
	}
	st := d.call(map[string]any{"op": "state", "name": "2"})
	if !bytes.Equal(unhex(t, st.Auth), g.EpochAuthenticator()) || len(g.Members()) != 2 {
		t.Fatal("disagreement after davey's remove commit")
	}
}
