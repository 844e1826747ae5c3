package mls

import (
	"bytes"
	"errors"
)

// The ratchet tree (RFC 9420 §4, §7): leaves hold members, parents hold the
// HPKE keys TreeKEM derives. Blank nodes are nil on both sides.

var (
	// ErrBadTree means a ratchet tree is malformed or fails validation.
	ErrBadTree = errors.New("mls: invalid ratchet tree")
	// ErrBadParentHash means a parent node is not parent-hash valid.
	ErrBadParentHash = errors.New("mls: parent hash mismatch")
	// ErrBadTreeHash means a tree hash differs from the one in the group context.
	ErrBadTreeHash = errors.New("mls: tree hash mismatch")
)

// ParentNode is an interior node of the ratchet tree (RFC 9420 §7.1).
type ParentNode struct {
	EncryptionKey  []byte
	ParentHash     []byte
	UnmergedLeaves []LeafIndex
}

func (p *ParentNode) marshal(w *writer) {
	w.vec(p.EncryptionKey)
	w.vec(p.ParentHash)
	w.nested(func(w *writer) {
		for _, l := range p.UnmergedLeaves {
			w.u32(uint32(l))
		}
	})
}

func (p *ParentNode) unmarshal(r *reader) {
	p.EncryptionKey = r.vecCopy()
	p.ParentHash = r.vecCopy()
	r.list(func(r *reader) { p.UnmergedLeaves = append(p.UnmergedLeaves, LeafIndex(r.u32())) })
}

func (p *ParentNode) clone() *ParentNode {
	c := *p
	c.UnmergedLeaves = append([]LeafIndex(nil), p.UnmergedLeaves...)
	return &c
}

// Node is one entry of the tree; at most one of Leaf and Parent is set, and
// neither for a blank node.
type Node struct {
	Leaf   *LeafNode
	Parent *ParentNode
}

func (n Node) blank() bool { return n.Leaf == nil && n.Parent == nil }

func (n Node) encryptionKey() []byte {
	switch {
	case n.Leaf != nil:
		return n.Leaf.EncryptionKey
	case n.Parent != nil:
		return n.Parent.EncryptionKey
	}
	return nil
}

// RatchetTree is the array of nodes of a full binary tree whose leaf count is a power of two.
type RatchetTree struct {
	nodes []Node
}

// maxTreeLeaves caps the tree a peer can make us build.
const maxTreeLeaves = 1 << 16

func (t *RatchetTree) leafCount() uint32 { return uint32(len(t.nodes)+1) / 2 }

func (t *RatchetTree) node(x nodeIndex) Node {
	if int(x) >= len(t.nodes) {
		return Node{}
	}
	return t.nodes[x]
}

// Leaf returns the leaf node at i, or nil if blank or outside the tree.
func (t *RatchetTree) Leaf(i LeafIndex) *LeafNode {
	return t.node(i.node()).Leaf
}

// LeafCount is the number of leaf slots (a power of two, blanks included).
func (t *RatchetTree) LeafCount() uint32 { return t.leafCount() }

func (t *RatchetTree) clone() *RatchetTree {
	c := &RatchetTree{nodes: make([]Node, len(t.nodes))}
	for i, n := range t.nodes {
		if n.Leaf != nil {
			l := *n.Leaf
			c.nodes[i].Leaf = &l
		}
		if n.Parent != nil {
			c.nodes[i].Parent = n.Parent.clone()
		}
	}
	return c
}

func (t *RatchetTree) marshal(w *writer) {
	last := -1
	for i, n := range t.nodes {
		if !n.blank() {
			last = i
		}
	}
	w.nested(func(w *writer) {
		for i := 0; i <= last; i++ {
			n := t.nodes[i]
			w.optional(!n.blank(), func(w *writer) {
				if n.Leaf != nil {
					w.u8(1)
					n.Leaf.marshal(w)
				} else {
					w.u8(2)
					n.Parent.marshal(w)
				}
			})
		}
	})
}

func (t *RatchetTree) unmarshal(r *reader) {
	t.nodes = nil
	r.list(func(r *reader) {
		if len(t.nodes) >= int(nodeWidth(maxTreeLeaves)) {
			r.fail(ErrBadTree)
			return
		}
		var n Node
		idx := nodeIndex(len(t.nodes))
		r.optional(func(r *reader) {
			switch r.u8() {
			case 1:
				if !idx.isLeaf() {
					r.fail(ErrBadTree)
					return
				}
				n.Leaf = new(LeafNode)
				n.Leaf.unmarshal(r)
			case 2:
				if idx.isLeaf() {
					r.fail(ErrBadTree)
					return
				}
				n.Parent = new(ParentNode)
				n.Parent.unmarshal(r)
			default:
				r.fail(ErrBadValue)
			}
		})
		t.nodes = append(t.nodes, n)
	})
	if r.err != nil {
		return
	}
	if len(t.nodes) == 0 || t.nodes[len(t.nodes)-1].blank() {
		r.fail(ErrBadTree) // RFC 9420 §12.4.3.3: no trailing blank nodes
		return
	}
	n := uint32(1)
	for nodeWidth(n) < uint32(len(t.nodes)) {
		n *= 2
	}
	for uint32(len(t.nodes)) < nodeWidth(n) {
		t.nodes = append(t.nodes, Node{})
	}
	// Unmerged leaves must name leaves below the node.
	for i, nd := range t.nodes {
		if nd.Parent == nil {
			continue
		}
		for _, l := range nd.Parent.UnmergedLeaves {
			if uint32(l) >= n || !nodeIndex(i).isAncestor(l.node()) {
				r.fail(ErrBadTree)
				return
			}
		}
	}
}

