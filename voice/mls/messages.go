package mls

import "errors"

// Wire structures of RFC 9420 §6-§12. Every struct encodes with the TLS
// presentation language and MLS varint vector headers; decoding requires the
// exact encoding, so Unmarshal followed by Marshal reproduces the input.

// ProtocolVersion is an MLS protocol version; only mls10 exists.
type ProtocolVersion uint16

// ProtocolMLS10 is MLS 1.0 (RFC 9420 §6).
const ProtocolMLS10 ProtocolVersion = 1

// WireFormat tells which message an MLSMessage carries (RFC 9420 §6).
type WireFormat uint16

// Wire formats (RFC 9420 §17.2).
const (
	WireFormatPublicMessage  WireFormat = 1
	WireFormatPrivateMessage WireFormat = 2
	WireFormatWelcome        WireFormat = 3
	WireFormatGroupInfo      WireFormat = 4
	WireFormatKeyPackage     WireFormat = 5
)

// ContentType is the kind of content a FramedContent carries.
type ContentType uint8

// Content types (RFC 9420 §6).
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

// SenderType says who sent a message (RFC 9420 §6).
type SenderType uint8

// Sender types.
const (
	SenderMember            SenderType = 1
	SenderExternal          SenderType = 2
	SenderNewMemberProposal SenderType = 3
	SenderNewMemberCommit   SenderType = 4
)

// CredentialType is a credential kind (RFC 9420 §17.5).
type CredentialType uint16

// Credential types.
const (
	CredentialBasic CredentialType = 1
	CredentialX509  CredentialType = 2
)

// ExtensionType identifies an extension (RFC 9420 §17.3).
type ExtensionType uint16

// Extension types.
const (
	ExtApplicationID        ExtensionType = 1
	ExtRatchetTree          ExtensionType = 2
	ExtRequiredCapabilities ExtensionType = 3
	ExtExternalPub          ExtensionType = 4
	ExtExternalSenders      ExtensionType = 5
)

// ProposalType identifies a proposal kind (RFC 9420 §17.4).
type ProposalType uint16

// Proposal types.
const (
	ProposalAdd                    ProposalType = 1
	ProposalUpdate                 ProposalType = 2
	ProposalRemove                 ProposalType = 3
	ProposalPSK                    ProposalType = 4
	ProposalReInit                 ProposalType = 5
	ProposalExternalInit           ProposalType = 6
	ProposalGroupContextExtensions ProposalType = 7
)

// LeafNodeSource says why a leaf node was made (RFC 9420 §7.2).
type LeafNodeSource uint8

// Leaf node sources.
const (
	LeafSourceKeyPackage LeafNodeSource = 1
	LeafSourceUpdate     LeafNodeSource = 2
	LeafSourceCommit     LeafNodeSource = 3
)

func writeU16List(w *writer, l []uint16) {
	w.nested(func(w *writer) {
		for _, v := range l {
			w.u16(v)
		}
	})
}

func readU16List(r *reader) []uint16 {
	var l []uint16
	r.list(func(r *reader) { l = append(l, r.u16()) })
	return l
}

// Credential is a member's identity claim (RFC 9420 §5.3).
type Credential struct {
	Type         CredentialType
	Identity     []byte   // basic
	Certificates [][]byte // x509
}

func (c *Credential) marshal(w *writer) {
	w.u16(uint16(c.Type))
	switch c.Type {
	case CredentialBasic:
		w.vec(c.Identity)
	case CredentialX509:
		w.nested(func(w *writer) {
			for _, cert := range c.Certificates {
				w.vec(cert)
			}
		})
	}
}

func (c *Credential) unmarshal(r *reader) {
	c.Type = CredentialType(r.u16())
	switch c.Type {
	case CredentialBasic:
		c.Identity = r.vecCopy()
	case CredentialX509:
		r.list(func(r *reader) { c.Certificates = append(c.Certificates, r.vecCopy()) })
	default:
		r.fail(ErrBadValue)
	}
}

// Marshal encodes the credential.
func (c *Credential) Marshal() []byte { return encode(c.marshal) }

