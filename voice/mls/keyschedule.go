package mls

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
)

// Key schedule (RFC 9420 §8), transcript hashes (§8.2), PSKs (§8.4) and
// the exporter (§8.5).

// ErrExportTooLong means an exporter request asked for more than 255*Nh bytes.
var ErrExportTooLong = errors.New("mls: exporter length too large")

// epochSecrets are the secrets derived from one epoch_secret.
type epochSecrets struct {
	joiner         []byte
	welcome        []byte
	senderData     []byte
	encryption     []byte
	exporter       []byte
	external       []byte
	confirmation   []byte
	membership     []byte
	resumption     []byte
	authentication []byte
	init           []byte
}

var zeroSecret = make([]byte, hashSize)

// memberPRK combines joiner_secret and psk_secret.
func memberPRK(joiner, psk []byte) []byte {
	if psk == nil {
		psk = zeroSecret
	}
	return extract(joiner, psk)
}

// joinerSecret derives the next joiner_secret from the previous init_secret
// and the commit_secret, bound to the new group context.
func joinerSecret(initSecret, commitSecret, groupContext []byte) []byte {
	if commitSecret == nil {
		commitSecret = zeroSecret
	}
	return ExpandWithLabel(extract(initSecret, commitSecret), "joiner", groupContext, hashSize)
}

// welcomeSecret derives the key material that protects a Welcome's GroupInfo.
func welcomeSecret(joiner, psk []byte) []byte {
	return DeriveSecret(memberPRK(joiner, psk), "welcome")
}

// deriveEpoch runs the key schedule from joiner_secret on.
func deriveEpoch(joiner, psk, groupContext []byte) *epochSecrets {
	prk := memberPRK(joiner, psk)
	epoch := ExpandWithLabel(prk, "epoch", groupContext, hashSize)
	return &epochSecrets{
		joiner:         joiner,
		welcome:        DeriveSecret(prk, "welcome"),
		senderData:     DeriveSecret(epoch, "sender data"),
		encryption:     DeriveSecret(epoch, "encryption"),
		exporter:       DeriveSecret(epoch, "exporter"),
		external:       DeriveSecret(epoch, "external"),
		confirmation:   DeriveSecret(epoch, "confirm"),
		membership:     DeriveSecret(epoch, "membership"),
		resumption:     DeriveSecret(epoch, "resumption"),
		authentication: DeriveSecret(epoch, "authentication"),
		init:           DeriveSecret(epoch, "init"),
	}
}

// externalPub is the public key derived from external_secret.
func (e *epochSecrets) externalPub() ([]byte, error) {
	k, err := deriveHPKEKey(e.external)
	if err != nil {
		return nil, err
	}
	return k.PublicKey(), nil
}

// export is MLS-Exporter(label, context, length) (RFC 9420 §8.5).
func export(exporterSecret []byte, label string, context []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*hashSize || length > 0xffff {
		return nil, ErrExportTooLong
	}
	return ExpandWithLabel(DeriveSecret(exporterSecret, label), "exported", hashOf(context), length), nil
}

// pskInput is one PSK with its identifier.
type pskInput struct {
	id  PreSharedKeyID
	psk []byte
}

// pskSecret chains the PSKs into psk_secret (RFC 9420 §8.4); nil means no PSKs.
func pskSecret(psks []pskInput) []byte {
	if len(psks) == 0 {
		return nil
	}
	secret := zeroSecret
	for i, p := range psks {
		label := encode(func(w *writer) {
			p.id.marshal(w)
			w.u16(uint16(i))
			w.u16(uint16(len(psks)))
		})
		extracted := extract(zeroSecret, p.psk)
		input := ExpandWithLabel(extracted, "derived psk", label, hashSize)
		secret = extract(input, secret)
	}
	return secret
}

// confirmedTranscriptHash folds a commit into the transcript (RFC 9420 §8.2).
func confirmedTranscriptHash(interim []byte, wf WireFormat, content *FramedContent, signature []byte) []byte {
	return hashOf(interim, encode(func(w *writer) {
		w.u16(uint16(wf))
		content.marshal(w)
		w.vec(signature)
	}))
}

// interimTranscriptHash appends the confirmation tag.
func interimTranscriptHash(confirmed, confirmationTag []byte) []byte {
	return hashOf(confirmed, encode(func(w *writer) { w.vec(confirmationTag) }))
}

// AuthenticatedContent is a FramedContent with its wire format and auth data (RFC 9420 §6.1).
type AuthenticatedContent struct {
	WireFormat WireFormat
	Content    FramedContent
	Auth       FramedContentAuthData
}

func (a *AuthenticatedContent) marshal(w *writer) {
	w.u16(uint16(a.WireFormat))
	a.Content.marshal(w)
	a.Auth.marshal(w, a.Content.ContentType)
}

func (a *AuthenticatedContent) unmarshal(r *reader) {
	a.WireFormat = WireFormat(r.u16())
	a.Content.unmarshal(r)
	a.Auth.unmarshal(r, a.Content.ContentType)
}

// Marshal encodes the authenticated content.
func (a *AuthenticatedContent) Marshal() []byte { return encode(a.marshal) }

// Unmarshal decodes authenticated content.
func (a *AuthenticatedContent) Unmarshal(b []byte) error { return decodeAll(b, a.unmarshal) }

// ProposalRef is the reference a commit uses for a proposal sent earlier (RFC 9420 §5.2).
func (a *AuthenticatedContent) ProposalRef() []byte {
	return RefHash("MLS 1.0 Proposal Reference", a.Marshal())
}

// aeadSeal and aeadOpen are AES-128-GCM with the suite's key and nonce sizes.
func aeadSeal(key, nonce, aad, pt []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	return g.Seal(nil, nonce, pt, aad), nil
}

func aeadOpen(key, nonce, aad, ct []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	pt, err := g.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// welcomeKeyNonce derives the GroupInfo encryption key and nonce (RFC 9420 §12.4.3.1).
func welcomeKeyNonce(welcome []byte) (key, nonce []byte) {
	return ExpandWithLabel(welcome, "key", nil, aeadKeyLen), ExpandWithLabel(welcome, "nonce", nil, aeadNonce)
}
