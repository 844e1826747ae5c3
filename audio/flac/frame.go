package flac

import (
	"errors"
	"io"
	"math/bits"
)

// errCorrupt marks a frame that fails a check; the decoder skips to the next
// frame sync and goes on.
var errCorrupt = errors.New("flac: corrupt frame")

// maxGapFill bounds the silence inserted for skipped corrupt frames.
const maxGapFill = 1 << 20

// Channel assignments, RFC 9639 section 9.1.3.
const (
	assignLeftSide  = 8
	assignSideRight = 9
	assignMidSide   = 10
)

// blockSizes maps the 4-bit block size code (RFC 9639 section 9.1.1 table 14)
// to samples; 0 is reserved and 6/7 read the size from the header's end.
var blockSizes = [16]int{0, 192, 576, 1152, 2304, 4608, -1, -2, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768}

// sampleRates maps the 4-bit sample rate code (RFC 9639 section 9.1.2 table 15)
// to Hz; 0 means "from STREAMINFO", negative codes read the rate from the
// header's end, and 15 is invalid.
var sampleRates = [16]int{0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000, -1, -2, -3, -4}

// bitDepths maps the 3-bit bit depth code (RFC 9639 section 9.1.4 table 17);
// 0 means "from STREAMINFO" and -1 is reserved.
var bitDepths = [8]int{0, 8, 12, -1, 16, 20, 24, 32}

// header is a parsed frame header (RFC 9639 section 9.1).
type header struct {
	strategy  int // 0 fixed block size, 1 variable
	blockSize int
	assign    int // channel assignment code
	channels  int
	bitDepth  int
	number    uint64 // frame number (fixed) or first sample number (variable)
}

// firstSample returns the stream sample number of the frame's first sample.
func (d *Decoder) firstSample(h *header) int64 {
	if h.strategy == 1 {
		return int64(h.number)
	}
	return int64(h.number) * int64(d.maxBlock)
}

// nextFrame decodes the next good frame into d.samples, skipping corrupt ones.
// It returns io.EOF at the end of the input, including inside a truncated
// frame, and the reader's error when reading fails otherwise.
func (d *Decoder) nextFrame() error {
	b := d.br
	for {
		if !b.seekSync(d.strategy) {
			return d.endErr()
		}
		start := b.offset()
		err := d.decodeFrame(&d.hdr)
		if err == nil {
			h := &d.hdr
			first := d.firstSample(h)
			if d.lost {
				if gap := first - d.outPos; gap > 0 && gap <= maxGapFill {
					d.silence = gap
				}
				d.lost = false
			}
			d.strategy = h.strategy
			d.frameLen = h.blockSize
			d.frameOff = 0
			d.frameFirst = first
			d.frameStart = start
			return nil
		}
		if b.eof {
			if e := d.endErr(); e != io.EOF {
				return e // the reader failed
			}
		}
		// A corrupt frame, or one cut short by the end of input (perhaps
		// only because its garbage header claimed too much): look for the
		// next sync one byte after its start.
		if !b.eof {
			d.skipped++
		}
		d.lost = true
		if !b.rewindToMark() {
			if b.eof {
				return io.EOF
			}
			b.align()
		}
	}
}

// endErr is the error for running out of input: the reader's own error when
// it failed, else io.EOF.
func (d *Decoder) endErr() error {
	if e := d.br.rerr; e != nil && e != io.EOF && e != io.ErrUnexpectedEOF {
		return e
	}
	return io.EOF
}

