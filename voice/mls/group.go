package mls

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"sort"
)

// Group state and message processing (RFC 9420 §11-§12).

var (
	// ErrWrongGroup means a message names another group.
	ErrWrongGroup = errors.New("mls: message for another group")
	// ErrWrongEpoch means a message belongs to another epoch.
	ErrWrongEpoch = errors.New("mls: message for another epoch")
	// ErrBadMembershipTag means a PublicMessage's membership tag did not verify.
	ErrBadMembershipTag = errors.New("mls: invalid membership tag")
	// ErrBadConfirmationTag means a commit's or GroupInfo's confirmation tag did not verify.
	ErrBadConfirmationTag = errors.New("mls: invalid confirmation tag")
	// ErrUnknownSender means the sender index names no member or external sender.
	ErrUnknownSender = errors.New("mls: unknown sender")
	// ErrUnknownProposal means a commit references a proposal that was not received.
	ErrUnknownProposal = errors.New("mls: commit references unknown proposal")
	// ErrInvalidProposal means a proposal is not allowed in its context.
	ErrInvalidProposal = errors.New("mls: invalid proposal")
	// ErrUnsupported means the message needs a feature this package lacks
	// (PrivateMessage, ReInit, external commits).
	ErrUnsupported = errors.New("mls: unsupported feature")
	// ErrUnknownPSK means a PSK named by a proposal or Welcome is not known.
	ErrUnknownPSK = errors.New("mls: unknown pre-shared key")
	// ErrNotForUs means a Welcome holds no secrets for our key package.
	ErrNotForUs = errors.New("mls: welcome is not for this key package")
	// ErrRemoved means the processed commit removed this member from the group.
	ErrRemoved = errors.New("mls: removed from the group")
	// ErrBadPath means an UpdatePath does not match the tree or its secrets.
	ErrBadPath = errors.New("mls: invalid update path")
	// ErrNoPendingCommit means there is no own commit waiting to be merged.
	ErrNoPendingCommit = errors.New("mls: no pending commit")
)

// Group is one member's view of an MLS group in its current epoch. A Group
// is not safe for concurrent use; its owner serializes calls.
type Group struct {
	ctx     GroupContext
	tree    *RatchetTree
	self    LeafIndex
	sigKey  *SignaturePrivateKey
	priv    map[nodeIndex]*HPKEPrivateKey
	secrets *epochSecrets
	interim []byte

	proposals []*PendingProposal // received this epoch, in order

	externalPSKs map[string][]byte
	resumption   map[uint64][]byte // epoch → resumption_psk of this group

	pendingCommit *pendingCommit
}

// PendingProposal is a proposal received in the current epoch, kept until a
// commit includes it.
type PendingProposal struct {
	Ref      []byte
	Sender   Sender
	Proposal *Proposal
}

// GroupOptions are optional inputs of CreateGroup and JoinFromWelcome.
type GroupOptions struct {
	// Extensions of the group context (CreateGroup only), e.g. external_senders.
	Extensions []Extension
	// RatchetTree to use when the Welcome carries no ratchet_tree extension.
	RatchetTree *RatchetTree
	// ExternalPSKs maps external PSK ids to their secrets.
	ExternalPSKs map[string][]byte
}

// CreateGroup starts a one-member group at epoch 0 (RFC 9420 §11).
func CreateGroup(groupID []byte, kp *KeyPackageBundle, opts GroupOptions) (*Group, error) {
	leaf := kp.KeyPackage.LeafNode
	g := &Group{
		tree:         &RatchetTree{nodes: []Node{{Leaf: &leaf}}},
		sigKey:       kp.SignatureKey,
		priv:         map[nodeIndex]*HPKEPrivateKey{0: kp.EncryptionKey},
		externalPSKs: opts.ExternalPSKs,
		resumption:   map[uint64][]byte{},
	}
	g.ctx = GroupContext{
		Version:                 ProtocolMLS10,
		CipherSuite:             SuiteP256,
		GroupID:                 append([]byte(nil), groupID...),
		TreeHash:                g.tree.TreeHash(),
		ConfirmedTranscriptHash: []byte{},
		Extensions:              opts.Extensions,
	}
	if err := g.checkExtensions(g.ctx.Extensions); err != nil {
		return nil, err
	}
	initSecret := make([]byte, hashSize)
	if _, err := rand.Read(initSecret); err != nil {
		return nil, err
	}
	gc := g.ctx.Marshal()
	g.secrets = deriveEpoch(joinerSecret(initSecret, nil, gc), nil, gc)
	g.interim = interimTranscriptHash(nil, mac(g.secrets.confirmation, nil))
	g.resumption[0] = g.secrets.resumption
	return g, nil
}

