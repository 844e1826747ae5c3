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

// Marshal encodes one ExternalSender (as DAVE's external sender package carries it).
func (e *ExternalSender) Marshal() []byte {
	return encode(func(w *writer) {
		w.vec(e.SignatureKey)
		e.Credential.marshal(w)
	})
}

// Unmarshal decodes one ExternalSender.
func (e *ExternalSender) Unmarshal(b []byte) error {
	return decodeAll(b, func(r *reader) {
		e.SignatureKey = r.vecCopy()
		e.Credential.unmarshal(r)
	})
}

// MarshalMessages encodes MLSMessage messages<V>: already-encoded messages
// concatenated inside one variable-length vector.
func MarshalMessages(msgs [][]byte) []byte {
	return encode(func(w *writer) {
		w.nested(func(w *writer) {
			for _, m := range msgs {
				w.raw(m)
			}
		})
	})
}

// UnmarshalMessages splits MLSMessage messages<V> into the encoded messages.
func UnmarshalMessages(b []byte) ([][]byte, error) {
	var out [][]byte
	err := decodeAll(b, func(r *reader) {
		r.list(func(r *reader) {
			start := r.b
			var m Message
			m.unmarshal(r)
			if r.err == nil {
				out = append(out, start[:len(start)-len(r.b):len(start)-len(r.b)])
			}
		})
	})
	return out, err
}

// MarshalRefs encodes ProposalRef refs<V> (each ref an opaque<V>).
func MarshalRefs(refs [][]byte) []byte {
	return encode(func(w *writer) {
		w.nested(func(w *writer) {
			for _, r := range refs {
				w.vec(r)
			}
		})
	})
}

// UnmarshalRefs decodes ProposalRef refs<V>.
func UnmarshalRefs(b []byte) ([][]byte, error) {
	var out [][]byte
	err := decodeAll(b, func(r *reader) {
		r.list(func(r *reader) { out = append(out, r.vecCopy()) })
	})
	return out, err
}

// AppendVarint appends an MLS variable-length vector header for n (RFC 9420
// §2.1.2); n must be below 2^30.
func AppendVarint(b []byte, n int) []byte { return appendVarint(b, n) }

// ReadVarint decodes a vector header at the start of b and returns the
// length it announces and the header's size.
func ReadVarint(b []byte) (n, size int, err error) { return decodeVarint(b) }
