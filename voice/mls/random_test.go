package mls

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestRandomGroupOperations drives a group through random epochs: the
// external sender adds and removes members, a random member commits, the
// others follow and the new members join. Every member must agree on the
// epoch authenticator, exporter and tree after every epoch, which exercises
// unmerged leaves, blank parents, truncation and leaf reuse.
func TestRandomGroupOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w, first := newTestWorld(t, "m0")
	view := NewExternalView(w.groupID, &KeyPackage{LeafNode: *first.Tree().Leaf(0)}, first.Context().Extensions)
	next := 1
	epochs := 40
	if testing.Short() {
		epochs = 15
	}
	for e := 0; e < epochs; e++ {
		names := make([]string, 0, len(w.members))
		for n := range w.members {
			names = append(names, n)
		}
		sort.Strings(names)
		committer := names[rng.IntN(len(names))]
		epoch := w.members[committer].Epoch()
		// Removes of random non-committers.
		var removed []string
		for i := rng.IntN(3); i > 0 && len(names)-len(removed) > 1; i-- {
			victim := names[rng.IntN(len(names))]
			if victim == committer || contains(removed, victim) {
				continue
			}
			removed = append(removed, victim)
			leaf, ok := view.LeafOf([]byte(victim))
			if !ok || leaf != w.members[victim].LeafIndex() {
				t.Fatalf("epoch %d: view places %s at %d,%v; member says %d", e, victim, leaf, ok, w.members[victim].LeafIndex())
			}
			msg := w.propose(t, epoch, RemoveProposal(leaf))
			if _, err := view.AddProposal(msg); err != nil {
				t.Fatal(err)
			}
		}
		// Adds.
		added := map[string]*KeyPackageBundle{}
		for i := rng.IntN(3); i > 0; i-- {
			name := fmt.Sprintf("m%d", next)
			next++
			kp, err := NewKeyPackage([]byte(name))
			if err != nil {
				t.Fatal(err)
			}
			added[name] = kp
			if _, err := view.AddProposal(w.propose(t, epoch, AddProposal(&kp.KeyPackage))); err != nil {
				t.Fatal(err)
			}
		}
		commit, welcome, err := w.members[committer].CommitPendingProposals()
		if err != nil {
			t.Fatalf("epoch %d: %s commits: %v", e, committer, err)
		}
		if (welcome != nil) != (len(added) > 0) {
			t.Fatalf("epoch %d: welcome %v with %d adds", e, welcome != nil, len(added))
		}
		for _, r := range removed {
			if _, err := w.members[r].ProcessMessage(commit); err != ErrRemoved {
				t.Fatalf("epoch %d: removed %s got %v", e, r, err)
			}
			delete(w.members, r)
		}
		w.deliver(t, commit)
		if _, err := view.ApplyCommit(commit); err != nil {
			t.Fatalf("epoch %d: external view: %v", e, err)
		}
		if !bytes.Equal(view.Tree().Marshal(), w.members[committer].Tree().Marshal()) || view.Epoch() != w.members[committer].Epoch() {
			t.Fatalf("epoch %d: external view's tree differs from the members'", e)
		}
		addedNames := make([]string, 0, len(added))
		for n := range added {
			addedNames = append(addedNames, n)
		}
		sort.Strings(addedNames)
		for _, n := range addedNames {
			w.join(t, n, added[n], welcome)
		}
		w.agree(t)
	}
}