// Unmarshal decodes a credential.
func (c *Credential) Unmarshal(b []byte) error { return decodeAll(b, c.unmarshal) }

// Capabilities lists what a client supports (RFC 9420 §7.2).
type Capabilities struct {
	Versions     []uint16
	CipherSuites []uint16
	Extensions   []uint16
	Proposals    []uint16
	Credentials  []uint16
}

func (c *Capabilities) marshal(w *writer) {
	writeU16List(w, c.Versions)
	writeU16List(w, c.CipherSuites)
	writeU16List(w, c.Extensions)
	writeU16List(w, c.Proposals)
	writeU16List(w, c.Credentials)
}

func (c *Capabilities) unmarshal(r *reader) {
	c.Versions = readU16List(r)
	c.CipherSuites = readU16List(r)
	c.Extensions = readU16List(r)
	c.Proposals = readU16List(r)
	c.Credentials = readU16List(r)
}

// Marshal encodes the capabilities.
func (c *Capabilities) Marshal() []byte { return encode(c.marshal) }

// Unmarshal decodes capabilities.
func (c *Capabilities) Unmarshal(b []byte) error { return decodeAll(b, c.unmarshal) }

// Lifetime bounds a key package's validity in Unix seconds (RFC 9420 §7.2).
type Lifetime struct {
	NotBefore uint64
	NotAfter  uint64
}

func (l *Lifetime) marshal(w *writer)   { w.u64(l.NotBefore); w.u64(l.NotAfter) }
func (l *Lifetime) unmarshal(r *reader) { l.NotBefore = r.u64(); l.NotAfter = r.u64() }

// Marshal encodes the lifetime.
func (l *Lifetime) Marshal() []byte { return encode(l.marshal) }

// Unmarshal decodes a lifetime.
func (l *Lifetime) Unmarshal(b []byte) error { return decodeAll(b, l.unmarshal) }

// Extension is a typed opaque extension (RFC 9420 §13.4).
type Extension struct {
	Type ExtensionType
	Data []byte
}

func writeExtensions(w *writer, exts []Extension) {
	w.nested(func(w *writer) {
		for _, e := range exts {
			w.u16(uint16(e.Type))
			w.vec(e.Data)
		}
	})
}

func readExtensions(r *reader) []Extension {
	var exts []Extension
	r.list(func(r *reader) {
		var e Extension
		e.Type = ExtensionType(r.u16())
		e.Data = r.vecCopy()
		for _, o := range exts {
			if o.Type == e.Type {
				r.fail(ErrBadValue) // RFC 9420 §13.4: no duplicate extension types
			}
		}
		exts = append(exts, e)
	})
	return exts
}

func findExtension(exts []Extension, t ExtensionType) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == t {
			return e.Data, true
		}
	}
	return nil, false
}

// LeafNode is a member's leaf in the ratchet tree (RFC 9420 §7.2).
type LeafNode struct {
	EncryptionKey []byte
	SignatureKey  []byte
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	Lifetime      Lifetime // Source == LeafSourceKeyPackage
	ParentHash    []byte   // Source == LeafSourceCommit
	Extensions    []Extension
	Signature     []byte
}

func (l *LeafNode) marshalBody(w *writer) {
	w.vec(l.EncryptionKey)
	w.vec(l.SignatureKey)
	l.Credential.marshal(w)
	l.Capabilities.marshal(w)
	w.u8(uint8(l.Source))
	switch l.Source {
	case LeafSourceKeyPackage:
		l.Lifetime.marshal(w)
	case LeafSourceCommit:
		w.vec(l.ParentHash)
	}
	writeExtensions(w, l.Extensions)
}

func (l *LeafNode) marshal(w *writer) {
	l.marshalBody(w)
	w.vec(l.Signature)
}

func (l *LeafNode) unmarshal(r *reader) {
	l.EncryptionKey = r.vecCopy()
	l.SignatureKey = r.vecCopy()
	l.Credential.unmarshal(r)
	l.Capabilities.unmarshal(r)
	l.Source = LeafNodeSource(r.u8())
	switch l.Source {
	case LeafSourceKeyPackage:
		l.Lifetime.unmarshal(r)
	case LeafSourceUpdate:
	case LeafSourceCommit:
		l.ParentHash = r.vecCopy()
	default:
		r.fail(ErrBadValue)
	}
	l.Extensions = readExtensions(r)
	l.Signature = r.vecCopy()
}

