package mls

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Cipher suite 2, MLS_128_DHKEMP256_AES128GCM_SHA256_P256 (RFC 9420 §17.1):
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, ECDSA P-256 SHA-256.

// CipherSuite is an MLS cipher suite identifier.
type CipherSuite uint16

// SuiteP256 is the only cipher suite this package implements.
const SuiteP256 CipherSuite = 2

const (
	hashSize   = sha256.Size // Nh
	aeadKeyLen = 16          // Nk, AES-128
	aeadNonce  = 12          // Nn
	kemEncLen  = 65          // Nenc of DHKEM(P-256): uncompressed point
	labelPfx   = "MLS 1.0 "  // RFC 9420 §5.1.2, §8
)

var (
	// ErrUnsupportedSuite means a structure names a cipher suite other than 2.
	ErrUnsupportedSuite = errors.New("mls: unsupported cipher suite")
	// ErrBadSignature means a signature did not verify.
	ErrBadSignature = errors.New("mls: invalid signature")
	// ErrBadKey means a public or private key could not be parsed.
	ErrBadKey = errors.New("mls: invalid key")
	// ErrDecrypt means HPKE or AEAD decryption failed.
	ErrDecrypt = errors.New("mls: decryption failed")
)

var (
	kem  = hpke.DHKEM(ecdh.P256())
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES128GCM()
)