// Marshal encodes the tree as the ratchet_tree extension body (RFC 9420 §12.4.3.3).
func (t *RatchetTree) Marshal() []byte { return encode(t.marshal) }

// Unmarshal decodes a ratchet_tree extension body.
func (t *RatchetTree) Unmarshal(b []byte) error { return decodeAll(b, t.unmarshal) }

// resolution lists the non-blank nodes covering x's subtree (RFC 9420 §4.1.1).
func (t *RatchetTree) resolution(x nodeIndex) []nodeIndex {
	n := t.node(x)
	switch {
	case n.Leaf != nil:
		return []nodeIndex{x}
	case n.Parent != nil:
		out := []nodeIndex{x}
		for _, l := range n.Parent.UnmergedLeaves {
			out = append(out, l.node())
		}
		return out
	case x.isLeaf():
		return nil
	}
	l, _ := x.left()
	r, _ := x.right()
	return append(t.resolution(l), t.resolution(r)...)
}

// filteredDirectPath drops the direct-path nodes whose copath child has an
// empty resolution (RFC 9420 §4.1.2).
func (t *RatchetTree) filteredDirectPath(leaf LeafIndex) []nodeIndex {
	n := t.leafCount()
	x := leaf.node()
	var out []nodeIndex
	for {
		p, ok := x.parent(n)
		if !ok {
			return out
		}
		s, _ := x.sibling(n)
		if len(t.resolution(s)) > 0 {
			out = append(out, p)
		}
		x = p
	}
}

// treeHash is the tree hash of x's subtree (RFC 9420 §7.8); leaves in
// exclude are treated as blank and dropped from unmerged lists.
func (t *RatchetTree) treeHash(x nodeIndex, exclude map[LeafIndex]bool) []byte {
	n := t.node(x)
	if x.isLeaf() {
		return hashOf(encode(func(w *writer) {
			w.u8(1)
			w.u32(uint32(x.leaf()))
			leaf := n.Leaf
			if exclude[x.leaf()] {
				leaf = nil
			}
			w.optional(leaf != nil, func(w *writer) { leaf.marshal(w) })
		}))
	}
	l, _ := x.left()
	r, _ := x.right()
	lh, rh := t.treeHash(l, exclude), t.treeHash(r, exclude)
	return hashOf(encode(func(w *writer) {
		w.u8(2)
		w.optional(n.Parent != nil, func(w *writer) {
			p := n.Parent
			if len(exclude) > 0 {
				p = p.clone()
				p.UnmergedLeaves = p.UnmergedLeaves[:0]
				for _, u := range n.Parent.UnmergedLeaves {
					if !exclude[u] {
						p.UnmergedLeaves = append(p.UnmergedLeaves, u)
					}
				}
			}
			p.marshal(w)
		})
		w.vec(lh)
		w.vec(rh)
	}))
}

// TreeHash is the tree hash of the root.
func (t *RatchetTree) TreeHash() []byte {
	return t.treeHash(root(t.leafCount()), nil)
}

// parentHash is the parent hash P contributes to its child on the path whose
// sibling is s (RFC 9420 §7.9).
func (t *RatchetTree) parentHash(p, s nodeIndex) []byte {
	pn := t.node(p).Parent
	exclude := make(map[LeafIndex]bool, len(pn.UnmergedLeaves))
	for _, u := range pn.UnmergedLeaves {
		exclude[u] = true
	}
	return hashOf(encode(func(w *writer) {
		w.vec(pn.EncryptionKey)
		w.vec(pn.ParentHash)
		w.vec(t.treeHash(s, exclude))
	}))
}

func (t *RatchetTree) nodeParentHash(x nodeIndex) ([]byte, bool) {
	n := t.node(x)
	switch {
	case n.Parent != nil:
		return n.Parent.ParentHash, true
	case n.Leaf != nil && n.Leaf.Source == LeafSourceCommit:
		return n.Leaf.ParentHash, true
	}
	return nil, false
}

