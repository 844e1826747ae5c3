package mls

// Messages from an external sender (RFC 9420 §12.1.8): a party outside the
// group, listed in the group's external_senders extension, that proposes
// Add and Remove. DAVE's voice gateway plays this role.

// NewExternalProposal frames p as a PublicMessage from external sender
// senderIndex, signs it with key and returns the encoded MLSMessage.
func NewExternalProposal(groupID []byte, epoch uint64, senderIndex uint32, p *Proposal, key *SignaturePrivateKey) ([]byte, error) {
	pm := &PublicMessage{Content: FramedContent{
		GroupID:           groupID,
		Epoch:             epoch,
		Sender:            Sender{Type: SenderExternal, Index: senderIndex},
		AuthenticatedData: []byte{},
		ContentType:       ContentProposal,
		Proposal:          p,
	}}
	sig, err := SignWithLabel(key, "FramedContentTBS", framedContentTBS(WireFormatPublicMessage, &pm.Content, nil))
	if err != nil {
		return nil, err
	}
	pm.Auth.Signature = sig
	return (&Message{Version: ProtocolMLS10, WireFormat: WireFormatPublicMessage, PublicMessage: pm}).Marshal(), nil
}

// ProposalRefOf returns the ProposalRef of an encoded MLSMessage carrying a
// proposal in a PublicMessage, as commits and DAVE revocations name it.
func ProposalRefOf(msg []byte) ([]byte, error) {
	var m Message
	if err := m.Unmarshal(msg); err != nil {
		return nil, err
	}
	if m.PublicMessage == nil || m.PublicMessage.Content.ContentType != ContentProposal {
		return nil, ErrBadValue
	}
	ac := AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: m.PublicMessage.Content, Auth: m.PublicMessage.Auth}
	return ac.ProposalRef(), nil
}

// AddProposal returns an Add proposal for kp.
func AddProposal(kp *KeyPackage) *Proposal { return &Proposal{Type: ProposalAdd, KeyPackage: kp} }

// RemoveProposal returns a Remove proposal for the member at leaf.
func RemoveProposal(leaf LeafIndex) *Proposal { return &Proposal{Type: ProposalRemove, Removed: leaf} }

// ExternalSendersExtension returns the group context extension listing senders.
func ExternalSendersExtension(senders []ExternalSender) Extension {
	return Extension{Type: ExtExternalSenders, Data: MarshalExternalSenders(senders)}
}
