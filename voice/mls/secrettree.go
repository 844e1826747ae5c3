package mls

// The secret tree and its hash ratchets (RFC 9420 §9): per-sender keys and
// nonces for PrivateMessage, derived from encryption_secret.

// maxGeneration bounds how far a receiver ratchets forward (RFC 9420 §9.2 lets
// receivers pick a limit against exhaustion).
const maxGeneration = 1 << 16

// leafTreeSecret descends from encryption_secret to leaf's secret in a tree
// of n leaves.
func leafTreeSecret(encryptionSecret []byte, n uint32, leaf LeafIndex) []byte {
	secret := encryptionSecret
	x := root(n)
	target := leaf.node()
	for x != target {
		if target < x {
			secret = ExpandWithLabel(secret, "tree", []byte("left"), hashSize)
			x, _ = x.left()
		} else {
			secret = ExpandWithLabel(secret, "tree", []byte("right"), hashSize)
			x, _ = x.right()
		}
	}
	return secret
}

// ratchetKind selects the handshake or application ratchet of a leaf.
type ratchetKind string

const (
	ratchetHandshake   ratchetKind = "handshake"
	ratchetApplication ratchetKind = "application"
)

// ratchetKeyNonce returns the key and nonce of generation gen of a leaf's
// ratchet (RFC 9420 §9.1), or false when gen is beyond maxGeneration.
func ratchetKeyNonce(leafSecret []byte, kind ratchetKind, gen uint32) (key, nonce []byte, ok bool) {
	if gen > maxGeneration {
		return nil, nil, false
	}
	secret := ExpandWithLabel(leafSecret, string(kind), nil, hashSize)
	for g := uint32(0); g < gen; g++ {
		secret = deriveTreeSecret(secret, "secret", g, hashSize)
	}
	return deriveTreeSecret(secret, "key", gen, aeadKeyLen), deriveTreeSecret(secret, "nonce", gen, aeadNonce), true
}

// senderDataKeyNonce derives the key and nonce protecting SenderData from
// the first Nh bytes of the ciphertext (RFC 9420 §6.3.2).
func senderDataKeyNonce(senderDataSecret, ciphertext []byte) (key, nonce []byte) {
	sample := ciphertext
	if len(sample) > hashSize {
		sample = sample[:hashSize]
	}
	return ExpandWithLabel(senderDataSecret, "key", sample, aeadKeyLen), ExpandWithLabel(senderDataSecret, "nonce", sample, aeadNonce)
}