// Marshal encodes the leaf node.
func (l *LeafNode) Marshal() []byte { return encode(l.marshal) }

// Unmarshal decodes a leaf node.
func (l *LeafNode) Unmarshal(b []byte) error { return decodeAll(b, l.unmarshal) }

// tbs is the LeafNodeTBS: the body plus, for update and commit leaves, the
// group id and leaf index the leaf is bound to.
func (l *LeafNode) tbs(groupID []byte, leaf LeafIndex) []byte {
	return encode(func(w *writer) {
		l.marshalBody(w)
		if l.Source == LeafSourceUpdate || l.Source == LeafSourceCommit {
			w.vec(groupID)
			w.u32(uint32(leaf))
		}
	})
}

func (l *LeafNode) sign(priv *SignaturePrivateKey, groupID []byte, leaf LeafIndex) error {
	sig, err := SignWithLabel(priv, "LeafNodeTBS", l.tbs(groupID, leaf))
	if err != nil {
		return err
	}
	l.Signature = sig
	return nil
}

// Verify checks the leaf's signature; groupID and leaf matter only for
// update and commit leaves.
// It also applies the self-consistency rules of RFC 9420 §7.3: the
// credential type and every non-default leaf extension must appear in the
// leaf's own capabilities.
func (l *LeafNode) Verify(groupID []byte, leaf LeafIndex) error {
	if !containsU16(l.Capabilities.Credentials, uint16(l.Credential.Type)) {
		return ErrUnsupportedCapability
	}
	for _, e := range l.Extensions {
		if e.Type > ExtExternalSenders && !containsU16(l.Capabilities.Extensions, uint16(e.Type)) {
			return ErrUnsupportedCapability
		}
	}
	return VerifyWithLabel(l.SignatureKey, "LeafNodeTBS", l.tbs(groupID, leaf), l.Signature)
}

// ErrUnsupportedCapability means a leaf uses a credential type or extension
// its capabilities do not list.
var ErrUnsupportedCapability = errors.New("mls: leaf uses a capability it does not advertise")

func containsU16(l []uint16, v uint16) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// KeyPackage advertises a client that can be added to groups (RFC 9420 §10).
type KeyPackage struct {
	Version     ProtocolVersion
	CipherSuite CipherSuite
	InitKey     []byte
	LeafNode    LeafNode
	Extensions  []Extension
	Signature   []byte
}

func (k *KeyPackage) marshalBody(w *writer) {
	w.u16(uint16(k.Version))
	w.u16(uint16(k.CipherSuite))
	w.vec(k.InitKey)
	k.LeafNode.marshal(w)
	writeExtensions(w, k.Extensions)
}

func (k *KeyPackage) marshal(w *writer) {
	k.marshalBody(w)
	w.vec(k.Signature)
}

func (k *KeyPackage) unmarshal(r *reader) {
	k.Version = ProtocolVersion(r.u16())
	k.CipherSuite = CipherSuite(r.u16())
	k.InitKey = r.vecCopy()
	k.LeafNode.unmarshal(r)
	k.Extensions = readExtensions(r)
	k.Signature = r.vecCopy()
}

// Marshal encodes the key package.
func (k *KeyPackage) Marshal() []byte { return encode(k.marshal) }

// Unmarshal decodes a key package.
func (k *KeyPackage) Unmarshal(b []byte) error { return decodeAll(b, k.unmarshal) }

// Ref is the KeyPackageRef (RFC 9420 §5.2).
func (k *KeyPackage) Ref() []byte {
	return RefHash("MLS 1.0 KeyPackage Reference", k.Marshal())
}