// readHeader parses a frame header at a sync code, checking its CRC-8
// (RFC 9639 section 9.1).
func (d *Decoder) readHeader(h *header) error {
	b := d.br
	var c uint8
	hb := func() uint64 {
		v := b.readByte()
		c = crc8Table[c^v]
		return uint64(v)
	}
	hb() // 0xFF
	h.strategy = int(hb() & 1)
	x := hb()
	bsCode, srCode := x>>4, x&15
	x = hb()
	h.assign = int(x >> 4)
	bdCode := x >> 1 & 7
	if x&1 != 0 || bsCode == 0 || srCode == 15 || h.assign > assignMidSide || bitDepths[bdCode] < 0 {
		return errCorrupt
	}
	// Coded number (RFC 9639 section 9.1.5): UTF-8-like, up to 7 bytes.
	x = hb()
	var extra int
	switch {
	case x < 0x80:
	case x < 0xC0:
		return errCorrupt
	case x < 0xE0:
		x, extra = x&0x1F, 1
	case x < 0xF0:
		x, extra = x&0x0F, 2
	case x < 0xF8:
		x, extra = x&0x07, 3
	case x < 0xFC:
		x, extra = x&0x03, 4
	case x < 0xFE:
		x, extra = x&0x01, 5
	case x == 0xFE:
		x, extra = 0, 6
	default:
		return errCorrupt
	}
	if h.strategy == 0 && extra > 5 {
		return errCorrupt // frame numbers have at most 31 bits
	}
	for range extra {
		y := hb()
		if y&0xC0 != 0x80 {
			return errCorrupt
		}
		x = x<<6 | y&0x3F
	}
	h.number = x
	switch bs := blockSizes[bsCode]; bs {
	case -1:
		h.blockSize = int(hb()) + 1
	case -2:
		h.blockSize = int(hb()<<8|hb()) + 1
	default:
		h.blockSize = bs
	}
	switch sampleRates[srCode] {
	case -1:
		hb() // rate in kHz: informational, STREAMINFO's rate is used
	case -2, -3:
		hb()
		hb()
	}
	want := c
	if uint8(hb()) != want || b.eof {
		return errCorrupt
	}
	if h.blockSize > d.maxBlock {
		return errCorrupt
	}
	h.channels = h.assign + 1
	if h.assign >= assignLeftSide {
		h.channels = 2
	}
	if h.channels != d.channels {
		return errCorrupt
	}
	h.bitDepth = bitDepths[bdCode]
	if h.bitDepth == 0 {
		h.bitDepth = d.bitDepth
	}
	if h.bitDepth != d.bitDepth {
		return errCorrupt
	}
	return nil
}

// decodeFrame decodes the frame at the reader's sync code into d.samples and
// checks its CRC-16 (RFC 9639 sections 9 to 9.3).
func (d *Decoder) decodeFrame(h *header) error {
	b := d.br
	b.startCRC()
	if err := d.readHeader(h); err != nil {
		return err
	}
	bs := h.blockSize
	for ch := range h.channels {
		depth := uint(h.bitDepth)
		switch {
		case h.assign == assignLeftSide && ch == 1,
			h.assign == assignSideRight && ch == 0,
			h.assign == assignMidSide && ch == 1:
			depth++ // the side channel has one more bit
		}
		if err := d.decodeSubframe(d.samples[ch][:bs], depth); err != nil {
			return err
		}
		if b.eof {
			return errTruncated
		}
	}
	b.align()
	sum := b.sumCRC()
	if uint16(b.read(16)) != sum || b.eof {
		return errCorrupt
	}
	d.decorrelate(h)
	// A CRC-valid frame can still hold samples outside the bit depth (an
	// invalid stream): clamp them so output stays within full scale.
	hi := int64(1)<<(h.bitDepth-1) - 1
	lo := -hi - 1
	for ch := range h.channels {
		for i, v := range d.samples[ch][:bs] {
			if v > hi {
				d.samples[ch][i] = hi
			} else if v < lo {
				d.samples[ch][i] = lo
			}
		}
	}
	return nil
}