func hashOf(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func mac(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func extract(salt, ikm []byte) []byte {
	if salt == nil {
		salt = []byte{}
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		panic("mls: hkdf extract: " + err.Error()) // only for invalid hash setups
	}
	return prk
}

// ExpandWithLabel is HKDF-Expand with a KDFLabel (RFC 9420 §8).
func ExpandWithLabel(secret []byte, label string, context []byte, length int) []byte {
	info := encode(func(w *writer) {
		w.u16(uint16(length))
		w.vec([]byte(labelPfx + label))
		w.vec(context)
	})
	out, err := hkdf.Expand(sha256.New, secret, string(info), length)
	if err != nil {
		panic("mls: hkdf expand: " + err.Error()) // length is always ≤ 255*Nh here
	}
	return out
}

// DeriveSecret is ExpandWithLabel(secret, label, "", Nh) (RFC 9420 §8).
func DeriveSecret(secret []byte, label string) []byte {
	return ExpandWithLabel(secret, label, nil, hashSize)
}

// deriveTreeSecret is used by the secret tree (RFC 9420 §9.1).
func deriveTreeSecret(secret []byte, label string, generation uint32, length int) []byte {
	var g [4]byte
	g[0], g[1], g[2], g[3] = byte(generation>>24), byte(generation>>16), byte(generation>>8), byte(generation)
	return ExpandWithLabel(secret, label, g[:], length)
}

// RefHash hashes a labelled value (RFC 9420 §5.2).
func RefHash(label string, value []byte) []byte {
	return hashOf(encode(func(w *writer) {
		w.vec([]byte(label))
		w.vec(value)
	}))
}

// SignaturePrivateKey is a member's ECDSA P-256 signing key.
type SignaturePrivateKey struct{ k *ecdsa.PrivateKey }

// GenerateSignatureKey makes a fresh ECDSA P-256 signing key.
func GenerateSignatureKey() (*SignaturePrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &SignaturePrivateKey{k}, nil
}

// ParseSignaturePrivateKey reads a 32-byte big-endian P-256 scalar.
func ParseSignaturePrivateKey(b []byte) (*SignaturePrivateKey, error) {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
	if err != nil {
		return nil, ErrBadKey
	}
	return &SignaturePrivateKey{k}, nil
}

// PublicKey returns the uncompressed SEC1 public point, as MLS carries it.
func (s *SignaturePrivateKey) PublicKey() []byte {
	b, err := s.k.PublicKey.Bytes()
	if err != nil {
		return nil
	}
	return b
}

// Bytes returns the 32-byte private scalar.
func (s *SignaturePrivateKey) Bytes() []byte {
	b, err := s.k.Bytes()
	if err != nil {
		return nil
	}
	return b
}

func signContent(label string, content []byte) []byte {
	return encode(func(w *writer) {
		w.vec([]byte(labelPfx + label))
		w.vec(content)
	})
}

// SignWithLabel signs content under label with an ASN.1 DER ECDSA signature (RFC 9420 §5.1.2).
func SignWithLabel(priv *SignaturePrivateKey, label string, content []byte) ([]byte, error) {
	d := sha256.Sum256(signContent(label, content))
	return ecdsa.SignASN1(rand.Reader, priv.k, d[:])
}

// VerifyWithLabel checks a SignWithLabel signature against an uncompressed public key.
func VerifyWithLabel(pub []byte, label string, content, sig []byte) error {
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
	if err != nil {
		return ErrBadKey
	}
	d := sha256.Sum256(signContent(label, content))
	if !ecdsa.VerifyASN1(k, d[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// HPKEPrivateKey is a DHKEM(P-256) private key with its serialization.
type HPKEPrivateKey struct {
	k   hpke.PrivateKey
	pub []byte
}

// ParseHPKEPrivateKey reads a serialized (32-byte) DHKEM(P-256) private key.
func ParseHPKEPrivateKey(b []byte) (*HPKEPrivateKey, error) {
	k, err := kem.NewPrivateKey(b)
	if err != nil {
		return nil, ErrBadKey
	}
	return &HPKEPrivateKey{k: k, pub: k.PublicKey().Bytes()}, nil
}

// GenerateHPKEKey makes a fresh DHKEM(P-256) key pair.
func GenerateHPKEKey() (*HPKEPrivateKey, error) {
	k, err := kem.GenerateKey()
	if err != nil {
		return nil, err
	}
	return &HPKEPrivateKey{k: k, pub: k.PublicKey().Bytes()}, nil
}

// deriveHPKEKey is KEM.DeriveKeyPair(ikm) (RFC 9180 §7.1.3).
func deriveHPKEKey(ikm []byte) (*HPKEPrivateKey, error) {
	k, err := kem.DeriveKeyPair(ikm)
	if err != nil {
		return nil, err
	}
	return &HPKEPrivateKey{k: k, pub: k.PublicKey().Bytes()}, nil
}

// PublicKey returns the serialized public key (uncompressed point).
func (h *HPKEPrivateKey) PublicKey() []byte { return h.pub }

// Bytes returns the serialized private key.
func (h *HPKEPrivateKey) Bytes() []byte {
	b, err := h.k.Bytes()
	if err != nil {
		return nil
	}
	return b
}

// HPKECiphertext is an HPKE encapsulated key and ciphertext (RFC 9420 §5.1.3).
type HPKECiphertext struct {
	KEMOutput  []byte
	Ciphertext []byte
}

func (c *HPKECiphertext) marshal(w *writer) {
	w.vec(c.KEMOutput)
	w.vec(c.Ciphertext)
}

func (c *HPKECiphertext) unmarshal(r *reader) {
	c.KEMOutput = r.vecCopy()
	c.Ciphertext = r.vecCopy()
}

func encryptContext(label string, context []byte) []byte {
	return encode(func(w *writer) {
		w.vec([]byte(labelPfx + label))
		w.vec(context)
	})
}

// EncryptWithLabel is HPKE SealBase with an EncryptContext info (RFC 9420 §5.1.3).
func EncryptWithLabel(pub []byte, label string, context, plaintext []byte) (HPKECiphertext, error) {
	pk, err := kem.NewPublicKey(pub)
	if err != nil {
		return HPKECiphertext{}, ErrBadKey
	}
	out, err := hpke.Seal(pk, kdf, aead, encryptContext(label, context), plaintext)
	if err != nil {
		return HPKECiphertext{}, err
	}
	return HPKECiphertext{KEMOutput: out[:kemEncLen:kemEncLen], Ciphertext: out[kemEncLen:]}, nil
}

// DecryptWithLabel is HPKE OpenBase with an EncryptContext info.
func DecryptWithLabel(priv *HPKEPrivateKey, label string, context []byte, ct HPKECiphertext) ([]byte, error) {
	if len(ct.KEMOutput) != kemEncLen {
		return nil, ErrDecrypt
	}
	in := make([]byte, 0, len(ct.KEMOutput)+len(ct.Ciphertext))
	in = append(append(in, ct.KEMOutput...), ct.Ciphertext...)
	pt, err := hpke.Open(priv.k, kdf, aead, encryptContext(label, context), in)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