// Verify checks a key package as RFC 9420 §10.1 requires: suite 2, mls10,
// a key_package leaf, valid leaf and package signatures, and distinct
// init and encryption keys.
func (k *KeyPackage) Verify() error {
	if k.CipherSuite != SuiteP256 {
		return ErrUnsupportedSuite
	}
	if k.Version != ProtocolMLS10 || k.LeafNode.Source != LeafSourceKeyPackage {
		return ErrBadValue
	}
	if string(k.InitKey) == string(k.LeafNode.EncryptionKey) {
		return ErrBadValue
	}
	if err := k.LeafNode.Verify(nil, 0); err != nil {
		return err
	}
	return VerifyWithLabel(k.LeafNode.SignatureKey, "KeyPackageTBS", encode(k.marshalBody), k.Signature)
}

// PreSharedKeyID names a PSK (RFC 9420 §8.4).
type PreSharedKeyID struct {
	Type       uint8 // 1 external, 2 resumption
	ID         []byte
	Usage      uint8
	PSKGroupID []byte
	PSKEpoch   uint64
	Nonce      []byte
}

// PSK types.
const (
	PSKExternal   uint8 = 1
	PSKResumption uint8 = 2
)

func (p *PreSharedKeyID) marshal(w *writer) {
	w.u8(p.Type)
	switch p.Type {
	case PSKExternal:
		w.vec(p.ID)
	case PSKResumption:
		w.u8(p.Usage)
		w.vec(p.PSKGroupID)
		w.u64(p.PSKEpoch)
	}
	w.vec(p.Nonce)
}

func (p *PreSharedKeyID) unmarshal(r *reader) {
	p.Type = r.u8()
	switch p.Type {
	case PSKExternal:
		p.ID = r.vecCopy()
	case PSKResumption:
		p.Usage = r.u8()
		p.PSKGroupID = r.vecCopy()
		p.PSKEpoch = r.u64()
	default:
		r.fail(ErrBadValue)
	}
	p.Nonce = r.vecCopy()
}

// ReInitProposal asks to restart the group with new parameters.
type ReInitProposal struct {
	GroupID     []byte
	Version     ProtocolVersion
	CipherSuite CipherSuite
	Extensions  []Extension
}

// Proposal is one proposed change to a group (RFC 9420 §12.1). Exactly the
// field that matches Type is set.
type Proposal struct {
	Type       ProposalType
	KeyPackage *KeyPackage     // Add
	LeafNode   *LeafNode       // Update
	Removed    LeafIndex       // Remove
	PSK        *PreSharedKeyID // PreSharedKey
	ReInit     *ReInitProposal // ReInit
	KEMOutput  []byte          // ExternalInit
	Extensions []Extension     // GroupContextExtensions
}

func (p *Proposal) marshal(w *writer) {
	w.u16(uint16(p.Type))
	p.marshalBody(w)
}

func (p *Proposal) marshalBody(w *writer) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage.marshal(w)
	case ProposalUpdate:
		p.LeafNode.marshal(w)
	case ProposalRemove:
		w.u32(uint32(p.Removed))
	case ProposalPSK:
		p.PSK.marshal(w)
	case ProposalReInit:
		w.vec(p.ReInit.GroupID)
		w.u16(uint16(p.ReInit.Version))
		w.u16(uint16(p.ReInit.CipherSuite))
		writeExtensions(w, p.ReInit.Extensions)
	case ProposalExternalInit:
		w.vec(p.KEMOutput)
	case ProposalGroupContextExtensions:
		writeExtensions(w, p.Extensions)
	}
}

func (p *Proposal) unmarshal(r *reader) {
	p.Type = ProposalType(r.u16())
	p.unmarshalBody(r)
}

func (p *Proposal) unmarshalBody(r *reader) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage = new(KeyPackage)
		p.KeyPackage.unmarshal(r)
	case ProposalUpdate:
		p.LeafNode = new(LeafNode)
		p.LeafNode.unmarshal(r)
	case ProposalRemove:
		p.Removed = LeafIndex(r.u32())
	case ProposalPSK:
		p.PSK = new(PreSharedKeyID)
		p.PSK.unmarshal(r)
	case ProposalReInit:
		p.ReInit = &ReInitProposal{
			GroupID:     r.vecCopy(),
			Version:     ProtocolVersion(r.u16()),
			CipherSuite: CipherSuite(r.u16()),
		}
		p.ReInit.Extensions = readExtensions(r)
	case ProposalExternalInit:
		p.KEMOutput = r.vecCopy()
	case ProposalGroupContextExtensions:
		p.Extensions = readExtensions(r)
	default:
		r.fail(ErrBadValue)
	}
}

