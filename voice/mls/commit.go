package mls

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
)

// Creating commits and Welcomes (RFC 9420 §12.4), and joining from a Welcome (§12.4.3.1).

// pendingCommit is the state of the next epoch, kept until our commit is
// confirmed by coming back from the delivery service.
type pendingCommit struct {
	message []byte // encoded PublicMessage
	ctx     GroupContext
	tree    *RatchetTree
	secrets *epochSecrets
	tag     []byte
	keys    map[nodeIndex]*HPKEPrivateKey
	result  *CommitResult
}

// CommitPendingProposals commits every proposal received this epoch, by
// reference, with a fresh UpdatePath. It returns the commit as an encoded
// MLSMessage and, when members are added, the Welcome (else nil); encode it
// with Welcome.Marshal for a bare Welcome or wrap it in a Message. The group stays in its epoch until the commit is merged,
// either by MergePendingCommit or by processing the commit when the
// delivery service echoes it.
func (g *Group) CommitPendingProposals() (commit []byte, welcome *Welcome, err error) {
	var refs []ProposalOrRef
	for _, p := range g.proposals {
		refs = append(refs, ProposalOrRef{Reference: p.Ref})
	}
	return g.commit(refs)
}

func (g *Group) commit(refs []ProposalOrRef) (commitMsg []byte, welcome *Welcome, err error) {
	c := &Commit{Proposals: refs}
	ps, err := g.resolveProposals(c, g.self)
	if err != nil {
		return nil, nil, err
	}
	e, err := g.applyProposals(ps, g.self)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range e.removed {
		if r.Index == g.self {
			return nil, nil, ErrInvalidProposal
		}
	}
	newCtx := g.ctx
	newCtx.Epoch++
	newCtx.Extensions = e.extensions

	// UpdatePath: fresh leaf key, path secrets up the filtered direct path.
	tree := e.tree
	fdp := tree.filteredDirectPath(g.self)
	leafKey, err := GenerateHPKEKey()
	if err != nil {
		return nil, nil, err
	}
	pathSecrets := make([][]byte, len(fdp))
	nodeKeys := make([]*HPKEPrivateKey, len(fdp))
	pubs := make([][]byte, len(fdp))
	secret := make([]byte, hashSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, err
	}
	for i := range fdp {
		if i > 0 {
			secret = DeriveSecret(secret, "path")
		}
		pathSecrets[i] = secret
		if nodeKeys[i], err = deriveHPKEKey(DeriveSecret(secret, "node")); err != nil {
			return nil, nil, err
		}
		pubs[i] = nodeKeys[i].PublicKey()
	}
	// With an empty filtered direct path the commit secret comes from the
	// random leaf-level secret alone.
	commitSecret := DeriveSecret(secret, "path")
	old := tree.Leaf(g.self)
	leaf := *old
	leaf.EncryptionKey = leafKey.PublicKey()
	leaf.Source = LeafSourceCommit
	leaf.Lifetime = Lifetime{}
	leaf.ParentHash = tree.setPath(g.self, fdp, pubs)
	if err := leaf.sign(g.sigKey, g.ctx.GroupID, g.self); err != nil {
		return nil, nil, err
	}
	tree.nodes[g.self.node()] = Node{Leaf: &leaf}
	newCtx.TreeHash = tree.TreeHash()
	provisional := newCtx.Marshal()
	path := &UpdatePath{LeafNode: leaf, Nodes: make([]UpdatePathNode, len(fdp))}
	exclude := map[nodeIndex]bool{}
	for _, a := range e.added {
		exclude[a.node()] = true
	}
	for i, p := range fdp {
		path.Nodes[i].EncryptionKey = pubs[i]
		path.Nodes[i].EncryptedPathSecret = []HPKECiphertext{}
		for _, x := range tree.resolution(copathChild(p, g.self.node())) {
			if exclude[x] {
				continue
			}
			ct, err := EncryptWithLabel(tree.node(x).encryptionKey(), "UpdatePathNode", provisional, pathSecrets[i])
			if err != nil {
				return nil, nil, err
			}
			path.Nodes[i].EncryptedPathSecret = append(path.Nodes[i].EncryptedPathSecret, ct)
		}
	}
	c.Path = path

	// Frame and sign in the current epoch.
	pm := &PublicMessage{Content: FramedContent{
		GroupID:           g.ctx.GroupID,
		Epoch:             g.ctx.Epoch,
		Sender:            Sender{Type: SenderMember, Index: uint32(g.self)},
		AuthenticatedData: []byte{},
		ContentType:       ContentCommit,
		Commit:            c,
	}}
	if pm.Auth.Signature, err = SignWithLabel(g.sigKey, "FramedContentTBS", framedContentTBS(WireFormatPublicMessage, &pm.Content, &g.ctx)); err != nil {
		return nil, nil, err
	}
	newCtx.ConfirmedTranscriptHash = confirmedTranscriptHash(g.interim, WireFormatPublicMessage, &pm.Content, pm.Auth.Signature)
	psk, err := g.pskSecretFor(e.psks)
	if err != nil {
		return nil, nil, err
	}
	gcb := newCtx.Marshal()
	joiner := joinerSecret(g.secrets.init, commitSecret, gcb)
	secrets := deriveEpoch(joiner, psk, gcb)
	pm.Auth.ConfirmationTag = mac(secrets.confirmation, newCtx.ConfirmedTranscriptHash)
	pm.MembershipTag = membershipTag(g.secrets.membership, pm, &g.ctx)

	keys := map[nodeIndex]*HPKEPrivateKey{g.self.node(): leafKey}
	for i, p := range fdp {
		keys[p] = nodeKeys[i]
	}
	g.pendingCommit = &pendingCommit{
		message: pm.Marshal(),
		ctx:     newCtx,
		tree:    tree,
		secrets: secrets,
		tag:     pm.Auth.ConfirmationTag,
		keys:    keys,
		result:  &CommitResult{Sender: g.self, Added: e.added, Removed: e.removed},
	}
	commitMsg = (&Message{Version: ProtocolMLS10, WireFormat: WireFormatPublicMessage, PublicMessage: pm}).Marshal()
	if len(e.added) == 0 {
		return commitMsg, nil, nil
	}

	// Welcome: GroupInfo with the ratchet tree, sealed with welcome_secret;
	// GroupSecrets sealed to each new member's init key.
	gi := &GroupInfo{
		GroupContext:    newCtx,
		Extensions:      []Extension{{Type: ExtRatchetTree, Data: tree.Marshal()}},
		ConfirmationTag: pm.Auth.ConfirmationTag,
		Signer:          g.self,
	}
	if gi.Signature, err = SignWithLabel(g.sigKey, "GroupInfoTBS", encode(gi.marshalBody)); err != nil {
		return nil, nil, err
	}
	key, nonce := welcomeKeyNonce(secrets.welcome)
	egi, err := aeadSeal(key, nonce, nil, gi.Marshal())
	if err != nil {
		return nil, nil, err
	}
	w := &Welcome{CipherSuite: SuiteP256, EncryptedGroupInfo: egi}
	for i, idx := range e.added {
		kp := e.addedKPs[i]
		gs := &GroupSecrets{JoinerSecret: joiner, PSKs: e.psks}
		anc := commonAncestor(g.self.node(), idx.node())
		for j, p := range fdp {
			if p == anc {
				gs.PathSecret = pathSecrets[j]
			}
		}
		ct, err := EncryptWithLabel(kp.InitKey, "Welcome", egi, gs.Marshal())
		if err != nil {
			return nil, nil, err
		}
		w.Secrets = append(w.Secrets, EncryptedGroupSecrets{NewMember: kp.Ref(), Secrets: ct})
	}
	return commitMsg, w, nil
}

