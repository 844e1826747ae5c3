package mls

import (
	"crypto/rand"
	"errors"
)

// PrivateMessage protection (RFC 9420 §6.3) as stand-alone functions over a
// secret tree. Group does not use them: DAVE sends handshake messages as
// PublicMessage. They are here so the working group's message-protection
// vectors can check the secret tree and the framing.

// ErrBadPadding means a decrypted PrivateMessageContent had non-zero padding.
var ErrBadPadding = errors.New("mls: non-zero padding in private message")

// messageKeys names the secrets that protect PrivateMessages of one epoch.
type messageKeys struct {
	senderDataSecret []byte
	encryptionSecret []byte
	leafCount        uint32
}

func (k *messageKeys) contentKeyNonce(leaf LeafIndex, ct ContentType, gen uint32) ([]byte, []byte, error) {
	if uint32(leaf) >= k.leafCount {
		return nil, nil, ErrUnknownSender
	}
	kind := ratchetApplication
	if ct != ContentApplication {
		kind = ratchetHandshake
	}
	key, nonce, ok := ratchetKeyNonce(leafTreeSecret(k.encryptionSecret, k.leafCount, leaf), kind, gen)
	if !ok {
		return nil, nil, ErrBadValue
	}
	return key, nonce, nil
}

func privateContentAAD(pm *PrivateMessage) []byte {
	return encode(func(w *writer) {
		w.vec(pm.GroupID)
		w.u64(pm.Epoch)
		w.u8(uint8(pm.ContentType))
		w.vec(pm.AuthenticatedData)
	})
}

func senderDataAAD(pm *PrivateMessage) []byte {
	return encode(func(w *writer) {
		w.vec(pm.GroupID)
		w.u64(pm.Epoch)
		w.u8(uint8(pm.ContentType))
	})
}

// encryptPrivateMessage signs c as a member and encrypts it at generation gen.
func encryptPrivateMessage(k *messageKeys, c *FramedContent, gc *GroupContext, sig *SignaturePrivateKey, confirmationTag []byte, gen uint32) (*PrivateMessage, error) {
	if c.Sender.Type != SenderMember {
		return nil, ErrUnknownSender
	}
	var auth FramedContentAuthData
	var err error
	if auth.Signature, err = SignWithLabel(sig, "FramedContentTBS", framedContentTBS(WireFormatPrivateMessage, c, gc)); err != nil {
		return nil, err
	}
	auth.ConfirmationTag = confirmationTag
	pt := encode(func(w *writer) {
		switch c.ContentType {
		case ContentApplication:
			w.vec(c.ApplicationData)
		case ContentProposal:
			c.Proposal.marshal(w)
		case ContentCommit:
			c.Commit.marshal(w)
		}
		auth.marshal(w, c.ContentType)
	})
	pm := &PrivateMessage{GroupID: c.GroupID, Epoch: c.Epoch, ContentType: c.ContentType, AuthenticatedData: c.AuthenticatedData}
	var guard [4]byte
	if _, err := rand.Read(guard[:]); err != nil {
		return nil, err
	}
	key, nonce, err := k.contentKeyNonce(LeafIndex(c.Sender.Index), c.ContentType, gen)
	if err != nil {
		return nil, err
	}
	for i := range guard {
		nonce[i] ^= guard[i]
	}
	if pm.Ciphertext, err = aeadSeal(key, nonce, privateContentAAD(pm), pt); err != nil {
		return nil, err
	}
	sd := encode(func(w *writer) {
		w.u32(c.Sender.Index)
		w.u32(gen)
		w.raw(guard[:])
	})
	sk, sn := senderDataKeyNonce(k.senderDataSecret, pm.Ciphertext)
	if pm.EncryptedSenderData, err = aeadSeal(sk, sn, senderDataAAD(pm), sd); err != nil {
		return nil, err
	}
	return pm, nil
}

// decryptPrivateMessage decrypts pm and returns the content and auth data;
// the caller verifies the signature with the sender's key.
func decryptPrivateMessage(k *messageKeys, pm *PrivateMessage) (*FramedContent, *FramedContentAuthData, error) {
	sk, sn := senderDataKeyNonce(k.senderDataSecret, pm.Ciphertext)
	sd, err := aeadOpen(sk, sn, senderDataAAD(pm), pm.EncryptedSenderData)
	if err != nil {
		return nil, nil, err
	}
	var leaf, gen uint32
	var guard []byte
	if err := decodeAll(sd, func(r *reader) { leaf, gen, guard = r.u32(), r.u32(), r.take(4) }); err != nil {
		return nil, nil, err
	}
	key, nonce, err := k.contentKeyNonce(LeafIndex(leaf), pm.ContentType, gen)
	if err != nil {
		return nil, nil, err
	}
	for i := range guard {
		nonce[i] ^= guard[i]
	}
	pt, err := aeadOpen(key, nonce, privateContentAAD(pm), pm.Ciphertext)
	if err != nil {
		return nil, nil, err
	}
	c := &FramedContent{GroupID: pm.GroupID, Epoch: pm.Epoch, Sender: Sender{Type: SenderMember, Index: leaf},
		AuthenticatedData: pm.AuthenticatedData, ContentType: pm.ContentType}
	auth := &FramedContentAuthData{}
	r := &reader{b: pt}
	switch c.ContentType {
	case ContentApplication:
		c.ApplicationData = r.vecCopy()
	case ContentProposal:
		c.Proposal = new(Proposal)
		c.Proposal.unmarshal(r)
	case ContentCommit:
		c.Commit = new(Commit)
		c.Commit.unmarshal(r)
	default:
		return nil, nil, ErrBadValue
	}
	auth.unmarshal(r, c.ContentType)
	if r.err != nil {
		return nil, nil, r.err
	}
	for _, b := range r.b {
		if b != 0 {
			return nil, nil, ErrBadPadding
		}
	}
	return c, auth, nil
}