// Marshal encodes the proposal.
func (p *Proposal) Marshal() []byte { return encode(p.marshal) }

// Unmarshal decodes a proposal.
func (p *Proposal) Unmarshal(b []byte) error { return decodeAll(b, p.unmarshal) }

// ProposalOrRef is a proposal carried by value or by ProposalRef in a Commit.
type ProposalOrRef struct {
	Proposal  *Proposal // by value, or nil
	Reference []byte    // by reference
}

// Commit applies proposals and optionally refreshes the sender's path (RFC 9420 §12.4).
type Commit struct {
	Proposals []ProposalOrRef
	Path      *UpdatePath
}

func (c *Commit) marshal(w *writer) {
	w.nested(func(w *writer) {
		for _, p := range c.Proposals {
			if p.Proposal != nil {
				w.u8(1)
				p.Proposal.marshal(w)
			} else {
				w.u8(2)
				w.vec(p.Reference)
			}
		}
	})
	w.optional(c.Path != nil, func(w *writer) { c.Path.marshal(w) })
}

func (c *Commit) unmarshal(r *reader) {
	r.list(func(r *reader) {
		var p ProposalOrRef
		switch r.u8() {
		case 1:
			p.Proposal = new(Proposal)
			p.Proposal.unmarshal(r)
		case 2:
			p.Reference = r.vecCopy()
		default:
			r.fail(ErrBadValue)
		}
		c.Proposals = append(c.Proposals, p)
	})
	r.optional(func(r *reader) {
		c.Path = new(UpdatePath)
		c.Path.unmarshal(r)
	})
}

// Marshal encodes the commit.
func (c *Commit) Marshal() []byte { return encode(c.marshal) }

// Unmarshal decodes a commit.
func (c *Commit) Unmarshal(b []byte) error { return decodeAll(b, c.unmarshal) }

// UpdatePathNode is one refreshed parent with its path secret encrypted to
// the copath resolution (RFC 9420 §12.4.1).
type UpdatePathNode struct {
	EncryptionKey       []byte
	EncryptedPathSecret []HPKECiphertext
}

// UpdatePath is the sender's new leaf and the new keys on its filtered direct path.
type UpdatePath struct {
	LeafNode LeafNode
	Nodes    []UpdatePathNode
}

func (u *UpdatePath) marshal(w *writer) {
	u.LeafNode.marshal(w)
	w.nested(func(w *writer) {
		for _, n := range u.Nodes {
			w.vec(n.EncryptionKey)
			w.nested(func(w *writer) {
				for _, c := range n.EncryptedPathSecret {
					c.marshal(w)
				}
			})
		}
	})
}

func (u *UpdatePath) unmarshal(r *reader) {
	u.LeafNode.unmarshal(r)
	r.list(func(r *reader) {
		var n UpdatePathNode
		n.EncryptionKey = r.vecCopy()
		r.list(func(r *reader) {
			var c HPKECiphertext
			c.unmarshal(r)
			n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
		})
		u.Nodes = append(u.Nodes, n)
	})
}

// Marshal encodes the update path.
func (u *UpdatePath) Marshal() []byte { return encode(u.marshal) }

// Unmarshal decodes an update path.
func (u *UpdatePath) Unmarshal(b []byte) error { return decodeAll(b, u.unmarshal) }

// Sender identifies a message's sender (RFC 9420 §6).
type Sender struct {
	Type  SenderType
	Index uint32 // leaf index (member) or external sender index (external)
}

func (s *Sender) marshal(w *writer) {
	w.u8(uint8(s.Type))
	if s.Type == SenderMember || s.Type == SenderExternal {
		w.u32(s.Index)
	}
}