// MergePendingCommit moves the group into the epoch of its own pending commit.
func (g *Group) MergePendingCommit() error {
	pc := g.pendingCommit
	if pc == nil {
		return ErrNoPendingCommit
	}
	g.enterEpoch(pc.ctx, pc.tree, pc.secrets, pc.tag, pc.keys)
	return nil
}

// HasPendingCommit reports whether an own commit awaits confirmation.
func (g *Group) HasPendingCommit() bool { return g.pendingCommit != nil }

// ClearPendingCommit discards an own commit that lost to another member's.
func (g *Group) ClearPendingCommit() { g.pendingCommit = nil }

// openWelcome finds and decrypts our GroupSecrets and the GroupInfo.
func openWelcome(w *Welcome, kp *KeyPackageBundle, psks func([]PreSharedKeyID) ([]byte, error)) (*GroupSecrets, *GroupInfo, []byte, error) {
	if w.CipherSuite != SuiteP256 {
		return nil, nil, nil, ErrUnsupportedSuite
	}
	ref := kp.KeyPackage.Ref()
	for _, s := range w.Secrets {
		if !bytes.Equal(s.NewMember, ref) {
			continue
		}
		pt, err := DecryptWithLabel(kp.InitKey, "Welcome", w.EncryptedGroupInfo, s.Secrets)
		if err != nil {
			return nil, nil, nil, err
		}
		var gs GroupSecrets
		if err := gs.Unmarshal(pt); err != nil {
			return nil, nil, nil, err
		}
		psk, err := psks(gs.PSKs)
		if err != nil {
			return nil, nil, nil, err
		}
		key, nonce := welcomeKeyNonce(welcomeSecret(gs.JoinerSecret, psk))
		gib, err := aeadOpen(key, nonce, nil, w.EncryptedGroupInfo)
		if err != nil {
			return nil, nil, nil, err
		}
		var gi GroupInfo
		if err := gi.Unmarshal(gib); err != nil {
			return nil, nil, nil, err
		}
		return &gs, &gi, psk, nil
	}
	return nil, nil, nil, ErrNotForUs
}