func (g *Group) checkExtensions(exts []Extension) error {
	if d, ok := findExtension(exts, ExtExternalSenders); ok {
		if _, err := UnmarshalExternalSenders(d); err != nil {
			return err
		}
	}
	return nil
}

// GroupID returns the group's id.
func (g *Group) GroupID() []byte { return g.ctx.GroupID }

// Epoch returns the current epoch number.
func (g *Group) Epoch() uint64 { return g.ctx.Epoch }

// LeafIndex returns this member's leaf.
func (g *Group) LeafIndex() LeafIndex { return g.self }

// Context returns the current group context; its slices must not be modified.
func (g *Group) Context() GroupContext { return g.ctx }

// Tree returns the ratchet tree; callers must not modify it.
func (g *Group) Tree() *RatchetTree { return g.tree }

// EpochAuthenticator returns the current epoch_authenticator (RFC 9420 §8.7).
func (g *Group) EpochAuthenticator() []byte { return append([]byte(nil), g.secrets.authentication...) }

// Exporter is MLS-Exporter(label, context, length) of the current epoch (RFC 9420 §8.5).
func (g *Group) Exporter(label string, context []byte, length int) ([]byte, error) {
	return export(g.secrets.exporter, label, context, length)
}

// Member is one occupied leaf of the tree.
type Member struct {
	Index        LeafIndex
	Identity     []byte // basic credential identity
	SignatureKey []byte
}

// Members lists the occupied leaves in index order.
func (g *Group) Members() []Member {
	var out []Member
	for i := uint32(0); i < g.tree.leafCount(); i++ {
		if l := g.tree.Leaf(LeafIndex(i)); l != nil {
			out = append(out, Member{Index: LeafIndex(i), Identity: l.Credential.Identity, SignatureKey: l.SignatureKey})
		}
	}
	return out
}

// ExternalSenders returns the group's external_senders extension, if any.
func (g *Group) ExternalSenders() []ExternalSender {
	d, ok := findExtension(g.ctx.Extensions, ExtExternalSenders)
	if !ok {
		return nil
	}
	s, _ := UnmarshalExternalSenders(d)
	return s
}

// PendingProposals returns the proposals received this epoch.
func (g *Group) PendingProposals() []*PendingProposal { return g.proposals }

// RemovePendingProposal drops a received proposal by reference and reports whether it was there.
func (g *Group) RemovePendingProposal(ref []byte) bool {
	for i, p := range g.proposals {
		if bytes.Equal(p.Ref, ref) {
			g.proposals = append(g.proposals[:i], g.proposals[i+1:]...)
			return true
		}
	}
	return false
}

// framedContentTBS is the signed part of a message (RFC 9420 §6.1).
func framedContentTBS(wf WireFormat, c *FramedContent, gc *GroupContext) []byte {
	return encode(func(w *writer) {
		w.u16(uint16(ProtocolMLS10))
		w.u16(uint16(wf))
		c.marshal(w)
		if c.Sender.Type == SenderMember || c.Sender.Type == SenderNewMemberCommit {
			gc.marshal(w)
		}
	})
}

// membershipTag is MAC(membership_key, AuthenticatedContentTBM) (RFC 9420 §6.2).
func membershipTag(key []byte, pm *PublicMessage, gc *GroupContext) []byte {
	tbm := framedContentTBS(WireFormatPublicMessage, &pm.Content, gc)
	tbm = append(tbm, encode(func(w *writer) { pm.Auth.marshal(w, pm.Content.ContentType) })...)
	return mac(key, tbm)
}

