package frame

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// frameCipher is AES-128-GCM with the tag truncated to 8 bytes (protocol.md
// "Truncated authentication tag"; NIST SP 800-38D appendix C). Go's GCM
// accepts only 12–16-byte tags, so sealing computes the full tag and keeps
// its first 8 bytes, and opening decrypts in counter mode (GCM's keystream
// starts at counter 2 for a 96-bit nonce) and recomputes the full tag over
// the same ciphertext to compare its first 8 bytes in constant time.
type frameCipher struct {
	block cipher.Block
	aead  cipher.AEAD
}

func newFrameCipher(key [keySize]byte) (*frameCipher, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &frameCipher{block: b, aead: a}, nil
}

// fullNonce expands a truncated nonce: eight zero bytes, then the 32-bit
// nonce in little-endian order (libdave copies the host-order integer).
func fullNonce(n *[nonceSize]byte, truncated uint32) {
	*n = [nonceSize]byte{}
	binary.LittleEndian.PutUint32(n[truncNonceOffset:], truncated)
}

// ctrBlocks is the counter and keystream block of open, kept by the caller
// so that they do not escape to the heap on every frame.
type ctrBlocks struct{ ctr, ks [aes.BlockSize]byte }

// seal appends the ciphertext of plaintext and the 8-byte tag to dst.
func (c *frameCipher) seal(dst []byte, nonce *[nonceSize]byte, plaintext, aad []byte) []byte {
	out := c.aead.Seal(dst, nonce[:], plaintext, aad)
	return out[:len(out)-(fullTagSize-tagSize)]
}

// open decrypts ciphertext into dst (len(dst) == len(ciphertext); dst may be
// ciphertext itself) and checks tag. scratch must
// have capacity for len(ciphertext)+16 bytes to avoid allocating; it returns
// the possibly grown scratch.
func (c *frameCipher) open(dst []byte, nonce *[nonceSize]byte, ciphertext, aad, tag, scratch []byte, blk *ctrBlocks) ([]byte, bool) {
	ctr, ks := &blk.ctr, &blk.ks
	copy(ctr[:], nonce[:])
	for i := 0; i < len(ciphertext); i += aes.BlockSize {
		binary.BigEndian.PutUint32(ctr[12:], uint32(2+i/aes.BlockSize))
		c.block.Encrypt(ks[:], ctr[:])
		end := min(i+aes.BlockSize, len(ciphertext))
		subtle.XORBytes(dst[i:end], ciphertext[i:end], ks[:end-i])
	}
	scratch = c.aead.Seal(scratch[:0], nonce[:], dst, aad)
	full := scratch[len(scratch)-fullTagSize:]
	ok := subtle.ConstantTimeCompare(full[:tagSize], tag) == 1
	if !ok {
		clear(dst)
	}
	return scratch, ok
}
