package flac

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
)

// bufSize is the bit reader's fixed input buffer. Frames larger than it are
// still decoded (the buffer slides); only the rewind after a corrupt frame
// needs the frame's start to be still buffered.
const bufSize = 64 << 10

var (
	errTruncated  = errors.New("flac: truncated stream")
	errNoProgress = errors.New("flac: reader returned no data and no error")
)

// bitReader reads big-endian bit fields from an io.Reader through a 64-bit
// cache. cache holds n valid bits left-aligned; the bits after them are either
// zero or the true following bits of the stream, so loading bytes again with
// OR is harmless. Reading past the end of input yields zero bits and sets eof;
// callers check eof at frame boundaries.
type bitReader struct {
	r     io.Reader
	buf   []byte
	end   int    // valid bytes in buf
	pos   int    // next byte of buf to load into cache
	cache uint64 // left-aligned bits
	n     uint   // valid bits in cache
	base  int64  // stream offset of buf[0]
	rerr  error  // sticky error from r
	eof   bool   // a read ran past the end of input

	crc    uint16 // CRC-16 of buf[crcPos0:crcPos] since startCRC
	crcPos int    // bytes before this index are folded into crc
	mark   int    // buf index of the current frame's first byte, -1 when none
}

func newBitReader(r io.Reader) *bitReader {
	return &bitReader{r: r, buf: make([]byte, bufSize), mark: -1}
}

// reset forgets all buffered input; the next read starts at stream offset off.
func (b *bitReader) reset(off int64) {
	b.end, b.pos, b.cache, b.n = 0, 0, 0, 0
	b.base = off
	b.rerr = nil
	b.eof = false
	b.crcPos = 0
	b.mark = -1
}

// cur returns the buf index of the byte holding the next unread bit.
func (b *bitReader) cur() int { return b.pos - int((b.n+7)>>3) }

// offset returns the stream offset of the next unread byte (after alignment).
func (b *bitReader) offset() int64 { return b.base + int64(b.cur()) }

// refill slides the unread bytes to the front of buf and reads more input.
func (b *bitReader) refill() {
	cur := b.cur()
	if b.crcPos < cur {
		b.crc = crc16Update(b.crc, b.buf[b.crcPos:cur])
		b.crcPos = cur
	}
	keep := cur
	if b.mark >= 0 && b.mark < keep && cur-b.mark <= len(b.buf)/2 {
		keep = b.mark
	}
	if keep > 0 {
		copy(b.buf, b.buf[keep:b.end])
		b.end -= keep
		b.pos -= keep
		b.crcPos -= keep
		if b.mark >= 0 {
			b.mark -= keep
		}
		b.base += int64(keep)
	}
	empty := 0
	for b.end < len(b.buf) && b.rerr == nil {
		m, err := b.r.Read(b.buf[b.end:])
		b.end += m
		if err != nil {
			b.rerr = err
			break
		}
		if m == 0 {
			empty++
			if empty > 100 {
				b.rerr = errNoProgress
			}
			continue
		}
		if b.end-b.pos >= 8 {
			break
		}
	}
}

// fill loads at least 56 bits into the cache unless the input ends first.
func (b *bitReader) fill() {
	if b.pos+8 <= b.end {
		b.cache |= binary.BigEndian.Uint64(b.buf[b.pos:]) >> b.n
		k := (63 - b.n) >> 3
		b.pos += int(k)
		b.n += k << 3
		return
	}
	b.fillSlow()
}

func (b *bitReader) fillSlow() {
	if b.rerr == nil {
		b.refill()
		if b.pos+8 <= b.end {
			b.fill()
			return
		}
	}
	for b.n <= 56 && b.pos < b.end {
		b.cache |= uint64(b.buf[b.pos]) << (56 - b.n)
		b.pos++
		b.n += 8
	}
}

// need makes k ≤ 56 bits available, faking zero bits past the end of input.
func (b *bitReader) need(k uint) {
	if b.n < k {
		b.fill()
		if b.n < k {
			b.eof = true
			b.n = 64 // the bits after the real ones are zero
		}
	}
}

// read returns the next k ≤ 56 bits.
func (b *bitReader) read(k uint) uint64 {
	if k == 0 {
		return 0
	}
	b.need(k)
	v := b.cache >> (64 - k)
	b.cache <<= k
	b.n -= k
	return v
}

