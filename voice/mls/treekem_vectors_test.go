package mls

import (
	"bytes"
	"testing"
)

type treekemVector struct {
	CipherSuite   CipherSuite `json:"cipher_suite"`
	GroupID       hexBytes    `json:"group_id"`
	Epoch         uint64      `json:"epoch"`
	Confirmed     hexBytes    `json:"confirmed_transcript_hash"`
	RatchetTree   hexBytes    `json:"ratchet_tree"`
	LeavesPrivate []struct {
		Index          LeafIndex `json:"index"`
		EncryptionPriv hexBytes  `json:"encryption_priv"`
		SignaturePriv  hexBytes  `json:"signature_priv"`
		PathSecrets    []struct {
			Node       nodeIndex `json:"node"`
			PathSecret hexBytes  `json:"path_secret"`
		} `json:"path_secrets"`
	} `json:"leaves_private"`
	UpdatePaths []struct {
		Sender        LeafIndex  `json:"sender"`
		UpdatePath    hexBytes   `json:"update_path"`
		PathSecrets   []hexBytes `json:"path_secrets"`
		CommitSecret  hexBytes   `json:"commit_secret"`
		TreeHashAfter hexBytes   `json:"tree_hash_after"`
	} `json:"update_paths"`
}

// treekemMembers builds one Group per private leaf: the tree, the leaf key
// and the parent keys derived from the given path secrets.
func treekemMembers(t *testing.T, v *treekemVector, tree *RatchetTree) map[LeafIndex]*Group {
	t.Helper()
	ctx := GroupContext{Version: ProtocolMLS10, CipherSuite: SuiteP256, GroupID: v.GroupID, Epoch: v.Epoch,
		TreeHash: tree.TreeHash(), ConfirmedTranscriptHash: v.Confirmed}
	out := map[LeafIndex]*Group{}
	for _, lp := range v.LeavesPrivate {
		enc, err := ParseHPKEPrivateKey(lp.EncryptionPriv)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := ParseSignaturePrivateKey(lp.SignaturePriv)
		if err != nil {
			t.Fatal(err)
		}
		g := &Group{ctx: ctx, tree: tree, self: lp.Index, sigKey: sig, priv: map[nodeIndex]*HPKEPrivateKey{lp.Index.node(): enc},
			secrets: &epochSecrets{init: zeroSecret, membership: zeroSecret}, resumption: map[uint64][]byte{}}
		if !bytes.Equal(tree.Leaf(lp.Index).EncryptionKey, enc.PublicKey()) {
			t.Fatalf("leaf %d: encryption key mismatch", lp.Index)
		}
		for _, ps := range lp.PathSecrets {
			k, err := deriveHPKEKey(DeriveSecret(ps.PathSecret, "node"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.PublicKey(), tree.node(ps.Node).encryptionKey()) {
				t.Fatalf("leaf %d: path secret at node %d does not match the tree", lp.Index, ps.Node)
			}
			g.priv[ps.Node] = k
		}
		out[lp.Index] = g
	}
	return out
}

func TestVectorsTreeKEM(t *testing.T) {
	var vs []treekemVector
	loadVectors(t, "treekem.json", &vs)
	tally := newTally(t, "treekem.json")
	for i := range vs {
		v := &vs[i]
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		var tree RatchetTree
		if err := tree.Unmarshal(v.RatchetTree); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if err := tree.verifyParentHashes(); err != nil {
			t.Fatalf("%d: tree before: %v", i, err)
		}
		members := treekemMembers(t, v, &tree)
		// Receive each update path.
		for n, up := range v.UpdatePaths {
			var path UpdatePath
			if err := path.Unmarshal(up.UpdatePath); err != nil {
				t.Fatalf("%d/%d: %v", i, n, err)
			}
			after := tree.clone()
			if err := after.mergePath(up.Sender, &path, v.GroupID); err != nil {
				t.Fatalf("%d/%d: merge: %v", i, n, err)
			}
			if got := after.TreeHash(); !bytes.Equal(got, up.TreeHashAfter) {
				t.Fatalf("%d/%d: tree hash after %x want %x", i, n, got, up.TreeHashAfter)
			}
			if err := after.verifyParentHashes(); err != nil {
				t.Fatalf("%d/%d: tree after: %v", i, n, err)
			}
			ctx := members[up.Sender].ctx
			ctx.TreeHash = up.TreeHashAfter
			for idx, g := range members {
				if idx == up.Sender {
					continue
				}
				ps, cs, _, err := g.decryptPath(after, nil, up.Sender, &path, &ctx)
				if err != nil {
					t.Fatalf("%d/%d: leaf %d decrypt: %v", i, n, idx, err)
				}
				if !bytes.Equal(ps, up.PathSecrets[idx]) || !bytes.Equal(cs, up.CommitSecret) {
					t.Fatalf("%d/%d: leaf %d: path or commit secret differs", i, n, idx)
				}
			}
		}
		// Generate an update path from every private leaf with this
		// package's commit code; every other private leaf must decrypt it
		// to the same commit secret and tree.
		for sender, sg := range members {
			if _, _, err := sg.commit(nil); err != nil {
				t.Fatalf("%d: commit from %d: %v", i, sender, err)
			}
			pc := sg.pendingCommit
			var pm PublicMessage
			if err := pm.Unmarshal(pc.message); err != nil {
				t.Fatal(err)
			}
			path := pm.Content.Commit.Path
			var commitSecret []byte
			for idx, g := range members {
				if idx == sender {
					continue
				}
				after := tree.clone()
				if err := after.mergePath(sender, path, v.GroupID); err != nil {
					t.Fatalf("%d: merge own path from %d: %v", i, sender, err)
				}
				if !bytes.Equal(after.TreeHash(), pc.ctx.TreeHash) {
					t.Fatalf("%d: tree hash of own path from %d differs", i, sender)
				}
				ctx := g.ctx
				ctx.Epoch++
				ctx.TreeHash = pc.ctx.TreeHash
				_, cs, _, err := g.decryptPath(after, nil, sender, path, &ctx)
				if err != nil {
					t.Fatalf("%d: leaf %d decrypting own path from %d: %v", i, idx, sender, err)
				}
				if commitSecret != nil && !bytes.Equal(cs, commitSecret) {
					t.Fatalf("%d: commit secrets of own path from %d disagree", i, sender)
				}
				commitSecret = cs
			}
		}
		tally.passed++
	}
}