func (s *Sender) unmarshal(r *reader) {
	s.Type = SenderType(r.u8())
	switch s.Type {
	case SenderMember, SenderExternal:
		s.Index = r.u32()
	case SenderNewMemberProposal, SenderNewMemberCommit:
	default:
		r.fail(ErrBadValue)
	}
}

// FramedContent is a message body with its group, epoch and sender (RFC 9420 §6).
type FramedContent struct {
	GroupID           []byte
	Epoch             uint64
	Sender            Sender
	AuthenticatedData []byte
	ContentType       ContentType
	ApplicationData   []byte    // ContentApplication
	Proposal          *Proposal // ContentProposal
	Commit            *Commit   // ContentCommit
}

func (f *FramedContent) marshal(w *writer) {
	w.vec(f.GroupID)
	w.u64(f.Epoch)
	f.Sender.marshal(w)
	w.vec(f.AuthenticatedData)
	w.u8(uint8(f.ContentType))
	switch f.ContentType {
	case ContentApplication:
		w.vec(f.ApplicationData)
	case ContentProposal:
		f.Proposal.marshal(w)
	case ContentCommit:
		f.Commit.marshal(w)
	}
}

func (f *FramedContent) unmarshal(r *reader) {
	f.GroupID = r.vecCopy()
	f.Epoch = r.u64()
	f.Sender.unmarshal(r)
	f.AuthenticatedData = r.vecCopy()
	f.ContentType = ContentType(r.u8())
	switch f.ContentType {
	case ContentApplication:
		f.ApplicationData = r.vecCopy()
	case ContentProposal:
		f.Proposal = new(Proposal)
		f.Proposal.unmarshal(r)
	case ContentCommit:
		f.Commit = new(Commit)
		f.Commit.unmarshal(r)
	default:
		r.fail(ErrBadValue)
	}
}

// FramedContentAuthData is the signature and, for commits, the confirmation tag.
type FramedContentAuthData struct {
	Signature       []byte
	ConfirmationTag []byte
}

func (a *FramedContentAuthData) marshal(w *writer, ct ContentType) {
	w.vec(a.Signature)
	if ct == ContentCommit {
		w.vec(a.ConfirmationTag)
	}
}

func (a *FramedContentAuthData) unmarshal(r *reader, ct ContentType) {
	a.Signature = r.vecCopy()
	if ct == ContentCommit {
		a.ConfirmationTag = r.vecCopy()
	}
}

// PublicMessage is signed, unencrypted group content (RFC 9420 §6.2).
type PublicMessage struct {
	Content       FramedContent
	Auth          FramedContentAuthData
	MembershipTag []byte // member senders only
}

func (p *PublicMessage) marshal(w *writer) {
	p.Content.marshal(w)
	p.Auth.marshal(w, p.Content.ContentType)
	if p.Content.Sender.Type == SenderMember {
		w.vec(p.MembershipTag)
	}
}

func (p *PublicMessage) unmarshal(r *reader) {
	p.Content.unmarshal(r)
	p.Auth.unmarshal(r, p.Content.ContentType)
	if p.Content.Sender.Type == SenderMember {
		p.MembershipTag = r.vecCopy()
	}
}

// Marshal encodes the public message (without the MLSMessage header).
func (p *PublicMessage) Marshal() []byte { return encode(p.marshal) }

// Unmarshal decodes a public message (without the MLSMessage header).
func (p *PublicMessage) Unmarshal(b []byte) error { return decodeAll(b, p.unmarshal) }

// PrivateMessage is encrypted group content (RFC 9420 §6.3). This package
// only carries it; it does not decrypt it.
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

func (p *PrivateMessage) marshal(w *writer) {
	w.vec(p.GroupID)
	w.u64(p.Epoch)
	w.u8(uint8(p.ContentType))
	w.vec(p.AuthenticatedData)
	w.vec(p.EncryptedSenderData)
	w.vec(p.Ciphertext)
}

func (p *PrivateMessage) unmarshal(r *reader) {
	p.GroupID = r.vecCopy()
	p.Epoch = r.u64()
	p.ContentType = ContentType(r.u8())
	p.AuthenticatedData = r.vecCopy()
	p.EncryptedSenderData = r.vecCopy()
	p.Ciphertext = r.vecCopy()
}

