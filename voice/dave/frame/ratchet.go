package frame

import (
	"encoding/binary"
	"errors"

	"github.com/quaverbot/quaver/voice/mls"
)

// SenderKeyLabel is the MLS exporter label of the per-sender base secret
// (protocol.md "Sender Key Derivation").
const SenderKeyLabel = "Discord Secure Frames v0"

const (
	keySize        = 16 // AES-128
	ratchetSecSize = 32 // SHA-256 output: the ratchet's next secret
)

var errKeyErased = errors.New("frame: key generation already erased")

// KeyRatchet derives one sender's media key per generation the way MLS
// derives its secret-tree ratchet (RFC 9420 §9.1): key_g =
// ExpandWithLabel(secret_g, "key", uint32 g, 16), secret_g+1 =
// ExpandWithLabel(secret_g, "secret", uint32 g, 32), starting from the
// 16-byte exported base secret. It keeps the keys it derived until erased.
// It is not safe for concurrent use.
type KeyRatchet struct {
	next    []byte
	nextGen uint32
	keys    map[uint32][keySize]byte
}

// NewKeyRatchet starts a ratchet at generation 0 from baseSecret.
func NewKeyRatchet(baseSecret []byte) *KeyRatchet {
	return &KeyRatchet{next: append([]byte(nil), baseSecret...), keys: make(map[uint32][keySize]byte)}
}

// SenderRatchet returns the ratchet of sender userID in an MLS epoch whose
// exporter is export (for example (*mls.Group).Exporter).
func SenderRatchet(export func(label string, context []byte, length int) ([]byte, error), userID uint64) (*KeyRatchet, error) {
	base, err := export(SenderKeyLabel, binary.LittleEndian.AppendUint64(nil, userID), keySize)
	if err != nil {
		return nil, err
	}
	return NewKeyRatchet(base), nil
}

// Key returns the key of generation g, ratcheting forward as needed.
func (r *KeyRatchet) Key(g uint32) ([keySize]byte, error) {
	if k, ok := r.keys[g]; ok {
		return k, nil
	}
	if g < r.nextGen {
		return [keySize]byte{}, errKeyErased
	}
	for r.nextGen <= g {
		var ctx [4]byte
		binary.BigEndian.PutUint32(ctx[:], r.nextGen)
		var k [keySize]byte
		copy(k[:], mls.ExpandWithLabel(r.next, "key", ctx[:], keySize))
		r.keys[r.nextGen] = k
		r.next = mls.ExpandWithLabel(r.next, "secret", ctx[:], ratchetSecSize)
		r.nextGen++
		if r.nextGen == 0 { // 2^32 generations: nothing further can be derived
			break
		}
	}
	return r.keys[g], nil
}

// Erase forgets the key of generation g.
func (r *KeyRatchet) Erase(g uint32) { delete(r.keys, g) }

// wrappedGeneration expands the 8-bit generation of a nonce to the full
// generation, assuming it is not older than oldest (libdave's rule).
func wrappedGeneration(oldest, gen8 uint32) uint32 {
	factor := oldest / generationWrap
	if gen8 < oldest%generationWrap {
		factor++
	}
	return factor*generationWrap + gen8
}
