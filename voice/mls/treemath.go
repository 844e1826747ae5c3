package mls

import "math/bits"

// Array-based ratchet tree arithmetic (RFC 9420 §4.1, Appendix C). Leaves sit
// at even node indexes, parents at odd ones; a tree of n leaves (n a power of
// two) has 2n-1 nodes and its root at 2^k - 1.

// nodeIndex is the index of a node in the array representation of a tree.
type nodeIndex uint32

// LeafIndex is the position of a member's leaf among the tree's leaves.
type LeafIndex uint32

func (l LeafIndex) node() nodeIndex { return nodeIndex(2 * l) }

func (x nodeIndex) isLeaf() bool    { return x&1 == 0 }
func (x nodeIndex) leaf() LeafIndex { return LeafIndex(x / 2) }

// level is the height of x above the leaves (number of trailing one bits).
func (x nodeIndex) level() uint { return uint(bits.TrailingZeros32(^uint32(x))) }

// nodeWidth is the number of nodes in a tree with n leaves.
func nodeWidth(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 2*(n-1) + 1
}

// root is the root node of a tree with n leaves (n a power of two).
func root(n uint32) nodeIndex {
	w := nodeWidth(n)
	return nodeIndex(1<<(bits.Len32(w)-1) - 1)
}

func (x nodeIndex) left() (nodeIndex, bool) {
	k := x.level()
	if k == 0 {
		return 0, false
	}
	return x ^ (1 << (k - 1)), true
}

func (x nodeIndex) right() (nodeIndex, bool) {
	k := x.level()
	if k == 0 {
		return 0, false
	}
	return x ^ (3 << (k - 1)), true
}

// parent returns x's parent in a tree of n leaves.
func (x nodeIndex) parent(n uint32) (nodeIndex, bool) {
	if x == root(n) || uint32(x) >= nodeWidth(n) {
		return 0, false
	}
	k := x.level()
	b := (x >> (k + 1)) & 1
	return (x | (1 << k)) ^ (b << (k + 1)), true
}

func (x nodeIndex) sibling(n uint32) (nodeIndex, bool) {
	p, ok := x.parent(n)
	if !ok {
		return 0, false
	}
	if x < p {
		return p.right()
	}
	return p.left()
}

// directPath lists x's ancestors from its parent to the root.
func (x nodeIndex) directPath(n uint32) []nodeIndex {
	var d []nodeIndex
	for {
		p, ok := x.parent(n)
		if !ok {
			return d
		}
		d = append(d, p)
		x = p
	}
}

// isAncestor reports whether a is an ancestor of (or equal to) x.
func (a nodeIndex) isAncestor(x nodeIndex) bool {
	k := a.level()
	return x>>(k+1) == a>>(k+1)
}

// commonAncestor is the lowest node that is an ancestor of both x and y.
func commonAncestor(x, y nodeIndex) nodeIndex {
	lx, ly := x.level()+1, y.level()+1
	if lx <= ly && x>>ly == y>>ly {
		return y
	}
	if ly <= lx && x>>lx == y>>lx {
		return x
	}
	xn, yn := x, y
	k := uint(0)
	for xn != yn {
		xn >>= 1
		yn >>= 1
		k++
	}
	return (xn << k) + (1 << (k - 1)) - 1
}