// Marshal encodes the private message.
func (p *PrivateMessage) Marshal() []byte { return encode(p.marshal) }

// Unmarshal decodes a private message.
func (p *PrivateMessage) Unmarshal(b []byte) error { return decodeAll(b, p.unmarshal) }

// GroupContext is the state every member agrees on in an epoch (RFC 9420 §8.1).
type GroupContext struct {
	Version                 ProtocolVersion
	CipherSuite             CipherSuite
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

func (g *GroupContext) marshal(w *writer) {
	w.u16(uint16(g.Version))
	w.u16(uint16(g.CipherSuite))
	w.vec(g.GroupID)
	w.u64(g.Epoch)
	w.vec(g.TreeHash)
	w.vec(g.ConfirmedTranscriptHash)
	writeExtensions(w, g.Extensions)
}

func (g *GroupContext) unmarshal(r *reader) {
	g.Version = ProtocolVersion(r.u16())
	g.CipherSuite = CipherSuite(r.u16())
	g.GroupID = r.vecCopy()
	g.Epoch = r.u64()
	g.TreeHash = r.vecCopy()
	g.ConfirmedTranscriptHash = r.vecCopy()
	g.Extensions = readExtensions(r)
}

// Marshal encodes the group context.
func (g *GroupContext) Marshal() []byte { return encode(g.marshal) }

// Unmarshal decodes a group context.
func (g *GroupContext) Unmarshal(b []byte) error { return decodeAll(b, g.unmarshal) }

// GroupInfo describes a group to a joiner (RFC 9420 §12.4.3).
type GroupInfo struct {
	GroupContext    GroupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          LeafIndex
	Signature       []byte
}

func (g *GroupInfo) marshalBody(w *writer) {
	g.GroupContext.marshal(w)
	writeExtensions(w, g.Extensions)
	w.vec(g.ConfirmationTag)
	w.u32(uint32(g.Signer))
}

func (g *GroupInfo) marshal(w *writer) {
	g.marshalBody(w)
	w.vec(g.Signature)
}

func (g *GroupInfo) unmarshal(r *reader) {
	g.GroupContext.unmarshal(r)
	g.Extensions = readExtensions(r)
	g.ConfirmationTag = r.vecCopy()
	g.Signer = LeafIndex(r.u32())
	g.Signature = r.vecCopy()
}

// Marshal encodes the group info.
func (g *GroupInfo) Marshal() []byte { return encode(g.marshal) }

// Unmarshal decodes a group info.
func (g *GroupInfo) Unmarshal(b []byte) error { return decodeAll(b, g.unmarshal) }

// GroupSecrets is what a Welcome encrypts to each joiner (RFC 9420 §12.4.3.1).
type GroupSecrets struct {
	JoinerSecret []byte
	PathSecret   []byte // nil when absent
	PSKs         []PreSharedKeyID
}

func (g *GroupSecrets) marshal(w *writer) {
	w.vec(g.JoinerSecret)
	w.optional(g.PathSecret != nil, func(w *writer) { w.vec(g.PathSecret) })
	w.nested(func(w *writer) {
		for i := range g.PSKs {
			g.PSKs[i].marshal(w)
		}
	})
}

func (g *GroupSecrets) unmarshal(r *reader) {
	g.JoinerSecret = r.vecCopy()
	r.optional(func(r *reader) { g.PathSecret = r.vecCopy() })
	r.list(func(r *reader) {
		var p PreSharedKeyID
		p.unmarshal(r)
		g.PSKs = append(g.PSKs, p)
	})
}

// Marshal encodes the group secrets.
func (g *GroupSecrets) Marshal() []byte { return encode(g.marshal) }

// Unmarshal decodes group secrets.
func (g *GroupSecrets) Unmarshal(b []byte) error { return decodeAll(b, g.unmarshal) }

// EncryptedGroupSecrets is GroupSecrets sealed to one joiner's init key.
type EncryptedGroupSecrets struct {
	NewMember []byte // KeyPackageRef
	Secrets   HPKECiphertext
}

// Welcome brings new members into a group (RFC 9420 §12.4.3.1).
type Welcome struct {
	CipherSuite        CipherSuite
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

func (wl *Welcome) marshal(w *writer) {
	w.u16(uint16(wl.CipherSuite))
	w.nested(func(w *writer) {
		for _, s := range wl.Secrets {
			w.vec(s.NewMember)
			s.Secrets.marshal(w)
		}
	})
	w.vec(wl.EncryptedGroupInfo)
}

func (wl *Welcome) unmarshal(r *reader) {
	wl.CipherSuite = CipherSuite(r.u16())
	r.list(func(r *reader) {
		var s EncryptedGroupSecrets
		s.NewMember = r.vecCopy()
		s.Secrets.unmarshal(r)
		wl.Secrets = append(wl.Secrets, s)
	})
	wl.EncryptedGroupInfo = r.vecCopy()
}

// Marshal encodes the welcome (without the MLSMessage header).
func (wl *Welcome) Marshal() []byte { return encode(wl.marshal) }

// Unmarshal decodes a welcome (without the MLSMessage header).
func (wl *Welcome) Unmarshal(b []byte) error { return decodeAll(b, wl.unmarshal) }

// Message is an MLSMessage: a version, a wire format and one body (RFC 9420 §6).
type Message struct {
	Version        ProtocolVersion
	WireFormat     WireFormat
	PublicMessage  *PublicMessage
	PrivateMessage *PrivateMessage
	Welcome        *Welcome
	GroupInfo      *GroupInfo
	KeyPackage     *KeyPackage
}

func (m *Message) marshal(w *writer) {
	w.u16(uint16(m.Version))
	w.u16(uint16(m.WireFormat))
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage.marshal(w)
	case WireFormatPrivateMessage:
		m.PrivateMessage.marshal(w)
	case WireFormatWelcome:
		m.Welcome.marshal(w)
	case WireFormatGroupInfo:
		m.GroupInfo.marshal(w)
	case WireFormatKeyPackage:
		m.KeyPackage.marshal(w)
	}
}

func (m *Message) unmarshal(r *reader) {
	m.Version = ProtocolVersion(r.u16())
	if r.err == nil && m.Version != ProtocolMLS10 {
		r.fail(ErrBadValue)
	}
	m.WireFormat = WireFormat(r.u16())
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage = new(PublicMessage)
		m.PublicMessage.unmarshal(r)
	case WireFormatPrivateMessage:
		m.PrivateMessage = new(PrivateMessage)
		m.PrivateMessage.unmarshal(r)
	case WireFormatWelcome:
		m.Welcome = new(Welcome)
		m.Welcome.unmarshal(r)
	case WireFormatGroupInfo:
		m.GroupInfo = new(GroupInfo)
		m.GroupInfo.unmarshal(r)
	case WireFormatKeyPackage:
		m.KeyPackage = new(KeyPackage)
		m.KeyPackage.unmarshal(r)
	default:
		r.fail(ErrBadValue)
	}
}

// Marshal encodes the MLSMessage.
func (m *Message) Marshal() []byte { return encode(m.marshal) }

// Unmarshal decodes an MLSMessage.
func (m *Message) Unmarshal(b []byte) error { return decodeAll(b, m.unmarshal) }

// ExternalSender is one entry of the external_senders extension (RFC 9420 §12.1.8.1).
type ExternalSender struct {
	SignatureKey []byte
	Credential   Credential
}

// MarshalExternalSenders encodes an external_senders extension body.
func MarshalExternalSenders(s []ExternalSender) []byte {
	return encode(func(w *writer) {
		w.nested(func(w *writer) {
			for _, e := range s {
				w.vec(e.SignatureKey)
				e.Credential.marshal(w)
			}
		})
	})
}

// UnmarshalExternalSenders decodes an external_senders extension body.
func UnmarshalExternalSenders(b []byte) ([]ExternalSender, error) {
	var out []ExternalSender
	err := decodeAll(b, func(r *reader) {
		r.list(func(r *reader) {
			var e ExternalSender
			e.SignatureKey = r.vecCopy()
			e.Credential.unmarshal(r)
			out = append(out, e)
		})
	})
	return out, err
}
