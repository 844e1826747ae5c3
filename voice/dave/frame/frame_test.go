package frame

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for key expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func randomFrame(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestKeyRatchetKnownAnswer checks generation 0 of the ratchet against the
// value davey's own unit test pins (hash_ratchet.rs, "expected_result").
func TestKeyRatchetKnownAnswer(t *testing.T) {
	r := NewKeyRatchet([]byte{206, 221, 97, 177, 184, 161, 202, 105, 4, 101, 84, 40, 44, 247, 11, 123})
	k, err := r.Key(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{117, 48, 249, 169, 148, 94, 45, 46, 6, 208, 101, 31, 123, 42, 134, 75}
	if !bytes.Equal(k[:], want) {
		t.Fatalf("generation 0 key %x, want %x", k, want)
	}
	k5, _ := r.Key(5)
	k5b, _ := NewKeyRatchet([]byte{206, 221, 97, 177, 184, 161, 202, 105, 4, 101, 84, 40, 44, 247, 11, 123}).Key(5)
	if k5 != k5b || k5 == k {
		t.Fatal("generation 5 differs between ratchets or equals generation 0")
	}
	r.Erase(0)
	if _, err := r.Key(0); !errors.Is(err, errKeyErased) {
		t.Fatalf("erased generation: %v", err)
	}
}

func TestULEB128(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 1<<32 - 1, 1<<64 - 1} {
		b := appendULEB128(nil, v)
		got, n := readULEB128(b)
		if got != v || n != len(b) {
			t.Errorf("%d: encoded %x, read %d (%d bytes)", v, b, got, n)
		}
	}
	if want := []byte{0xE5, 0x8E, 0x26}; !bytes.Equal(appendULEB128(nil, 624485), want) {
		t.Errorf("624485 encodes as %x, want %x (the textbook example)", appendULEB128(nil, 624485), want)
	}
	for _, bad := range [][]byte{{}, {0x80}, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}} {
		if _, n := readULEB128(bad); n != 0 {
			t.Errorf("%x accepted", bad)
		}
	}
}

// TestFrameLayout checks the wire layout of an encrypted Opus frame against
// the standard library's full-tag AES-GCM with the same key and nonce.
func TestFrameLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := randomFrame(r, 16)
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(base))
	key, _ := NewKeyRatchet(base).Key(0)
	block, _ := aes.NewCipher(key[:])
	gcm, _ := cipher.NewGCM(block)
	for i, n := range []int{0, 1, 3, 20, 160, 1275} {
		frame := randomFrame(r, n)
		out, err := e.EncryptFrame(nil, frame)
		if err != nil {
			t.Fatal(err)
		}
		nonce := uint32(i + 1) // the first frame uses nonce 1
		iv := make([]byte, 12)
		iv[8] = byte(nonce)
		want := gcm.Seal(nil, iv, frame, nil)
		if !bytes.Equal(out[:n+8], want[:n+8]) {
			t.Fatalf("%d-byte frame: ciphertext and tag differ from AES-GCM", n)
		}
		tail := out[n+8:]
		if !bytes.Equal(tail, []byte{byte(nonce), 12, 0xFA, 0xFA}) {
			t.Fatalf("%d-byte frame: supplemental tail %x", n, tail)
		}
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := randomFrame(r, 16)
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(base))
	d := NewDecryptor(nil)
	d.TransitionToKeyRatchet(NewKeyRatchet(base))
	for _, n := range []int{0, 1, 2, 3, 4, 15, 16, 17, 100, 1275, 4000} {
		frame := randomFrame(r, n)
		enc, err := e.EncryptFrame(nil, frame)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && bytes.Contains(enc, frame) && n > 4 {
			t.Fatalf("%d-byte frame appears in clear", n)
		}
		dec, err := d.DecryptFrame(nil, enc)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(dec, frame) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
		if _, err := d.DecryptFrame(nil, enc); !errors.Is(err, errReplay) {
			t.Fatalf("replayed frame: %v", err)
		}
	}
}

