package mp3

import "encoding/binary"

// huffBook is one big_values codebook in the standard's form.
type huffBook struct {
	xlen  int
	codes []uint16
	lens  []uint8
}

// A lookup entry is either a leaf, holding the decoded symbol (bits 0-7) and
// the code length (bits 8-15), or, with entrySub set, a link to a second-level
// table: offset in bits 0-23 and that table's index width in bits 24-28.
const (
	entrySub   = 1 << 31
	lutBits    = 8 // first-level index width
	quadLUTLen = 6 // longest count1 code
)

// huffLUT is a two-level decoding table built from a codebook at init.
type huffLUT struct {
	entries []uint32
}

var (
	bookLUTs [len(huffBooks)]huffLUT
	quadLUTs [2][1 << quadLUTLen]uint16 // symbol | len<<8
)

func init() {
	for i := range huffBooks {
		bookLUTs[i] = buildLUT(&huffBooks[i])
	}
	for t := 0; t < 2; t++ {
		for sym := 0; sym < 16; sym++ {
			n := int(quadLens[t][sym])
			c := int(quadCodes[t][sym]) << (quadLUTLen - n)
			for j := 0; j < 1<<(quadLUTLen-n); j++ {
				quadLUTs[t][c+j] = uint16(sym | n<<8)
			}
		}
	}
}

// buildLUT turns hcod/hlen pairs into a table indexed by the next lutBits
// bits, with second-level tables for longer codes.
func buildLUT(b *huffBook) huffLUT {
	t := make([]uint32, 1<<lutBits)
	subBits := map[int]int{} // first-level prefix -> width of its second level
	for i, n := range b.lens {
		sym := uint32((i/b.xlen)<<4 | i%b.xlen)
		code := int(b.codes[i])
		l := int(n)
		if l <= lutBits {
			base := code << (lutBits - l)
			for j := 0; j < 1<<(lutBits-l); j++ {
				t[base+j] = sym | uint32(l)<<8
			}
			continue
		}
		p := code >> (l - lutBits)
		if w := l - lutBits; w > subBits[p] {
			subBits[p] = w
		}
	}
	for p := 0; p < 1<<lutBits; p++ {
		w, ok := subBits[p]
		if !ok {
			continue
		}
		t[p] = entrySub | uint32(w)<<24 | uint32(len(t))
		t = append(t, make([]uint32, 1<<w)...)
	}
	for i, n := range b.lens {
		l := int(n)
		if l <= lutBits {
			continue
		}
		sym := uint32((i/b.xlen)<<4 | i%b.xlen)
		code := int(b.codes[i])
		p := code >> (l - lutBits)
		e := t[p]
		w := int(e>>24) & 31
		off := int(e & 0xffffff)
		rest := code & (1<<(l-lutBits) - 1)
		base := rest << (w - (l - lutBits))
		for j := 0; j < 1<<(w-(l-lutBits)); j++ {
			t[off+base+j] = sym | uint32(l)<<8
		}
	}
	return huffLUT{entries: t}
}

// bitReader reads big-endian bits from a byte slice that has at least 8
// bytes of zero slack past end, so peeks never go out of range.
type bitReader struct {
	buf []byte
	pos int // in bits
	end int // in bits; reads beyond it return zeros from the slack
}

// peek32 returns the next 32 bits, left aligned.
func (r *bitReader) peek32() uint32 {
	p := r.pos >> 3
	if p+8 > len(r.buf) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.buf[p:])
	return uint32((v << uint(r.pos&7)) >> 32)
}

func (r *bitReader) bits(n int) int {
	if n == 0 {
		return 0
	}
	v := r.peek32() >> uint(32-n)
	r.pos += n
	return int(v)
}

func (r *bitReader) bit() int { return r.bits(1) }

// decodePair reads one (x, y) codeword of lut.
func (r *bitReader) decodePair(lut *huffLUT) (x, y int) {
	v := r.peek32()
	e := lut.entries[v>>(32-lutBits)]
	if e&entrySub != 0 {
		w := int(e>>24) & 31
		e = lut.entries[int(e&0xffffff)+int((v<<lutBits)>>(32-w))]
	}
	r.pos += int(e>>8) & 0xff
	return int(e>>4) & 15, int(e) & 15
}
