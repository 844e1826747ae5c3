package mls

import (
	"bytes"
	"testing"
)

func TestVectorsTreeValidation(t *testing.T) {
	var vs []struct {
		CipherSuite CipherSuite `json:"cipher_suite"`
		Tree        hexBytes    `json:"tree"`
		GroupID     hexBytes    `json:"group_id"`
		TreeHashes  []hexBytes  `json:"tree_hashes"`
		Resolutions [][]uint32  `json:"resolutions"`
	}
	loadVectors(t, "tree-validation.json", &vs)
	tally := newTally(t, "tree-validation.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		var tree RatchetTree
		if err := tree.Unmarshal(v.Tree); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if len(tree.nodes) != len(v.TreeHashes) {
			t.Fatalf("%d: %d nodes, %d hashes", i, len(tree.nodes), len(v.TreeHashes))
		}
		for x := range tree.nodes {
			if got := tree.treeHash(nodeIndex(x), nil); !bytes.Equal(got, v.TreeHashes[x]) {
				t.Fatalf("%d: tree hash of node %d = %x want %x", i, x, got, v.TreeHashes[x])
			}
			res := tree.resolution(nodeIndex(x))
			if len(res) != len(v.Resolutions[x]) {
				t.Fatalf("%d: resolution of %d = %v want %v", i, x, res, v.Resolutions[x])
			}
			for j := range res {
				if uint32(res[j]) != v.Resolutions[x][j] {
					t.Fatalf("%d: resolution of %d = %v want %v", i, x, res, v.Resolutions[x])
				}
			}
		}
		if err := tree.verifyParentHashes(); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if err := tree.verifyLeaves(v.GroupID); err != nil {
			t.Fatalf("%d: leaves: %v", i, err)
		}
		tally.passed++
	}
}

// TestVectorsTreeOperations: the file holds cipher suite 1 entries only. The
// operations (add, update, remove, truncation) and the tree hash use SHA-256
// in both suite 1 and suite 2, keys are opaque bytes here and no signature
// is checked, so these entries are run rather than skipped.
func TestVectorsTreeOperations(t *testing.T) {
	var vs []struct {
		CipherSuite    CipherSuite `json:"cipher_suite"`
		TreeBefore     hexBytes    `json:"tree_before"`
		Proposal       hexBytes    `json:"proposal"`
		ProposalSender LeafIndex   `json:"proposal_sender"`
		TreeAfter      hexBytes    `json:"tree_after"`
		HashBefore     hexBytes    `json:"tree_hash_before"`
		HashAfter      hexBytes    `json:"tree_hash_after"`
	}
	loadVectors(t, "tree-operations.json", &vs)
	tally := newTally(t, "tree-operations.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 && v.CipherSuite != 1 {
			tally.skip(i, "cipher suite is neither 2 nor 1")
			continue
		}
		var tree RatchetTree
		if err := tree.Unmarshal(v.TreeBefore); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got := tree.TreeHash(); !bytes.Equal(got, v.HashBefore) {
			t.Fatalf("%d: hash before %x want %x", i, got, v.HashBefore)
		}
		var p Proposal
		if err := p.Unmarshal(v.Proposal); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var err error
		switch p.Type {
		case ProposalAdd:
			_, err = tree.addLeaf(&p.KeyPackage.LeafNode)
		case ProposalUpdate:
			err = tree.updateLeaf(v.ProposalSender, p.LeafNode)
		case ProposalRemove:
			err = tree.removeLeaf(p.Removed)
		default:
			t.Fatalf("%d: proposal type %d", i, p.Type)
		}
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got := tree.Marshal(); !bytes.Equal(got, v.TreeAfter) {
			t.Fatalf("%d: tree after differs (proposal %d)", i, p.Type)
		}
		if got := tree.TreeHash(); !bytes.Equal(got, v.HashAfter) {
			t.Fatalf("%d: hash after %x want %x", i, got, v.HashAfter)
		}
		tally.passed++
	}
}
