package frame

import (
	"sync"
	"time"
)

// KeyRetention is how long keys of superseded generations and epochs stay
// usable for frames still in flight (protocol.md "Key Rotation").
const KeyRetention = 10 * time.Second

// genCipher is one generation's cipher and when it expires (zero: not yet).
type genCipher struct {
	c      *frameCipher
	expiry time.Time
}

// epochKeys decrypts one sender's frames of one epoch (one key ratchet): it
// keeps the generations in use, expires superseded ones, and refuses nonces
// it has already accepted.
type epochKeys struct {
	ratchet        *KeyRatchet
	ciphers        map[uint32]*genCipher
	oldest, newest uint32
	seen           bool   // newestNonce is set
	newestNonce    uint64 // generation-extended nonce
	missing        []uint64
	expiry         time.Time // zero: current epoch
}

func newEpochKeys(r *KeyRatchet) *epochKeys {
	return &epochKeys{ratchet: r, ciphers: make(map[uint32]*genCipher)}
}

func bigNonce(gen, nonce uint32) uint64 {
	return uint64(gen)<<generationShift | uint64(nonce&(1<<generationShift-1))
}

func (k *epochKeys) canUse(n uint64) bool {
	if !k.seen || n > k.newestNonce {
		return true
	}
	for _, m := range k.missing {
		if m == n {
			return true
		}
	}
	return false
}

func (k *epochKeys) cipher(gen uint32, now time.Time) *frameCipher {
	for g, c := range k.ciphers {
		if !c.expiry.IsZero() && now.After(c.expiry) {
			delete(k.ciphers, g)
		}
	}
	for k.oldest < k.newest {
		if _, ok := k.ciphers[k.oldest]; ok {
			break
		}
		k.ratchet.Erase(k.oldest)
		k.oldest++
	}
	if gen < k.oldest || gen > k.newest+maxGenerationGap {
		return nil
	}
	if c, ok := k.ciphers[gen]; ok {
		return c.c
	}
	key, err := k.ratchet.Key(gen)
	if err != nil {
		return nil
	}
	c, err := newFrameCipher(key)
	if err != nil {
		return nil
	}
	gc := &genCipher{c: c}
	if gen < k.newest {
		gc.expiry = now.Add(KeyRetention)
	}
	k.ciphers[gen] = gc
	return c
}

func (k *epochKeys) accepted(gen uint32, n uint64, now time.Time) {
	switch {
	case !k.seen:
		k.seen, k.newestNonce = true, n
	case n > k.newestNonce:
		low := uint64(0)
		if n > maxMissingNonces {
			low = n - maxMissingNonces
		}
		i := 0
		for i < len(k.missing) && k.missing[i] < low {
			i++
		}
		k.missing = append(k.missing[:0], k.missing[i:]...)
		for m := max(low, k.newestNonce+1); m < n; m++ {
			k.missing = append(k.missing, m)
		}
		k.newestNonce = n
	default:
		for i, m := range k.missing {
			if m == n {
				k.missing = append(k.missing[:i], k.missing[i+1:]...)
				break
			}
		}
	}
	if gen > k.newest {
		if _, ok := k.ciphers[gen]; ok {
			k.newest = gen
			for g, c := range k.ciphers {
				if g < gen && c.expiry.IsZero() {
					c.expiry = now.Add(KeyRetention)
				}
			}
		}
	}
}

// Decryptor is the receive side of the frame transform for one sender. It
// tries the keys of the current epoch and of superseded epochs still within
// KeyRetention, and passes unencrypted frames through while passthrough is
// allowed. It is safe for concurrent use.
type Decryptor struct {
	mu     sync.Mutex
	now    func() time.Time
	epochs []*epochKeys // oldest first
	// passthrough: always allowed (passAlways) or until passUntil.
	passAlways bool
	passUntil  time.Time
	frame      Frame
	scratch    []byte
	ct, aad    []byte
	iv         [nonceSize]byte
	blk        ctrBlocks
}

// NewDecryptor returns a decryptor with no keys and passthrough off; now is
// its clock (nil: time.Now).
func NewDecryptor(now func() time.Time) *Decryptor {
	if now == nil {
		now = time.Now
	}
	return &Decryptor{now: now}
}