// verifyPublicMessage checks group, epoch, membership tag and signature and
// returns the sender's signature key.
func (g *Group) verifyPublicMessage(pm *PublicMessage) error {
	c := &pm.Content
	if !bytes.Equal(c.GroupID, g.ctx.GroupID) {
		return ErrWrongGroup
	}
	if c.Epoch != g.ctx.Epoch {
		return ErrWrongEpoch
	}
	var sigKey []byte
	switch c.Sender.Type {
	case SenderMember:
		l := g.tree.Leaf(LeafIndex(c.Sender.Index))
		if l == nil {
			return ErrUnknownSender
		}
		if !hmac.Equal(membershipTag(g.secrets.membership, pm, &g.ctx), pm.MembershipTag) {
			return ErrBadMembershipTag
		}
		sigKey = l.SignatureKey
	case SenderExternal:
		es := g.ExternalSenders()
		if int(c.Sender.Index) >= len(es) || c.ContentType != ContentProposal {
			return ErrUnknownSender
		}
		sigKey = es[c.Sender.Index].SignatureKey
	case SenderNewMemberProposal:
		if c.ContentType != ContentProposal || c.Proposal.Type != ProposalAdd {
			return ErrInvalidProposal
		}
		sigKey = c.Proposal.KeyPackage.LeafNode.SignatureKey
	default:
		return ErrUnsupported // new_member_commit: external commits
	}
	if c.ContentType == ContentApplication {
		return ErrInvalidProposal // application data must be encrypted (RFC 9420 §6.2)
	}
	return VerifyWithLabel(sigKey, "FramedContentTBS", framedContentTBS(WireFormatPublicMessage, c, &g.ctx), pm.Auth.Signature)
}

// Processed describes what ProcessMessage did.
type Processed struct {
	// Proposal is set when a proposal was verified and queued.
	Proposal *PendingProposal
	// Commit is set when a commit was applied; the group is in a new epoch.
	Commit *CommitResult
}

// CommitResult summarizes an applied commit.
type CommitResult struct {
	Sender  LeafIndex
	Added   []LeafIndex
	Removed []Member
}

// ProcessMessage handles an encoded MLSMessage carrying a PublicMessage.
func (g *Group) ProcessMessage(b []byte) (*Processed, error) {
	var m Message
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	if m.WireFormat != WireFormatPublicMessage {
		return nil, ErrUnsupported
	}
	return g.ProcessPublicMessage(m.PublicMessage)
}

// ProcessPublicMessage verifies a proposal (queueing it) or applies a
// commit. An own commit made by CommitPendingProposals is merged from the
// saved state when it comes back.
func (g *Group) ProcessPublicMessage(pm *PublicMessage) (*Processed, error) {
	if pm.Content.ContentType == ContentCommit && g.pendingCommit != nil &&
		pm.Content.Sender.Type == SenderMember && LeafIndex(pm.Content.Sender.Index) == g.self &&
		bytes.Equal(pm.Marshal(), g.pendingCommit.message) {
		res := g.pendingCommit.result
		if err := g.MergePendingCommit(); err != nil {
			return nil, err
		}
		return &Processed{Commit: res}, nil
	}
	if err := g.verifyPublicMessage(pm); err != nil {
		return nil, err
	}
	switch pm.Content.ContentType {
	case ContentProposal:
		ac := AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}
		p := &PendingProposal{Ref: ac.ProposalRef(), Sender: pm.Content.Sender, Proposal: pm.Content.Proposal}
		if err := g.checkProposal(p); err != nil {
			return nil, err
		}
		g.proposals = append(g.proposals, p)
		return &Processed{Proposal: p}, nil
	case ContentCommit:
		if pm.Content.Sender.Type != SenderMember {
			return nil, ErrUnsupported
		}
		res, err := g.applyCommit(pm)
		if err != nil {
			return nil, err
		}
		return &Processed{Commit: res}, nil
	}
	return nil, ErrBadValue
}

// checkProposal validates a proposal on its own (RFC 9420 §12.1).
func (g *Group) checkProposal(p *PendingProposal) error {
	switch p.Proposal.Type {
	case ProposalAdd:
		return p.Proposal.KeyPackage.Verify()
	case ProposalRemove:
		if g.tree.Leaf(p.Proposal.Removed) == nil {
			return ErrInvalidProposal
		}
	case ProposalUpdate:
		if p.Sender.Type != SenderMember {
			return ErrInvalidProposal
		}
		l := p.Proposal.LeafNode
		if l.Source != LeafSourceUpdate {
			return ErrInvalidProposal
		}
		return l.Verify(g.ctx.GroupID, LeafIndex(p.Sender.Index))
	case ProposalPSK, ProposalGroupContextExtensions:
	default:
		return ErrUnsupported
	}
	return nil
}

