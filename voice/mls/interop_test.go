package mls

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/quaverbot/quaver/internal/daveyjs"
)

// startDavey runs testdata/davey_peer.js, which plays DAVE members with
// @snazzah/davey (DAVE on OpenMLS); it is killed after two minutes at the
// latest.
func startDavey(t *testing.T) *daveyjs.Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return daveyjs.Start(ctx, t, filepath.Join("testdata", "davey_peer.js"))
}

// interopSender makes the gateway's external sender: its signing key and
// the entry a group's external senders extension carries.
func interopSender(t *testing.T) (*SignaturePrivateKey, ExternalSender) {
	t.Helper()
	key, err := GenerateSignatureKey()
	if err != nil {
		t.Fatal(err)
	}
	return key, ExternalSender{SignatureKey: key.PublicKey(), Credential: Credential{Type: CredentialBasic, Identity: []byte{}}}
}

// daveyMember makes the davey member name for user in channel, gives it the
// external sender es and returns its key package.
func daveyMember(t *testing.T, d *daveyjs.Proc, name, user string, channel uint64, es ExternalSender) *KeyPackage {
	t.Helper()
	d.Must(t, map[string]any{"op": "new", "name": name, "user": user, "channel": strconv.FormatUint(channel, 10)})
	d.Must(t, map[string]any{"op": "externalSender", "name": name, "data": hex.EncodeToString(es.Marshal())})
	var kp KeyPackage
	if err := kp.Unmarshal(unhex(t, d.Must(t, map[string]any{"op": "keyPackage", "name": name}).Data)); err != nil {
		t.Fatalf("davey %s key package: %v", name, err)
	}
	return &kp
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
	extKey, es := interopSender(t)
	newDavey := func(name string, user uint64) *KeyPackage {
		kp := daveyMember(t, d, name, strconv.FormatUint(user, 10), channel, es)
		if err := kp.Verify(); err != nil {
			t.Fatalf("davey key package does not verify: %v", err)
		}
		return kp
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
			st := d.Must(t, map[string]any{"op": "state", "name": n})
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
	newDavey("A", 1001)
	me, err := NewKeyPackage(snowflake(2002))
	if err != nil {
		t.Fatal(err)
	}
	vec, _ := proposalVector(0, AddProposal(&me.KeyPackage))
	r := d.Must(t, map[string]any{"op": "proposals", "name": "A", "data": hex.EncodeToString(vec), "users": []string{"1001", "2002"}})
	if r.Commit == "" || r.Welcome == "" {
		t.Fatal("davey made no commit/welcome")
	}
	d.Must(t, map[string]any{"op": "commit", "name": "A", "data": r.Commit})
	ours, err = JoinFromWelcome(unhex(t, r.Welcome), me, GroupOptions{})
	if err != nil {
		t.Fatalf("joining from davey's welcome: %v", err)
	}
	agree("A")

	// propose has the external sender propose p to us and returns the
	// proposal vector for the davey members.
	propose := func(p *Proposal) []byte {
		t.Helper()
		vec, msgs := proposalVector(ours.Epoch(), p)
		for _, m := range msgs {
			if _, err := ours.ProcessMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		return vec
	}
	// aCommits has davey member A commit vec (users: the members after it)
	// and us follow; it returns A's reply.
	aCommits := func(vec []byte, users ...string) daveyjs.Reply {
		t.Helper()
		r := d.Must(t, map[string]any{"op": "proposals", "name": "A", "data": hex.EncodeToString(vec), "users": users})
		d.Must(t, map[string]any{"op": "commit", "name": "A", "data": r.Commit})
		if _, err := ours.ProcessMessage(unhex(t, r.Commit)); err != nil {
			t.Fatalf("processing davey's commit: %v", err)
		}
		return r
	}
	// weCommit hands vec to the davey members names (users: the members
	// after it), commits it and has them and us follow; it returns our
	// Welcome.
	weCommit := func(vec []byte, users []string, names ...string) *Welcome {
		t.Helper()
		for _, n := range names {
			d.Must(t, map[string]any{"op": "proposals", "name": n, "data": hex.EncodeToString(vec), "users": users})
		}
		commit, welcome, err := ours.CommitPendingProposals()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			d.Must(t, map[string]any{"op": "commit", "name": n, "data": hex.EncodeToString(commit)})
		}
		if _, err := ours.ProcessMessage(commit); err != nil {
			t.Fatalf("merging own commit: %v", err)
		}
		return welcome
	}

	// 2. Add B (davey); A commits; we process A's commit; B joins.
	r = aCommits(propose(AddProposal(newDavey("B", 3003))), "1001", "2002", "3003")
	d.Must(t, map[string]any{"op": "welcome", "name": "B", "data": r.Welcome})
	agree("A", "B")

	// 3. Add C (davey); we commit; A and B process our commit; C joins from our Welcome.
	welcome := weCommit(propose(AddProposal(newDavey("C", 4004))), []string{"1001", "2002", "3003", "4004"}, "A", "B")
	d.Must(t, map[string]any{"op": "welcome", "name": "C", "data": hex.EncodeToString(welcome.Marshal())})
	agree("A", "B", "C")

	// 4. Remove B; we commit; A and C follow.
	weCommit(propose(RemoveProposal(leafOf(ours, 3003))), []string{"1001", "2002", "4004"}, "A", "C")
	agree("A", "C")

	// 5. Remove C; davey (A) commits; we follow.
	aCommits(propose(RemoveProposal(leafOf(ours, 4004))), "1001", "2002")
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
	extKey, es := interopSender(t)
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
		kps = append(kps, daveyMember(t, d, n, n, channel, es))
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
		d.Must(t, map[string]any{"op": "welcome", "name": n, "data": hex.EncodeToString(welcome.Marshal())})
		st := d.Must(t, map[string]any{"op": "state", "name": n})
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
	r := d.Must(t, map[string]any{"op": "proposals", "name": "2", "data": hex.EncodeToString(vec), "users": []string{"1", "2"}})
	d.Must(t, map[string]any{"op": "commit", "name": "2", "data": r.Commit})
	if _, err := g.ProcessMessage(unhex(t, r.Commit)); err != nil {
		t.Fatalf("processing davey's commit: %v", err)
	}
	st := d.Must(t, map[string]any{"op": "state", "name": "2"})
	if !bytes.Equal(unhex(t, st.Auth), g.EpochAuthenticator()) || len(g.Members()) != 2 {
		t.Fatal("disagreement after davey's remove commit")
	}
}

// mixedMember is a member of the random interop group: ours (g set) or davey's.
type mixedMember struct {
	user  uint64
	name  string
	g     *Group
	kp    *KeyPackageBundle
	davey bool
}

func leafOf(g *Group, user uint64) LeafIndex {
	for _, m := range g.Members() {
		if binary.BigEndian.Uint64(m.Identity) == user {
			return m.Index
		}
	}
	return LeafIndex(1 << 31)
}

// TestInteropDaveyRandom runs random epochs in a group mixing members of this
// package and davey (OpenMLS) members: the external sender adds and removes,
// a random member of either kind commits, everyone else follows, and all
// members agree on the epoch authenticator after every epoch.
func TestInteropDaveyRandom(t *testing.T) {
	d := startDavey(t)
	rng := rand.New(rand.NewPCG(7, 9))
	const channel = 555000111
	groupID := snowflake(channel)
	extKey, es := interopSender(t)
	members := map[uint64]*mixedMember{}
	nextUser := uint64(100)
	newMember := func(useDavey bool) (*mixedMember, *KeyPackage) {
		nextUser++
		m := &mixedMember{user: nextUser, name: strconv.FormatUint(nextUser, 10), davey: useDavey}
		if useDavey {
			return m, daveyMember(t, d, m.name, m.name, channel, es)
		}
		var err error
		if m.kp, err = NewKeyPackage(snowflake(m.user)); err != nil {
			t.Fatal(err)
		}
		return m, &m.kp.KeyPackage
	}
	first, _ := newMember(false)
	var err error
	if first.g, err = CreateGroup(groupID, first.kp, GroupOptions{Extensions: []Extension{ExternalSendersExtension([]ExternalSender{es})}}); err != nil {
		t.Fatal(err)
	}
	members[first.user] = first
	ref := first.g
	view := NewExternalView(groupID, &first.kp.KeyPackage, ref.Context().Extensions)
	epochs := 24
	if testing.Short() {
		epochs = 10
	}
	daveyCommits, ourCommits := 0, 0
	for e := 0; e < epochs; e++ {
		var ids []uint64
		goMembers := 0
		for id, m := range members {
			ids = append(ids, id)
			if !m.davey {
				goMembers++
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		var users []string
		for _, id := range ids {
			users = append(users, members[id].name)
		}
		committer := members[ids[rng.IntN(len(ids))]]
		var ps []*Proposal
		var victim *mixedMember
		if rng.IntN(3) != 0 {
			v := members[ids[rng.IntN(len(ids))]]
			if v != committer && (v.davey || goMembers > 1) {
				victim = v
				leaf, ok := view.LeafOf(snowflake(v.user))
				if !ok || leaf != leafOf(ref, v.user) {
					t.Fatalf("epoch %d: external view places %s at %d", e, v.name, leaf)
				}
				ps = append(ps, RemoveProposal(leaf))
			}
		}
		var joiners []*mixedMember
		for i := rng.IntN(2); i > 0 || len(ps) == 0; i-- {
			m, kp := newMember(rng.IntN(2) == 0)
			joiners = append(joiners, m)
			users = append(users, m.name)
			ps = append(ps, AddProposal(kp))
		}
		var msgs [][]byte
		for _, p := range ps {
			m, err := NewExternalProposal(groupID, ref.Epoch(), 0, p, extKey)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, m)
			if _, err := view.AddProposal(m); err != nil {
				t.Fatal(err)
			}
		}
		vec := MarshalMessages(msgs)
		var commit, welcome []byte
		for _, id := range ids {
			m := members[id]
			if m == victim {
				continue
			}
			if m.davey {
				r := d.Must(t, map[string]any{"op": "proposals", "name": m.name, "data": hex.EncodeToString(vec), "users": users})
				if m == committer {
					commit, welcome = unhex(t, r.Commit), unhex(t, r.Welcome)
				}
				continue
			}
			for _, msg := range msgs {
				if _, err := m.g.ProcessMessage(msg); err != nil {
					t.Fatalf("epoch %d: %s proposal: %v", e, m.name, err)
				}
			}
			if m == committer {
				c, w, err := m.g.CommitPendingProposals()
				if err != nil {
					t.Fatalf("epoch %d: %s commits: %v", e, m.name, err)
				}
				commit = c
				if w != nil {
					welcome = w.Marshal()
				}
			}
		}
		if committer.davey {
			daveyCommits++
		} else {
			ourCommits++
		}
		if victim != nil {
			delete(members, victim.user)
		}
		if _, err := view.ApplyCommit(commit); err != nil {
			t.Fatalf("epoch %d: external view applying %s's commit (davey %v): %v", e, committer.name, committer.davey, err)
		}
		for _, id := range ids {
			m, ok := members[id]
			if !ok {
				continue
			}
			if m.davey {
				d.Must(t, map[string]any{"op": "commit", "name": m.name, "data": hex.EncodeToString(commit)})
			} else if _, err := m.g.ProcessMessage(commit); err != nil {
				t.Fatalf("epoch %d: %s processing %s's commit (davey %v): %v", e, m.name, committer.name, committer.davey, err)
			}
		}
		for _, j := range joiners {
			if j.davey {
				d.Must(t, map[string]any{"op": "welcome", "name": j.name, "data": hex.EncodeToString(welcome)})
			} else if j.g, err = JoinFromWelcome(welcome, j.kp, GroupOptions{}); err != nil {
				t.Fatalf("epoch %d: %s joining from %s's welcome (davey %v): %v", e, j.name, committer.name, committer.davey, err)
			}
			members[j.user] = j
		}
		ref = nil
		for _, id := range ids {
			if m, ok := members[id]; ok && m.g != nil {
				ref = m.g
				break
			}
		}
		for _, m := range members {
			var auth []byte
			if m.davey {
				auth = unhex(t, d.Must(t, map[string]any{"op": "state", "name": m.name}).Auth)
			} else {
				auth = m.g.EpochAuthenticator()
			}
			if !bytes.Equal(auth, ref.EpochAuthenticator()) {
				t.Fatalf("epoch %d: %s (davey %v) disagrees after %s's commit (davey %v)", e, m.name, m.davey, committer.name, committer.davey)
			}
		}
		if len(ref.Members()) != len(members) {
			t.Fatalf("epoch %d: %d members in tree, %d expected", e, len(ref.Members()), len(members))
		}
		if !bytes.Equal(view.Tree().Marshal(), ref.Tree().Marshal()) {
			t.Fatalf("epoch %d: external view's tree differs", e)
		}
	}
	t.Logf("%d epochs: %d commits by davey, %d by this package, %d members at the end", epochs, daveyCommits, ourCommits, len(members))
}
