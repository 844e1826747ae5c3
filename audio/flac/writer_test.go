package flac

import (
	"encoding/binary"
	"fmt"
)

// This file is a small test-only FLAC writer, built from RFC 9639, that emits
// the coding choices common encoders avoid: escape-coded residual partitions,
// RICE2, variable block sizes, explicit header sample rates, odd bit depths
// and wasted bits. Tests decode its output with ffmpeg and with Decoder and
// compare both with the samples it was given.

type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

// write appends the low k ≤ 32 bits of v.
func (w *bitWriter) write(v uint64, k uint) {
	for k > 0 {
		take := min(k, 8)
		k -= take
		w.acc = w.acc<<take | (v>>k)&(1<<take-1)
		w.n += take
		for w.n >= 8 {
			w.n -= 8
			w.buf = append(w.buf, byte(w.acc>>w.n))
		}
	}
}

func (w *bitWriter) writeSigned(v int64, k uint) { w.write(uint64(v)&(1<<k-1), k) }

func (w *bitWriter) align() {
	if w.n > 0 {
		w.write(0, 8-w.n)
	}
}

// crc8Bitwise and crc16Bitwise compute the frame CRCs bit by bit, as the RFC
// describes them, independently of the decoder's tables.
func crc8Bitwise(p []byte) uint8 {
	var c uint8
	for _, b := range p {
		c ^= b
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func crc16Bitwise(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c ^= uint16(b) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x8005
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// autoEscape in residualPlan.escapeBits codes a partition with an escape
// code and the smallest raw width that holds its residuals.
const autoEscape = -2

// residualPlan says how a subframe's residual is coded.
type residualPlan struct {
	rice2  bool
	porder uint
	// params per partition; escapeBits entries >= 0 or autoEscape code the
	// partition with an escape instead, -1 with the Rice parameter.
	params     []uint
	escapeBits []int
}

// subframePlan describes one subframe.
type subframePlan struct {
	kind      string // "constant", "verbatim", "fixed", "lpc"
	order     int
	precision uint
	shift     uint
	coef      []int64 // coef[0] multiplies the previous sample
	wasted    uint
	res       residualPlan
}

// framePlan describes one frame; samples are per channel, as coded (after
// the encoder's stereo decorrelation).
type framePlan struct {
	variable  bool
	number    uint64 // frame number or first sample number
	bsCode    int    // block size code (0 picks one from the size)
	srCode    int
	srExtra   int // value for sample rate codes 12 to 14
	assign    int
	bdCode    int
	bits      int // the stream's bit depth
	subframes []subframePlan
	coded     [][]int64
}

func fixedPredict(x []int64, i, order int) int64 {
	switch order {
	case 1:
		return x[i-1]
	case 2:
		return 2*x[i-1] - x[i-2]
	case 3:
		return 3*x[i-1] - 3*x[i-2] + x[i-3]
	case 4:
		return 4*x[i-1] - 6*x[i-2] + 4*x[i-3] - x[i-4]
	}
	return 0
}

func writeCodedNumber(w *bitWriter, v uint64) {
	if v < 0x80 {
		w.write(v, 8)
		return
	}
	// n bytes carry 5n+1 bits for n = 2..7 (first byte 7-n bits, then 6 each).
	n := 2
	for ; n < 7 && v >= 1<<(5*n+1); n++ {
	}
	first := uint64(0xFF<<(8-n)) & 0xFF
	w.write(first|v>>(6*(n-1)), 8)
	for i := n - 2; i >= 0; i-- {
		w.write(0x80|(v>>(6*i))&0x3F, 8)
	}
}

// encodeFrame writes one frame.
func encodeFrame(f framePlan) []byte {
	bs := len(f.coded[0])
	w := &bitWriter{}
	strategy := uint64(0)
	if f.variable {
		strategy = 1
	}
	w.write(0xFFF8|strategy, 16)
	bsCode := f.bsCode
	if bsCode == 0 {
		bsCode = 7
		if bs <= 256 {
			bsCode = 6
		}
	}
	w.write(uint64(bsCode), 4)
	w.write(uint64(f.srCode), 4)
	w.write(uint64(f.assign), 4)
	w.write(uint64(f.bdCode), 3)
	w.write(0, 1)
	writeCodedNumber(w, f.number)
	switch bsCode {
	case 6:
		w.write(uint64(bs-1), 8)
	case 7:
		w.write(uint64(bs-1), 16)
	}
	switch f.srCode {
	case 12:
		w.write(uint64(f.srExtra), 8)
	case 13, 14:
		w.write(uint64(f.srExtra), 16)
	}
	w.write(uint64(crc8Bitwise(w.buf)), 8)
	for ch, sf := range f.subframes {
		depth := uint(f.bits)
		if (f.assign == 8 && ch == 1) || (f.assign == 9 && ch == 0) || (f.assign == 10 && ch == 1) {
			depth++
		}
		encodeSubframe(w, f.coded[ch], depth, sf)
	}
	w.align()
	w.write(uint64(crc16Bitwise(w.buf)), 16)
	return w.buf
}

func encodeSubframe(w *bitWriter, x []int64, depth uint, sf subframePlan) {
	typ := map[string]int{"constant": 0, "verbatim": 1, "fixed": 8 + sf.order, "lpc": 31 + sf.order}[sf.kind]
	w.write(0, 1)
	w.write(uint64(typ), 6)
	if sf.wasted > 0 {
		w.write(1, 1)
		w.write(0, sf.wasted-1)
		w.write(1, 1)
	} else {
		w.write(0, 1)
	}
	depth -= sf.wasted
	v := make([]int64, len(x))
	for i := range x {
		if x[i]&(1<<sf.wasted-1) != 0 {
			panic("sample has bits where wasted bits were promised")
		}
		v[i] = x[i] >> sf.wasted
	}
	switch sf.kind {
	case "constant":
		w.writeSigned(v[0], depth)
		return
	case "verbatim":
		for _, s := range v {
			w.writeSigned(s, depth)
		}
		return
	}
	for _, s := range v[:sf.order] {
		w.writeSigned(s, depth)
	}
	res := make([]int64, len(v))
	switch sf.kind {
	case "fixed":
		for i := sf.order; i < len(v); i++ {
			res[i] = v[i] - fixedPredict(v, i, sf.order)
		}
	case "lpc":
		w.write(uint64(sf.precision-1), 4)
		w.write(uint64(sf.shift), 5)
		for _, c := range sf.coef {
			w.writeSigned(c, sf.precision)
		}
		for i := sf.order; i < len(v); i++ {
			var sum int64
			for j, c := range sf.coef {
				sum += c * v[i-1-j]
			}
			res[i] = v[i] - sum>>sf.shift
		}
	}
	r := sf.res
	paramBits := uint(4)
	if r.rice2 {
		paramBits = 5
		w.write(1, 2)
	} else {
		w.write(0, 2)
	}
	w.write(uint64(r.porder), 4)
	psize := len(v) >> r.porder
	i := sf.order
	for p := range 1 << r.porder {
		end := (p + 1) * psize
		if eb := r.escapeBits[p]; eb >= 0 || eb == autoEscape {
			if eb == autoEscape {
				eb = 0
				for _, x := range res[i:end] {
					eb = max(eb, signedWidth(x))
				}
			}
			w.write(1<<paramBits-1, paramBits)
			w.write(uint64(eb), 5)
			for ; i < end; i++ {
				if eb > 0 {
					w.writeSigned(res[i], uint(eb))
				}
			}
			continue
		}
		k := r.params[p]
		w.write(uint64(k), paramBits)
		for ; i < end; i++ {
			u := uint64(res[i]<<1) ^ uint64(res[i]>>63)
			for q := u >> k; q > 0; q-- {
				w.write(0, 1)
			}
			w.write(1, 1)
			if k > 0 {
				w.write(u&(1<<k-1), k)
			}
		}
	}
}

// streamInfoBlock returns a STREAMINFO metadata block.
func streamInfoBlock(last bool, minBS, maxBS, rate, channels, bits int, total uint64, sum [16]byte) []byte {
	b := make([]byte, 4+34)
	b[0] = 0
	if last {
		b[0] = 0x80
	}
	b[3] = 34
	binary.BigEndian.PutUint16(b[4:], uint16(minBS))
	binary.BigEndian.PutUint16(b[6:], uint16(maxBS))
	v := uint64(rate)<<44 | uint64(channels-1)<<41 | uint64(bits-1)<<36 | total
	binary.BigEndian.PutUint64(b[14:], v)
	copy(b[22:], sum[:])
	return b
}

// streamPlan is a whole stream for the test writer.
type streamPlan struct {
	rate, bits int
	samples    [][]int64 // per channel
	blocks     []int     // block sizes in order
	variable   bool
	// frame fills in a frame's coding choices (everything but number and
	// coded samples) for frame i.
	frame func(i int) framePlan
}

// build returns the encoded stream.
func (sp streamPlan) build() []byte {
	total := len(sp.samples[0])
	var inter []int32
	for i := range total {
		for ch := range sp.samples {
			inter = append(inter, int32(sp.samples[ch][i]))
		}
	}
	maxBS, minBS := 0, 1<<16
	for i, b := range sp.blocks {
		maxBS = max(maxBS, b)
		if i < len(sp.blocks)-1 {
			minBS = min(minBS, b)
		}
	}
	if len(sp.blocks) == 1 || !sp.variable {
		minBS = maxBS
	}
	out := []byte("fLaC")
	out = append(out, streamInfoBlock(true, minBS, maxBS, sp.rate, len(sp.samples), sp.bits, uint64(total), pcmMD5(inter, sp.bits))...)
	first := 0
	for i, bs := range sp.blocks {
		f := sp.frame(i)
		f.bits = sp.bits
		f.variable = sp.variable
		f.number = uint64(i)
		if sp.variable {
			f.number = uint64(first)
		}
		f.coded = make([][]int64, len(sp.samples))
		for ch := range sp.samples {
			f.coded[ch] = sp.samples[ch][first : first+bs]
		}
		if len(sp.samples) == 2 {
			l, r := f.coded[0], f.coded[1]
			side := make([]int64, bs)
			mid := make([]int64, bs)
			for j := range l {
				side[j] = l[j] - r[j]
				mid[j] = (l[j] + r[j]) >> 1
			}
			switch f.assign {
			case 8:
				f.coded = [][]int64{l, side}
			case 9:
				f.coded = [][]int64{side, r}
			case 10:
				f.coded = [][]int64{mid, side}
			}
		}
		out = append(out, encodeFrame(f)...)
		first += bs
	}
	if first != total {
		panic(fmt.Sprintf("blocks cover %d samples, have %d", first, total))
	}
	return out
}

// signedWidth returns the bits a two's complement field needs for x (0 for 0).
func signedWidth(x int64) int {
	if x == 0 {
		return 0
	}
	for eb := 1; ; eb++ {
		if x >= -(1<<(eb-1)) && x < 1<<(eb-1) {
			return eb
		}
	}
}
