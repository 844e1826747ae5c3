package mls

import "bytes"

// ExternalView follows a group's public state from outside, as a delivery
// service or external sender does: the ratchet tree, the epoch and the
// proposals in flight, learned from the proposals it sees and the commits it
// relays. It holds no secrets, so it cannot check membership tags,
// confirmation tags or member signatures (the transcript needs a secret);
// it checks what is public: group, epoch, proposal references, the leaf
// signature and parent hashes of update paths.
type ExternalView struct {
	g *Group // a state shell: tree, context and proposals, no secrets
}

// NewExternalView starts following a group at epoch 0 that creator's key
// package created (its leaf is leaf 0).
func NewExternalView(groupID []byte, creator *KeyPackage, extensions []Extension) *ExternalView {
	leaf := creator.LeafNode
	return &ExternalView{g: &Group{
		tree: &RatchetTree{nodes: []Node{{Leaf: &leaf}}},
		ctx: GroupContext{Version: ProtocolMLS10, CipherSuite: SuiteP256,
			GroupID: append([]byte(nil), groupID...), Extensions: extensions},
	}}
}

// Epoch returns the epoch the view is in.
func (v *ExternalView) Epoch() uint64 { return v.g.ctx.Epoch }

// Members lists the occupied leaves.
func (v *ExternalView) Members() []Member { return v.g.Members() }

// Tree returns the public ratchet tree; callers must not modify it.
func (v *ExternalView) Tree() *RatchetTree { return v.g.tree }

// LeafOf returns the leaf of the member whose basic credential identity is id.
func (v *ExternalView) LeafOf(id []byte) (LeafIndex, bool) {
	for _, m := range v.g.Members() {
		if bytes.Equal(m.Identity, id) {
			return m.Index, true
		}
	}
	return 0, false
}

// AddProposal records a proposal MLSMessage of the current epoch (for
// example one the external sender issued) and returns its reference.
func (v *ExternalView) AddProposal(msg []byte) ([]byte, error) {
	pm, err := v.publicMessage(msg, ContentProposal)
	if err != nil {
		return nil, err
	}
	ac := AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}
	p := &PendingProposal{Ref: ac.ProposalRef(), Sender: pm.Content.Sender, Proposal: pm.Content.Proposal}
	if err := v.g.checkProposal(p); err != nil {
		return nil, err
	}
	v.g.proposals = append(v.g.proposals, p)
	return p.Ref, nil
}

// RemoveProposal forgets a recorded proposal (a revocation).
func (v *ExternalView) RemoveProposal(ref []byte) bool { return v.g.RemovePendingProposal(ref) }

// ApplyCommit applies a commit MLSMessage of the current epoch to the
// public tree and moves to the next epoch.
func (v *ExternalView) ApplyCommit(msg []byte) (*CommitResult, error) {
	pm, err := v.publicMessage(msg, ContentCommit)
	if err != nil {
		return nil, err
	}
	if pm.Content.Sender.Type != SenderMember {
		return nil, ErrUnsupported
	}
	committer := LeafIndex(pm.Content.Sender.Index)
	if v.g.tree.Leaf(committer) == nil {
		return nil, ErrUnknownSender
	}
	commit := pm.Content.Commit
	ps, err := v.g.resolveProposals(commit, committer)
	if err != nil {
		return nil, err
	}
	e, err := v.g.applyProposals(ps, committer)
	if err != nil {
		return nil, err
	}
	if e.pathNeeded && commit.Path == nil {
		return nil, ErrBadPath
	}
	if commit.Path != nil {
		if err := e.tree.mergePath(committer, commit.Path, v.g.ctx.GroupID); err != nil {
			return nil, err
		}
	}
	v.g.tree = e.tree
	v.g.ctx.Extensions = e.extensions
	v.g.ctx.Epoch++
	v.g.proposals = nil
	return &CommitResult{Sender: committer, Added: e.added, Removed: e.removed}, nil
}

func (v *ExternalView) publicMessage(msg []byte, ct ContentType) (*PublicMessage, error) {
	var m Message
	if err := m.Unmarshal(msg); err != nil {
		return nil, err
	}
	if m.PublicMessage == nil {
		return nil, ErrUnsupported
	}
	pm := m.PublicMessage
	if !bytes.Equal(pm.Content.GroupID, v.g.ctx.GroupID) {
		return nil, ErrWrongGroup
	}
	if pm.Content.Epoch != v.g.ctx.Epoch {
		return nil, ErrWrongEpoch
	}
	if pm.Content.ContentType != ct {
		return nil, ErrBadValue
	}
	return pm, nil
}