// TransitionToKeyRatchet adds the ratchet of a new epoch; the keys of earlier
// epochs stay usable for KeyRetention.
func (d *Decryptor) TransitionToKeyRatchet(r *KeyRatchet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	exp := d.now().Add(KeyRetention)
	for _, e := range d.epochs {
		if e.expiry.IsZero() || e.expiry.After(exp) {
			e.expiry = exp
		}
	}
	d.epochs = append(d.epochs, newEpochKeys(r))
}

// RetireKeys keeps the current keys usable for at most after more, for a
// sender who is no longer in the group.
func (d *Decryptor) RetireKeys(after time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	exp := d.now().Add(after)
	for _, e := range d.epochs {
		if e.expiry.IsZero() || e.expiry.After(exp) {
			e.expiry = exp
		}
	}
}

// SetPassthrough allows unencrypted frames (on) or, when off, keeps allowing
// them for at most expiry more (protocol.md "Passthrough Mode").
func (d *Decryptor) SetPassthrough(on bool, expiry time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.passAlways = true
		return
	}
	until := d.now().Add(expiry)
	if d.passAlways || until.Before(d.passUntil) || d.passUntil.IsZero() {
		d.passUntil = until
	}
	d.passAlways = false
}

// DecryptFrame appends the media frame carried by frame to dst. Silence
// frames pass through; unencrypted frames pass through only in passthrough.
func (d *Decryptor) DecryptFrame(dst, frame []byte) ([]byte, error) {
	if IsSilence(frame) {
		return append(dst, frame...), nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for len(d.epochs) > 0 && !d.epochs[0].expiry.IsZero() && now.After(d.epochs[0].expiry) {
		d.epochs = d.epochs[1:]
	}
	f := &d.frame
	if err := f.Unmarshal(frame); err != nil {
		if d.passAlways || now.Before(d.passUntil) {
			return append(dst, frame...), nil
		}
		return dst, errUnencrypted
	}
	// Split the interleaved frame into ciphertext and authenticated data.
	d.ct, d.aad = d.ct[:0], d.aad[:0]
	at := 0
	for _, r := range f.Ranges {
		d.ct = append(d.ct, f.Media[at:r.Offset]...)
		d.aad = append(d.aad, f.Media[r.Offset:r.Offset+r.Size]...)
		at = r.Offset + r.Size
	}
	d.ct = append(d.ct, f.Media[at:]...)
	start := len(dst)
	dst = append(dst, make([]byte, len(d.ct))...)[:start]
	fullNonce(&d.iv, f.Nonce)
	err := errNoKey
	for _, e := range d.epochs {
		gen := wrappedGeneration(e.oldest, f.Nonce>>generationShift)
		n := bigNonce(gen, f.Nonce)
		if !e.canUse(n) {
			err = errReplay
			continue
		}
		c := e.cipher(gen, now)
		if c == nil {
			continue
		}
		plain := dst[start : start+len(d.ct)]
		var ok bool
		d.scratch, ok = c.open(plain, &d.iv, d.ct, d.aad, f.Tag, d.scratch, &d.blk)
		if !ok {
			err = errAuth
			continue
		}
		e.accepted(gen, n, now)
		return d.interleave(dst[:start], plain), nil
	}
	return dst[:start], err
}

// interleave rebuilds the media frame from the decrypted bytes and the
// unencrypted ranges, appending it to dst (which has plain right after it).
func (d *Decryptor) interleave(dst, plain []byte) []byte {
	if len(d.frame.Ranges) == 0 {
		return dst[:len(dst)+len(plain)]
	}
	// Copy plain aside: it lives where the rebuilt frame goes.
	d.ct = append(d.ct[:0], plain...)
	at, pi, ai := 0, 0, 0
	for _, r := range d.frame.Ranges {
		n := r.Offset - at
		dst = append(dst, d.ct[pi:pi+n]...)
		pi += n
		dst = append(dst, d.aad[ai:ai+r.Size]...)
		ai += r.Size
		at = r.Offset + r.Size
	}
	return append(dst, d.ct[pi:]...)
}