// decorrelate undoes inter-channel decorrelation (RFC 9639 section 4.2).
func (d *Decoder) decorrelate(h *header) {
	bs := h.blockSize
	switch h.assign {
	case assignLeftSide:
		l, s := d.samples[0][:bs], d.samples[1][:bs]
		for i := range l {
			s[i] = l[i] - s[i]
		}
	case assignSideRight:
		s, r := d.samples[0][:bs], d.samples[1][:bs]
		for i := range s {
			s[i] += r[i]
		}
	case assignMidSide:
		m, s := d.samples[0][:bs], d.samples[1][:bs]
		for i := range m {
			mid := m[i]<<1 | s[i]&1
			m[i] = (mid + s[i]) >> 1
			s[i] = (mid - s[i]) >> 1
		}
	}
}

// decodeSubframe decodes one channel of depth bits into s (RFC 9639 section 9.2).
func (d *Decoder) decodeSubframe(s []int64, depth uint) error {
	b := d.br
	x := b.read(8)
	if x&0x80 != 0 {
		return errCorrupt
	}
	typ := x >> 1 & 0x3F
	var wasted uint
	if x&1 != 0 {
		k, ok := b.readUnary(uint64(depth))
		if !ok || k+1 > uint64(depth) {
			return errCorrupt
		}
		wasted = uint(k) + 1
	}
	depth -= wasted
	switch {
	case typ == 0: // CONSTANT
		v := b.readSigned(depth)
		for i := range s {
			s[i] = v
		}
	case typ == 1: // VERBATIM
		for i := range s {
			s[i] = b.readSigned(depth)
		}
	case typ >= 8 && typ <= 12: // FIXED, orders 0 to 4
		order := int(typ - 8)
		if order > len(s) {
			return errCorrupt
		}
		for i := range order {
			s[i] = b.readSigned(depth)
		}
		if err := d.readResidual(s, order); err != nil {
			return err
		}
		restoreFixed(s, order)
	case typ >= 32: // LPC, orders 1 to 32
		order := int(typ - 31)
		if order > len(s) {
			return errCorrupt
		}
		for i := range order {
			s[i] = b.readSigned(depth)
		}
		precision := uint(b.read(4)) + 1
		if precision == 16 {
			return errCorrupt
		}
		shift := b.readSigned(5)
		if shift < 0 {
			return errCorrupt // RFC 9639 section 9.2.6: negative shifts are invalid
		}
		var coef [32]int64
		// coef[j] multiplies s[i-order+j]: the file stores the coefficient
		// of the most recent sample first.
		for j := range order {
			coef[order-1-j] = b.readSigned(precision)
		}
		if err := d.readResidual(s, order); err != nil {
			return err
		}
		restoreLPC(s, coef[:order], uint(shift))
	default:
		return errCorrupt // reserved subframe type
	}
	if wasted > 0 {
		for i := range s {
			s[i] <<= wasted
		}
	}
	return nil
}

// readResidual decodes the coded residual (RFC 9639 section 9.2.7) into
// s[order:].
func (d *Decoder) readResidual(s []int64, order int) error {
	b := d.br
	method := b.read(2)
	if method > 1 {
		return errCorrupt
	}
	paramBits := uint(4 + method)
	escape := uint64(1)<<paramBits - 1
	porder := uint(b.read(4))
	parts := 1 << porder
	psize := len(s) >> porder
	if psize<<porder != len(s) || psize < order {
		return errCorrupt
	}
	i := order
	for p := range parts {
		end := (p + 1) * psize
		k := b.read(paramBits)
		if k == escape {
			nb := uint(b.read(5))
			for ; i < end; i++ {
				s[i] = b.readSigned(nb)
			}
			continue
		}
		if !b.readRice(s[i:end], uint(k)) {
			return errCorrupt
		}
		i = end
	}
	return nil
}

// maxQuotient bounds the unary part of a Rice code: larger values cannot come
// from a valid stream and would only waste time.
const maxQuotient = 1 << 32