// readSigned returns the next k ≤ 56 bits as a two's complement number.
func (b *bitReader) readSigned(k uint) int64 {
	if k == 0 {
		return 0
	}
	v := b.read(k)
	return int64(v<<(64-k)) >> (64 - k)
}

// readByte returns the next 8 bits.
func (b *bitReader) readByte() byte { return byte(b.read(8)) }

// readUnary counts zero bits up to the next one bit, which it consumes.
// It fails past max zeros or at the end of input.
func (b *bitReader) readUnary(max uint64) (uint64, bool) {
	var count uint64
	for {
		if z := uint(bits.LeadingZeros64(b.cache)); z < b.n {
			b.cache <<= z + 1
			b.n -= z + 1
			count += uint64(z)
			return count, count <= max
		}
		count += uint64(b.n)
		b.cache, b.n = 0, 0
		if count > max || b.eof {
			return count, false
		}
		b.fill()
		if b.n == 0 {
			b.eof = true
			return count, false
		}
	}
}

// align skips to the next byte boundary.
func (b *bitReader) align() {
	k := b.n & 7
	b.cache <<= k
	b.n -= k
}

// startCRC begins a CRC-16 at the current (byte-aligned) position and marks it
// as the start of a frame.
func (b *bitReader) startCRC() {
	b.crc = 0
	b.crcPos = b.cur()
	b.mark = b.crcPos
}

// sumCRC returns the CRC-16 of everything since startCRC up to the current
// (byte-aligned) position.
func (b *bitReader) sumCRC() uint16 {
	cur := b.cur()
	if b.crcPos < cur {
		b.crc = crc16Update(b.crc, b.buf[b.crcPos:cur])
		b.crcPos = cur
	}
	return b.crc
}

// rewindToMark repositions the reader one byte after the marked frame start,
// when it is still buffered; it reports whether it could.
func (b *bitReader) rewindToMark() bool {
	if b.mark < 0 || b.mark >= b.end {
		return false
	}
	b.pos = b.mark + 1
	b.cache, b.n = 0, 0
	b.eof = false
	b.mark = -1
	return true
}

// seekSync moves to the next byte-aligned frame sync code (0xFF then 0xF8 or
// 0xF9, RFC 9639 section 9.1) and leaves the reader on it. strategy is -1 to
// accept both blocking strategies, else the one the stream uses. It reports
// false at the end of input.
func (b *bitReader) seekSync(strategy int) bool {
	b.align()
	// Drop the cache: continue byte-wise from the next unread byte.
	b.pos = b.cur()
	b.cache, b.n = 0, 0
	b.mark = -1
	for {
		for i := b.pos; i+1 < b.end; i++ {
			if b.buf[i] != 0xFF {
				continue
			}
			c := b.buf[i+1]
			if c&0xFE != 0xF8 || (strategy >= 0 && int(c&1) != strategy) {
				continue
			}
			b.pos = i
			return true
		}
		// Keep a trailing 0xFF: it may begin a sync split across reads.
		if b.end > b.pos && b.buf[b.end-1] == 0xFF {
			b.pos = b.end - 1
		} else {
			b.pos = b.end
		}
		if b.rerr != nil {
			b.eof = true
			return false
		}
		b.refill()
	}
}

// skip discards k bytes from a byte-aligned position, seeking when the
// underlying reader can.
func (b *bitReader) skip(k int64) error {
	b.align()
	b.pos = b.cur()
	b.cache, b.n = 0, 0
	avail := int64(b.end - b.pos)
	if k <= avail {
		b.pos += int(k)
		return nil
	}
	k -= avail
	b.base += int64(b.end)
	b.pos, b.end, b.crcPos, b.mark = 0, 0, 0, -1
	if s, ok := b.r.(io.Seeker); ok && b.rerr == nil {
		off, err := s.Seek(k, io.SeekCurrent)
		if err != nil {
			return err
		}
		b.base = off
		return nil
	}
	for k > 0 {
		if b.rerr != nil {
			return errTruncated
		}
		b.refill()
		m := min(int64(b.end), k)
		k -= m
		b.base += m
		copy(b.buf, b.buf[m:b.end])
		b.end -= int(m)
	}
	return nil
}

// readFull reads len(p) bytes from a byte-aligned position.
func (b *bitReader) readFull(p []byte) error {
	for i := range p {
		p[i] = b.readByte()
	}
	if b.eof {
		return errTruncated
	}
	return nil
}