// JoinFromWelcome joins a group from an encoded Welcome (the MLSMessage or
// the bare Welcome) made for kp.
func JoinFromWelcome(welcome []byte, kp *KeyPackageBundle, opts GroupOptions) (*Group, error) {
	var w Welcome
	var m Message
	if err := m.Unmarshal(welcome); err == nil && m.WireFormat == WireFormatWelcome {
		w = *m.Welcome
	} else if err := w.Unmarshal(welcome); err != nil {
		return nil, err
	}
	g := &Group{
		sigKey:       kp.SignatureKey,
		priv:         map[nodeIndex]*HPKEPrivateKey{},
		externalPSKs: opts.ExternalPSKs,
		resumption:   map[uint64][]byte{},
	}
	gs, gi, psk, err := openWelcome(&w, kp, func(ids []PreSharedKeyID) ([]byte, error) {
		for _, id := range ids {
			if id.Type != PSKExternal {
				return nil, ErrUnknownPSK // resumption PSKs need an earlier group state
			}
		}
		return g.pskSecretFor(ids)
	})
	if err != nil {
		return nil, err
	}
	gc := &gi.GroupContext
	if gc.CipherSuite != SuiteP256 || gc.Version != ProtocolMLS10 {
		return nil, ErrUnsupportedSuite
	}
	tree := opts.RatchetTree
	if d, ok := findExtension(gi.Extensions, ExtRatchetTree); ok {
		tree = new(RatchetTree)
		if err := tree.Unmarshal(d); err != nil {
			return nil, err
		}
	}
	if tree == nil {
		return nil, ErrBadTree
	}
	tree = tree.clone()
	signer := tree.Leaf(gi.Signer)
	if signer == nil {
		return nil, ErrUnknownSender
	}
	if err := VerifyWithLabel(signer.SignatureKey, "GroupInfoTBS", encode(gi.marshalBody), gi.Signature); err != nil {
		return nil, err
	}
	if !bytes.Equal(tree.TreeHash(), gc.TreeHash) {
		return nil, ErrBadTreeHash
	}
	if err := tree.verifyParentHashes(); err != nil {
		return nil, err
	}
	if err := tree.verifyLeaves(gc.GroupID); err != nil {
		return nil, err
	}
	self, ok := tree.findLeaf(kp.KeyPackage.LeafNode.EncryptionKey)
	if !ok || !bytes.Equal(tree.Leaf(self).SignatureKey, kp.KeyPackage.LeafNode.SignatureKey) {
		return nil, ErrNotForUs
	}
	g.ctx = *gc
	g.tree = tree
	g.self = self
	g.priv[self.node()] = kp.EncryptionKey
	if gs.PathSecret != nil {
		if err := g.ourPathSecretAt(commonAncestor(self.node(), gi.Signer.node()), gs.PathSecret); err != nil {
			return nil, err
		}
	}
	g.secrets = deriveEpoch(gs.JoinerSecret, psk, gc.Marshal())
	if !hmac.Equal(mac(g.secrets.confirmation, gc.ConfirmedTranscriptHash), gi.ConfirmationTag) {
		return nil, ErrBadConfirmationTag
	}
	g.interim = interimTranscriptHash(gc.ConfirmedTranscriptHash, gi.ConfirmationTag)
	g.resumption[gc.Epoch] = g.secrets.resumption
	return g, nil
}