// readRice decodes len(dst) Rice codes with parameter k (RFC 9639 section
// 9.2.7.2), folding each to a signed value.
func (b *bitReader) readRice(dst []int64, k uint) bool {
	cache, n, pos := b.cache, b.n, b.pos
	buf, end := b.buf, b.end
	for i := range dst {
		if n <= 56 && pos+8 <= end {
			cache |= beUint64(buf[pos:]) >> n
			c := (63 - n) >> 3
			pos += int(c)
			n += c << 3
		}
		z := uint(bits.LeadingZeros64(cache))
		if z+1+k <= n {
			cache <<= z + 1
			u := uint64(z)<<k | cache>>(64-k)
			cache <<= k
			n -= z + 1 + k
			dst[i] = int64(u>>1) ^ -int64(u&1)
			continue
		}
		b.cache, b.n, b.pos = cache, n, pos
		q, ok := b.readUnary(maxQuotient)
		if !ok {
			return false
		}
		u := q<<k | b.read(k)
		dst[i] = int64(u>>1) ^ -int64(u&1)
		cache, n, pos = b.cache, b.n, b.pos
		buf, end = b.buf, b.end
	}
	b.cache, b.n, b.pos = cache, n, pos
	return !b.eof
}

func beUint64(p []byte) uint64 {
	_ = p[7]
	return uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
		uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7])
}

// restoreFixed adds the fixed predictor of the given order (RFC 9639 section
// 9.2.5) to the residual in s[order:].
func restoreFixed(s []int64, order int) {
	switch order {
	case 1:
		for i := 1; i < len(s); i++ {
			s[i] += s[i-1]
		}
	case 2:
		for i := 2; i < len(s); i++ {
			s[i] += 2*s[i-1] - s[i-2]
		}
	case 3:
		for i := 3; i < len(s); i++ {
			s[i] += 3*(s[i-1]-s[i-2]) + s[i-3]
		}
	case 4:
		for i := 4; i < len(s); i++ {
			s[i] += 4*(s[i-1]+s[i-3]) - 6*s[i-2] - s[i-4]
		}
	}
}

// restoreLPC adds the linear prediction (RFC 9639 section 9.2.6) to the
// residual in s[len(coef):]; coef[j] multiplies the sample len(coef)-j back.
// The sum is 64-bit, enough for 33-bit samples and 15-bit coefficients.
func restoreLPC(s []int64, coef []int64, shift uint) {
	order := len(coef)
	switch order {
	case 8:
		c := (*[8]int64)(coef)
		for i := 8; i < len(s); i++ {
			h := (*[8]int64)(s[i-8 : i])
			sum := c[0]*h[0] + c[1]*h[1] + c[2]*h[2] + c[3]*h[3] +
				c[4]*h[4] + c[5]*h[5] + c[6]*h[6] + c[7]*h[7]
			s[i] += sum >> shift
		}
		return
	case 12:
		c := (*[12]int64)(coef)
		for i := 12; i < len(s); i++ {
			h := (*[12]int64)(s[i-12 : i])
			sum := c[0]*h[0] + c[1]*h[1] + c[2]*h[2] + c[3]*h[3] +
				c[4]*h[4] + c[5]*h[5] + c[6]*h[6] + c[7]*h[7] +
				c[8]*h[8] + c[9]*h[9] + c[10]*h[10] + c[11]*h[11]
			s[i] += sum >> shift
		}
		return
	}
	// Other orders: pad the coefficients with leading zeros to a multiple of
	// four and unroll; the first samples, short of history, go one by one.
	p := (order + 3) &^ 3
	var padded [32]int64
	copy(padded[p-order:p], coef)
	c := padded[:p]
	for i := order; i < min(p, len(s)); i++ {
		h := s[i-order : i]
		h = h[:len(coef)]
		var sum int64
		for j, cj := range coef {
			sum += cj * h[j]
		}
		s[i] += sum >> shift
	}
	for i := p; i < len(s); i++ {
		h := s[i-p : i]
		h = h[:len(c)]
		var sum int64
		for j := 0; j+3 < len(c) && j+3 < len(h); j += 4 {
			sum += c[j]*h[j] + c[j+1]*h[j+1] + c[j+2]*h[j+2] + c[j+3]*h[j+3]
		}
		s[i] += sum >> shift
	}
}
