package ogg

import (
	"hash/crc32"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// bitwiseCRC is the Ogg CRC computed one bit at a time, straight from the
// definition, as the reference for the table-driven version.
func bitwiseCRC(p []byte) uint32 {
	var crc uint32
	for _, b := range p {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestCRC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		p := make([]byte, n*7)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		if got, want := crcUpdate(0, p), bitwiseCRC(p); got != want {
			t.Fatalf("len %d: %08x, bitwise %08x", len(p), got, want)
		}
		// Split updates agree with one pass.
		k := len(p) / 3
		if crcUpdate(crcUpdate(0, p[:k]), p[k:]) != crcUpdate(0, p) {
			t.Fatalf("len %d: split update differs", len(p))
		}
	}
	// Independent check: the same polynomial in reflected form is IEEE
	// CRC-32; with Go's inversions undone (init 0, no final XOR) and input
	// bytes and result bit-reversed, it must give the Ogg checksum.
	for _, p := range [][]byte{[]byte("OggS quaver checksum test vector"), make([]byte, 1000)} {
		refl := make([]byte, len(p))
		for i, b := range p {
			refl[i] = bits.Reverse8(b)
		}
		raw := ^crc32.Update(^uint32(0), crc32.IEEETable, refl)
		if got := crcUpdate(0, p); bits.Reverse32(raw) != got {
			t.Errorf("crc %08x, reflected IEEE gives %08x", got, bits.Reverse32(raw))
		}
	}
}

func BenchmarkCRC(b *testing.B) {
	p := make([]byte, 16<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		crcUpdate(0, p)
	}
}