// resolveProposals turns a commit's list into proposals with their senders.
func (g *Group) resolveProposals(c *Commit, committer LeafIndex) ([]*PendingProposal, error) {
	var out []*PendingProposal
	for _, por := range c.Proposals {
		if por.Proposal != nil {
			p := &PendingProposal{Sender: Sender{Type: SenderMember, Index: uint32(committer)}, Proposal: por.Proposal}
			if err := g.checkProposal(p); err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		var found *PendingProposal
		for _, p := range g.proposals {
			if bytes.Equal(p.Ref, por.Reference) {
				found = p
				break
			}
		}
		if found == nil {
			return nil, ErrUnknownProposal
		}
		out = append(out, found)
	}
	return out, nil
}

// proposalEffects is the result of applying a proposal list to a tree.
type proposalEffects struct {
	tree       *RatchetTree
	extensions []Extension
	added      []LeafIndex
	addedKPs   []*KeyPackage
	removed    []Member
	psks       []PreSharedKeyID
	pathNeeded bool
}

// applyProposals applies proposals in the order RFC 9420 §12.3 requires:
// GroupContextExtensions, Update, Remove, Add, then PSKs.
func (g *Group) applyProposals(ps []*PendingProposal, committer LeafIndex) (*proposalEffects, error) {
	e := &proposalEffects{tree: g.tree.clone(), extensions: g.ctx.Extensions, pathNeeded: len(ps) == 0}
	byType := func(t ProposalType) []*PendingProposal {
		var out []*PendingProposal
		for _, p := range ps {
			if p.Proposal.Type == t {
				out = append(out, p)
			}
		}
		return out
	}
	for _, p := range ps {
		switch p.Proposal.Type {
		case ProposalAdd, ProposalRemove, ProposalUpdate, ProposalPSK, ProposalGroupContextExtensions:
		default:
			return nil, ErrUnsupported
		}
	}
	if gce := byType(ProposalGroupContextExtensions); len(gce) > 0 {
		if len(gce) > 1 {
			return nil, ErrInvalidProposal
		}
		if err := g.checkExtensions(gce[0].Proposal.Extensions); err != nil {
			return nil, err
		}
		e.extensions = gce[0].Proposal.Extensions
		e.pathNeeded = true
	}
	touched := map[LeafIndex]bool{} // RFC 9420 §12.2: one Update or Remove per leaf
	for _, p := range byType(ProposalUpdate) {
		sender := LeafIndex(p.Sender.Index)
		if sender == committer || touched[sender] {
			return nil, ErrInvalidProposal
		}
		touched[sender] = true
		if err := e.tree.updateLeaf(sender, p.Proposal.LeafNode); err != nil {
			return nil, ErrInvalidProposal
		}
		e.pathNeeded = true
	}
	for _, p := range byType(ProposalRemove) {
		idx := p.Proposal.Removed
		l := e.tree.Leaf(idx)
		if l == nil || idx == committer || touched[idx] {
			return nil, ErrInvalidProposal
		}
		touched[idx] = true
		e.removed = append(e.removed, Member{Index: idx, Identity: l.Credential.Identity, SignatureKey: l.SignatureKey})
		e.tree.blankPath(idx)
		e.pathNeeded = true
	}
	e.tree.truncate()
	for _, p := range byType(ProposalAdd) {
		kp := p.Proposal.KeyPackage
		leaf := kp.LeafNode
		idx, err := e.tree.addLeaf(&leaf)
		if err != nil {
			return nil, err
		}
		e.added = append(e.added, idx)
		e.addedKPs = append(e.addedKPs, kp)
	}
	if err := e.tree.checkUniqueKeys(); err != nil {
		return nil, ErrInvalidProposal // e.g. adding a key package whose keys are already in the group
	}
	for _, p := range byType(ProposalPSK) {
		e.psks = append(e.psks, *p.Proposal.PSK)
	}
	return e, nil
}

// pskSecretFor looks up the PSKs and derives psk_secret.
func (g *Group) pskSecretFor(ids []PreSharedKeyID) ([]byte, error) {
	var in []pskInput
	for _, id := range ids {
		var psk []byte
		switch id.Type {
		case PSKExternal:
			v, ok := g.externalPSKs[string(id.ID)]
			if !ok {
				return nil, ErrUnknownPSK
			}
			psk = v
		case PSKResumption:
			v, ok := g.resumption[id.PSKEpoch]
			if !ok || !bytes.Equal(id.PSKGroupID, g.ctx.GroupID) {
				return nil, ErrUnknownPSK
			}
			psk = v
		}
		in = append(in, pskInput{id: id, psk: psk})
	}
	return pskSecret(in), nil
}

// applyCommit processes a commit from another member (RFC 9420 §12.4.2).
func (g *Group) applyCommit(pm *PublicMessage) (*CommitResult, error) {
	committer := LeafIndex(pm.Content.Sender.Index)
	commit := pm.Content.Commit
	ps, err := g.resolveProposals(commit, committer)
	if err != nil {
		return nil, err
	}
	e, err := g.applyProposals(ps, committer)
	if err != nil {
		return nil, err
	}
	if e.pathNeeded && commit.Path == nil {
		return nil, ErrBadPath
	}
	removedSelf := false
	for _, r := range e.removed {
		if r.Index == g.self {
			removedSelf = true
		}
	}
	newCtx := g.ctx
	newCtx.Epoch++
	newCtx.Extensions = e.extensions
	var commitSecret []byte
	keys := map[nodeIndex]*HPKEPrivateKey{}
	if commit.Path != nil {
		if err := e.tree.mergePath(committer, commit.Path, g.ctx.GroupID); err != nil {
			return nil, err
		}
		newCtx.TreeHash = e.tree.TreeHash()
		if !removedSelf {
			_, commitSecret, keys, err = g.decryptPath(e.tree, e.added, committer, commit.Path, &newCtx)
			if err != nil {
				return nil, err
			}
		}
	} else {
		newCtx.TreeHash = e.tree.TreeHash()
	}
	if removedSelf {
		return nil, ErrRemoved
	}
	newCtx.ConfirmedTranscriptHash = confirmedTranscriptHash(g.interim, WireFormatPublicMessage, &pm.Content, pm.Auth.Signature)
	psk, err := g.pskSecretFor(e.psks)
	if err != nil {
		return nil, err
	}
	gc := newCtx.Marshal()
	secrets := deriveEpoch(joinerSecret(g.secrets.init, commitSecret, gc), psk, gc)
	if !hmac.Equal(mac(secrets.confirmation, newCtx.ConfirmedTranscriptHash), pm.Auth.ConfirmationTag) {
		return nil, ErrBadConfirmationTag
	}
	g.enterEpoch(newCtx, e.tree, secrets, pm.Auth.ConfirmationTag, keys)
	return &CommitResult{Sender: committer, Added: e.added, Removed: e.removed}, nil
}

// enterEpoch installs the state of the next epoch.
func (g *Group) enterEpoch(ctx GroupContext, tree *RatchetTree, s *epochSecrets, confirmationTag []byte, keys map[nodeIndex]*HPKEPrivateKey) {
	g.ctx = ctx
	g.tree = tree
	g.secrets = s
	g.interim = interimTranscriptHash(ctx.ConfirmedTranscriptHash, confirmationTag)
	g.proposals = nil
	g.pendingCommit = nil
	for x, k := range keys {
		g.priv[x] = k
	}
	// Keep only private keys that still match the tree.
	for x, k := range g.priv {
		if !bytes.Equal(tree.node(x).encryptionKey(), k.PublicKey()) {
			delete(g.priv, x)
		}
	}
	g.resumption[ctx.Epoch] = s.resumption
	// Resumption PSKs of old epochs are kept for a bounded window.
	if len(g.resumption) > 16 {
		var epochs []uint64
		for ep := range g.resumption {
			epochs = append(epochs, ep)
		}
		sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
		for _, ep := range epochs[:len(epochs)-16] {
			delete(g.resumption, ep)
		}
	}
}

// mergePath installs a received UpdatePath into the tree (RFC 9420 §12.4.2):
// the sender's new leaf, the new parent keys on its filtered direct path,
// blanks elsewhere on its direct path, and the parent-hash chain, which must
// end at the leaf's parent_hash.
func (t *RatchetTree) mergePath(sender LeafIndex, path *UpdatePath, groupID []byte) error {
	leaf := path.LeafNode
	if leaf.Source != LeafSourceCommit || t.Leaf(sender) == nil {
		return ErrBadPath
	}
	if err := leaf.Verify(groupID, sender); err != nil {
		return err
	}
	fdp := t.filteredDirectPath(sender)
	if len(fdp) != len(path.Nodes) {
		return ErrBadPath
	}
	keys := make([][]byte, len(fdp))
	for i := range fdp {
		keys[i] = path.Nodes[i].EncryptionKey
	}
	ph := t.setPath(sender, fdp, keys)
	if !bytes.Equal(ph, leaf.ParentHash) {
		return ErrBadParentHash
	}
	l := leaf
	t.nodes[sender.node()] = Node{Leaf: &l}
	return nil
}

// setPath blanks sender's direct path, installs new parent nodes with keys
// on fdp and their parent hashes top-down, and returns the parent hash the
// sender's leaf must carry.
func (t *RatchetTree) setPath(sender LeafIndex, fdp []nodeIndex, keys [][]byte) []byte {
	n := t.leafCount()
	for _, p := range sender.node().directPath(n) {
		t.nodes[p] = Node{}
	}
	for i, p := range fdp {
		t.nodes[p] = Node{Parent: &ParentNode{EncryptionKey: keys[i], ParentHash: []byte{}}}
	}
	// child-on-path of each fdp node determines the sibling used for the hash.
	ph := []byte{}
	for i := len(fdp) - 1; i >= 0; i-- {
		t.nodes[fdp[i]].Parent.ParentHash = ph
		ph = t.parentHash(fdp[i], copathChild(fdp[i], sender.node()))
	}
	return ph
}

// copathChild is the child of ancestor p that does not contain x.
func copathChild(p, x nodeIndex) nodeIndex {
	l, _ := p.left()
	r, _ := p.right()
	if l.isAncestor(x) {
		return r
	}
	return l
}

func pathChild(p, x nodeIndex) nodeIndex {
	l, _ := p.left()
	r, _ := p.right()
	if l.isAncestor(x) {
		return l
	}
	return r
}

// decryptPath finds the path secret encrypted to us and derives the new
// private keys and the commit secret (RFC 9420 §12.4.2).
// It returns the decrypted path secret, the commit secret and the keys.
func (g *Group) decryptPath(tree *RatchetTree, added []LeafIndex, sender LeafIndex, path *UpdatePath, newCtx *GroupContext) (pathSecret, commitSecret []byte, keys map[nodeIndex]*HPKEPrivateKey, err error) {
	// Merging a path does not change the resolutions of copath nodes, so
	// the filtered direct path on the merged tree is the sender's.
	fdp := tree.filteredDirectPath(sender)
	self := g.self.node()
	k := -1
	for i, p := range fdp {
		if p.isAncestor(self) {
			k = i
			break
		}
	}
	if k < 0 {
		return nil, nil, nil, ErrBadPath
	}
	exclude := map[nodeIndex]bool{}
	for _, a := range added {
		exclude[a.node()] = true
	}
	var res []nodeIndex
	for _, x := range tree.resolution(pathChild(fdp[k], self)) {
		if !exclude[x] {
			res = append(res, x)
		}
	}
	if len(res) != len(path.Nodes[k].EncryptedPathSecret) {
		return nil, nil, nil, ErrBadPath
	}
	pos := -1
	var key *HPKEPrivateKey
	for i, x := range res {
		if pk, ok := g.priv[x]; ok && bytes.Equal(pk.PublicKey(), tree.node(x).encryptionKey()) {
			pos, key = i, pk
			break
		}
	}
	if pos < 0 {
		return nil, nil, nil, ErrBadPath
	}
	secret, err := DecryptWithLabel(key, "UpdatePathNode", newCtx.Marshal(), path.Nodes[k].EncryptedPathSecret[pos])
	if err != nil {
		return nil, nil, nil, err
	}
	pathSecret = secret
	keys = map[nodeIndex]*HPKEPrivateKey{}
	for i := k; i < len(fdp); i++ {
		if i > k {
			secret = DeriveSecret(secret, "path")
		}
		nk, err := deriveHPKEKey(DeriveSecret(secret, "node"))
		if err != nil {
			return nil, nil, nil, err
		}
		if !bytes.Equal(nk.PublicKey(), path.Nodes[i].EncryptionKey) {
			return nil, nil, nil, ErrBadPath
		}
		keys[fdp[i]] = nk
	}
	return pathSecret, DeriveSecret(secret, "path"), keys, nil
}

// ourPathSecretAt derives private keys from a path secret placed at node x
// upward along our filtered direct path (used when joining).
func (g *Group) ourPathSecretAt(x nodeIndex, secret []byte) error {
	fdp := g.tree.filteredDirectPath(g.self)
	start := -1
	for i, p := range fdp {
		if p == x {
			start = i
		}
	}
	if start < 0 {
		return ErrBadPath
	}
	for i := start; i < len(fdp); i++ {
		if i > start {
			secret = DeriveSecret(secret, "path")
		}
		nk, err := deriveHPKEKey(DeriveSecret(secret, "node"))
		if err != nil {
			return err
		}
		if !bytes.Equal(nk.PublicKey(), g.tree.node(fdp[i]).encryptionKey()) {
			return ErrBadPath
		}
		g.priv[fdp[i]] = nk
	}
	return nil
}
