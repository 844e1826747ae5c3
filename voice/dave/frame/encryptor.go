package frame

import (
	"sync"
)

// Encryptor is the send side of the frame transform for one sender: it
// encrypts whole Opus frames (Opus needs no unencrypted ranges) with the
// sender's key ratchet. It is safe for concurrent use: the session swaps
// ratchets on the gateway goroutine while the pacer encrypts.
type Encryptor struct {
	mu      sync.Mutex
	ratchet *KeyRatchet // nil: pass frames through
	cipher  *frameCipher
	gen     uint32
	nonce   uint32
	started bool // the nonce has been used at least once with this ratchet
	iv      [nonceSize]byte
}

// SetKeyRatchet makes the encryptor use r from the next frame on, with the
// nonce and generation reset to 0; nil switches to passthrough.
func (e *Encryptor) SetKeyRatchet(r *KeyRatchet) {
	e.mu.Lock()
	e.ratchet, e.cipher, e.gen, e.nonce, e.started = r, nil, 0, 0, false
	e.mu.Unlock()
}

// Active reports whether frames are encrypted (a ratchet is set).
func (e *Encryptor) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ratchet != nil
}

// EncryptFrame appends the protocol frame of frame to dst. Without a ratchet,
// and for the silence frame, it appends frame unchanged. It allocates
// nothing once dst has room for len(frame)+24 bytes.
func (e *Encryptor) EncryptFrame(dst, frame []byte) ([]byte, error) {
	if len(frame) > 1<<20 {
		return dst, errFrameTooLarge
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ratchet == nil || IsSilence(frame) {
		return append(dst, frame...), nil
	}
	// The nonce grows by one per frame, starting at 1; its top byte names the
	// generation, which keeps counting when the 32-bit nonce wraps.
	e.nonce++
	gen := wrappedGeneration(e.gen, e.nonce>>generationShift)
	if e.cipher == nil || gen != e.gen {
		k, err := e.ratchet.Key(gen)
		if err != nil {
			return dst, err
		}
		c, err := newFrameCipher(k)
		if err != nil {
			return dst, err
		}
		if e.started && gen != e.gen {
			e.ratchet.Erase(e.gen)
		}
		e.cipher, e.gen = c, gen
	}
	e.started = true
	fullNonce(&e.iv, e.nonce)
	start := len(dst)
	dst = e.cipher.seal(dst, &e.iv, frame, nil)
	dst = appendULEB128(dst, uint64(e.nonce))
	sup := len(dst) - start - len(frame) + 1 + markerSize
	dst = append(dst, byte(sup), magic[0], magic[1])
	return dst, nil
}