// verifyParentHashes checks that every non-blank parent is parent-hash valid
// (RFC 9420 §7.9.2): a node D in the resolution of one child, outside the
// parent's unmerged leaves, carries the parent hash computed with respect to
// the other child.
func (t *RatchetTree) verifyParentHashes() error {
	for i, nd := range t.nodes {
		if nd.Parent == nil {
			continue
		}
		p := nodeIndex(i)
		l, _ := p.left()
		r, _ := p.right()
		unmerged := make(map[nodeIndex]bool)
		for _, u := range nd.Parent.UnmergedLeaves {
			unmerged[u.node()] = true
		}
		ok := false
		for _, cs := range [2][2]nodeIndex{{l, r}, {r, l}} {
			h := t.parentHash(p, cs[1])
			for _, d := range t.resolution(cs[0]) {
				if unmerged[d] {
					continue
				}
				if ph, has := t.nodeParentHash(d); has && bytes.Equal(ph, h) {
					ok = true
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return ErrBadParentHash
		}
	}
	return nil
}

// verifyLeaves checks every leaf signature and that keys are unique (RFC 9420 §7.3, §12.4.3.1).
func (t *RatchetTree) verifyLeaves(groupID []byte) error {
	for i := uint32(0); i < t.leafCount(); i++ {
		if l := t.Leaf(LeafIndex(i)); l != nil {
			if err := l.Verify(groupID, LeafIndex(i)); err != nil {
				return err
			}
		}
	}
	return t.checkUniqueKeys()
}

// checkUniqueKeys requires distinct signature keys among leaves and distinct
// encryption keys among all nodes (RFC 9420 §7.3, §12.2).
func (t *RatchetTree) checkUniqueKeys() error {
	enc := map[string]bool{}
	sig := map[string]bool{}
	for i := uint32(0); i < t.leafCount(); i++ {
		l := t.Leaf(LeafIndex(i))
		if l == nil {
			continue
		}
		if enc[string(l.EncryptionKey)] || sig[string(l.SignatureKey)] {
			return ErrBadTree
		}
		enc[string(l.EncryptionKey)] = true
		sig[string(l.SignatureKey)] = true
	}
	for _, n := range t.nodes {
		if n.Parent != nil {
			if enc[string(n.Parent.EncryptionKey)] {
				return ErrBadTree
			}
			enc[string(n.Parent.EncryptionKey)] = true
		}
	}
	return nil
}

// blankPath blanks a leaf and every node on its direct path.
func (t *RatchetTree) blankPath(leaf LeafIndex) {
	x := leaf.node()
	t.nodes[x] = Node{}
	for _, p := range x.directPath(t.leafCount()) {
		t.nodes[p] = Node{}
	}
}

// addLeaf puts l in the leftmost blank leaf, growing the tree if full, and
// marks it unmerged on its non-blank ancestors (RFC 9420 §7.7).
func (t *RatchetTree) addLeaf(l *LeafNode) (LeafIndex, error) {
	n := t.leafCount()
	idx := LeafIndex(n)
	for i := uint32(0); i < n; i++ {
		if t.nodes[LeafIndex(i).node()].blank() {
			idx = LeafIndex(i)
			break
		}
	}
	if uint32(idx) == n {
		if n >= maxTreeLeaves {
			return 0, ErrBadTree
		}
		if n == 0 {
			t.nodes = make([]Node, 1)
		} else {
			t.nodes = append(t.nodes, make([]Node, len(t.nodes)+1)...)
		}
	}
	t.nodes[idx.node()] = Node{Leaf: l}
	for _, p := range idx.node().directPath(t.leafCount()) {
		if pn := t.nodes[p].Parent; pn != nil {
			pn.UnmergedLeaves = append(pn.UnmergedLeaves, idx)
		}
	}
	return idx, nil
}

// removeLeaf blanks the leaf and its path, then truncates (RFC 9420 §12.1.3).
func (t *RatchetTree) removeLeaf(leaf LeafIndex) error {
	if uint32(leaf) >= t.leafCount() || t.Leaf(leaf) == nil {
		return ErrBadValue
	}
	t.blankPath(leaf)
	t.truncate()
	return nil
}

// truncate drops the right half of the tree while it is entirely blank.
func (t *RatchetTree) truncate() {
	for t.leafCount() > 1 {
		half := (len(t.nodes) + 1) / 2
		allBlank := true
		for _, n := range t.nodes[half:] {
			if !n.blank() {
				allBlank = false
				break
			}
		}
		if !allBlank {
			return
		}
		t.nodes = t.nodes[:half-1]
	}
}

// findLeaf returns the leaf whose encryption key is key.
func (t *RatchetTree) findLeaf(encKey []byte) (LeafIndex, bool) {
	for i := uint32(0); i < t.leafCount(); i++ {
		if l := t.Leaf(LeafIndex(i)); l != nil && bytes.Equal(l.EncryptionKey, encKey) {
			return LeafIndex(i), true
		}
	}
	return 0, false
}

// updateLeaf replaces a member's leaf and blanks its direct path (RFC 9420 §12.1.2).
func (t *RatchetTree) updateLeaf(leaf LeafIndex, l *LeafNode) error {
	if uint32(leaf) >= t.leafCount() || t.Leaf(leaf) == nil {
		return ErrBadValue
	}
	t.blankPath(leaf)
	t.nodes[leaf.node()] = Node{Leaf: l}
	return nil
}