func TestTamperedFramesFail(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := randomFrame(r, 16)
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(base))
	frame := randomFrame(r, 80)
	enc, _ := e.EncryptFrame(nil, frame)
	for i := 0; i < 80+8; i++ { // every ciphertext and tag byte
		bad := bytes.Clone(enc)
		bad[i] ^= 0x01
		d := NewDecryptor(nil)
		d.TransitionToKeyRatchet(NewKeyRatchet(base))
		if _, err := d.DecryptFrame(nil, bad); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	d := NewDecryptor(nil)
	d.TransitionToKeyRatchet(NewKeyRatchet(randomFrame(r, 16)))
	if _, err := d.DecryptFrame(nil, enc); !errors.Is(err, errAuth) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestPassthroughAndSilence(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d := NewDecryptor(clk.now)
	opus := []byte{0x78, 1, 2, 3, 4}
	sil := []byte{0xF8, 0xFF, 0xFE}
	if out, err := d.DecryptFrame(nil, sil); err != nil || !bytes.Equal(out, sil) {
		t.Fatalf("silence: %x %v", out, err)
	}
	if _, err := d.DecryptFrame(nil, opus); !errors.Is(err, errUnencrypted) {
		t.Fatalf("clear frame without passthrough: %v", err)
	}
	d.SetPassthrough(true, 0)
	if out, err := d.DecryptFrame(nil, opus); err != nil || !bytes.Equal(out, opus) {
		t.Fatalf("passthrough: %x %v", out, err)
	}
	d.SetPassthrough(false, 10*time.Second)
	clk.advance(9 * time.Second)
	if _, err := d.DecryptFrame(nil, opus); err != nil {
		t.Fatalf("within the passthrough window: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := d.DecryptFrame(nil, opus); !errors.Is(err, errUnencrypted) {
		t.Fatalf("after the passthrough window: %v", err)
	}
	var e Encryptor
	if out, _ := e.EncryptFrame(nil, opus); !bytes.Equal(out, opus) {
		t.Fatal("encryptor without a ratchet changed the frame")
	}
	e.SetKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	if out, _ := e.EncryptFrame(nil, sil); !bytes.Equal(out, sil) {
		t.Fatal("silence frame was encrypted")
	}
}

// TestOldEpochKeysKept: after a transition, frames of the previous epoch
// still decrypt for 10 s, then no longer.
func TestOldEpochKeysKept(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b1, b2 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	var e1, e2 Encryptor
	e1.SetKeyRatchet(NewKeyRatchet(b1))
	e2.SetKeyRatchet(NewKeyRatchet(b2))
	d := NewDecryptor(clk.now)
	d.TransitionToKeyRatchet(NewKeyRatchet(b1))
	f := []byte("opus frame")
	enc := func(e *Encryptor) []byte { b, _ := e.EncryptFrame(nil, f); return b }
	if _, err := d.DecryptFrame(nil, enc(&e1)); err != nil {
		t.Fatal(err)
	}
	d.TransitionToKeyRatchet(NewKeyRatchet(b2))
	if _, err := d.DecryptFrame(nil, enc(&e2)); err != nil {
		t.Fatalf("new epoch: %v", err)
	}
	clk.advance(9 * time.Second)
	if _, err := d.DecryptFrame(nil, enc(&e1)); err != nil {
		t.Fatalf("old epoch after 9 s: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := d.DecryptFrame(nil, enc(&e1)); err == nil {
		t.Fatal("old epoch still decrypts after 11 s")
	}
	if _, err := d.DecryptFrame(nil, enc(&e2)); err != nil {
		t.Fatalf("new epoch after 11 s: %v", err)
	}
	// The sender leaves the group: its keys go 10 s later.
	d.RetireKeys(KeyRetention)
	clk.advance(9 * time.Second)
	if _, err := d.DecryptFrame(nil, enc(&e2)); err != nil {
		t.Fatalf("retired keys after 9 s: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := d.DecryptFrame(nil, enc(&e2)); err == nil {
		t.Fatal("retired keys still decrypt after 11 s")
	}
}

// TestGenerations: the nonce's top byte selects the generation; crossing a
// generation and wrapping the 32-bit nonce keep both sides in step, and
// out-of-order frames of the previous generation decrypt for 10 s.
func TestGenerations(t *testing.T) {
	for _, c := range []struct{ oldest, gen8, want uint32 }{
		{0, 0, 0}, {0, 5, 5}, {3, 5, 5}, {255, 255, 255}, {255, 0, 256}, {300, 40, 552}, {300, 43, 555}, {300, 44, 300},
	} {
		if got := wrappedGeneration(c.oldest, c.gen8); got != c.want {
			t.Errorf("wrappedGeneration(%d, %d) = %d, want %d", c.oldest, c.gen8, got, c.want)
		}
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	base := bytes.Repeat([]byte{9}, 16)
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(base))
	d := NewDecryptor(clk.now)
	d.TransitionToKeyRatchet(NewKeyRatchet(base))
	f := []byte("frame")
	e.mu.Lock()
	e.nonce = 1<<24 - 3 // two frames left in generation 0
	e.mu.Unlock()
	var frames [][]byte
	for range 4 {
		b, err := e.EncryptFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	// Generation 0, then generation 1, then a late generation 0 frame.
	for _, i := range []int{0, 2, 3, 1} {
		if out, err := d.DecryptFrame(nil, frames[i]); err != nil || !bytes.Equal(out, f) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if e.gen != 1 {
		t.Fatalf("encryptor generation %d, want 1", e.gen)
	}
	// Wrap: the generation keeps counting past 255 when the nonce wraps.
	e.mu.Lock()
	e.nonce, e.gen = 1<<32-2, 255
	e.cipher = nil
	e.mu.Unlock()
	d2 := NewDecryptor(clk.now)
	d2.TransitionToKeyRatchet(NewKeyRatchet(base))
	d2.epochs[0].oldest, d2.epochs[0].newest = 255, 255
	for i := range 3 {
		b, err := e.EncryptFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := d2.DecryptFrame(nil, b); err != nil || !bytes.Equal(out, f) {
			t.Fatalf("wrap frame %d: %v", i, err)
		}
	}
	if e.gen != 256 {
		t.Fatalf("after the wrap the generation is %d, want 256", e.gen)
	}
}

// TestDecryptRanges decrypts a frame with unencrypted ranges built by hand
// (video codecs produce them; Opus never does).
func TestDecryptRanges(t *testing.T) {
	base := bytes.Repeat([]byte{7}, 16)
	key, _ := NewKeyRatchet(base).Key(0)
	c, _ := newFrameCipher(key)
	frame := []byte("HHHencrypted-partTTmore")
	// Unencrypted: [0,3) and [17,19).
	clearPart := append([]byte("HHH"), "TT"...)
	secret := append([]byte("encrypted-part"), "more"...)
	var iv [nonceSize]byte
	fullNonce(&iv, 7)
	sealed := c.seal(nil, &iv, secret, clearPart)
	ct, tag := sealed[:len(secret)], sealed[len(secret):]
	var out []byte
	out = append(out, "HHH"...)
	out = append(out, ct[:14]...)
	out = append(out, "TT"...)
	out = append(out, ct[14:]...)
	out = append(out, tag...)
	supStart := len(out) - 8
	out = appendULEB128(out, 7)
	out = appendULEB128(out, 0)
	out = appendULEB128(out, 3)
	out = appendULEB128(out, 17)
	out = appendULEB128(out, 2)
	out = append(out, byte(len(out)-supStart+3), 0xFA, 0xFA)
	d := NewDecryptor(nil)
	d.TransitionToKeyRatchet(NewKeyRatchet(base))
	got, err := d.DecryptFrame(nil, out)
	if err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("got %q, %v", got, err)
	}
	out[1] ^= 1 // authenticated clear byte
	d2 := NewDecryptor(nil)
	d2.TransitionToKeyRatchet(NewKeyRatchet(base))
	if _, err := d2.DecryptFrame(nil, out); err == nil {
		t.Fatal("tampered unencrypted range accepted")
	}
}

func TestFrameCheck(t *testing.T) {
	for _, h := range []string{
		"", "fafa", "00000000000000000000fafa", // too short
		"0000000000000000000bfafa",           // size 11 < minimum
		"00000000000000000000000cfafa00",     // no marker at the end
		"0000000000000000ff0cfafa",           // nonce runs into the size byte
		"000000000000000001ff0dfafa",         // range truncated
		"0000000000000000010500100ffafa",     // range beyond the media
		"AA0000000000000000000102000010fafa", // overlapping/unordered ranges
		"000000000000000080808080801011fafa", // nonce above 32 bits
	} {
		b, _ := hex.DecodeString(h)
		var f Frame
		if err := f.Unmarshal(b); err == nil {
			t.Errorf("%s passed the protocol frame check", h)
		}
	}
	b, _ := hex.DecodeString("aabb" + "0102030405060708" + "05" + "0c" + "fafa")
	var f Frame
	if err := f.Unmarshal(b); err != nil || f.Nonce != 5 || !bytes.Equal(f.Media, []byte{0xaa, 0xbb}) {
		t.Fatalf("valid frame: %v %+v", err, f)
	}
}

func TestEncryptAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	frame := make([]byte, 160)
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(1000, func() { _, _ = e.EncryptFrame(dst[:0], frame) }); a != 0 {
		t.Fatalf("EncryptFrame allocates %.1f times per frame", a)
	}
	d := NewDecryptor(nil)
	d.TransitionToKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	out := make([]byte, 0, 512)
	enc := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(1000, func() {
		enc, _ = e.EncryptFrame(enc[:0], frame)
		_, _ = d.DecryptFrame(out[:0], enc)
	}); a != 0 {
		t.Fatalf("DecryptFrame allocates %.1f times per frame", a)
	}
}

func BenchmarkEncryptFrame(b *testing.B) {
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	frame := make([]byte, 160) // a 20 ms Opus frame at ~64 kbit/s
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = e.EncryptFrame(dst[:0], frame)
	}
}

func BenchmarkDecryptFrame(b *testing.B) {
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	d := NewDecryptor(nil)
	d.TransitionToKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	frame := make([]byte, 160)
	enc := make([]byte, 0, 512)
	out := make([]byte, 0, 512)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		enc, _ = e.EncryptFrame(enc[:0], frame)
		out, _ = d.DecryptFrame(out[:0], enc)
	}
}

func FuzzDecryptFrame(f *testing.F) {
	var e Encryptor
	e.SetKeyRatchet(NewKeyRatchet(make([]byte, 16)))
	for _, n := range []int{0, 1, 3, 60} {
		b, _ := e.EncryptFrame(nil, make([]byte, n))
		f.Add(b)
	}
	f.Add([]byte{0xF8, 0xFF, 0xFE})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0x85, 0x01, 0x00, 0x00, 0x02, 0x00, 0x0F, 0xFA, 0xFA})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		if fr.Unmarshal(b) == nil {
			at := 0
			for _, r := range fr.Ranges {
				if r.Offset < at || r.Offset+r.Size > len(fr.Media) {
					t.Fatalf("accepted bad range %+v", r)
				}
				at = r.Offset + r.Size
			}
		}
		d := NewDecryptor(nil)
		d.TransitionToKeyRatchet(NewKeyRatchet(make([]byte, 16)))
		out, err := d.DecryptFrame(nil, b)
		if err == nil && !IsSilence(b) && len(out) >= len(b) {
			t.Fatalf("decrypted frame not shorter than its protocol frame")
		}
	})
}
