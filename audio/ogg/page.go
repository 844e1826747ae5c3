package ogg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// page is one parsed Ogg page (RFC 3533 §6). Its slices point into the
// pageReader's buffer and are valid until the next call to next or seek.
type page struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	segs    []byte
	body    []byte
	offset  int64 // file offset of the capture pattern
	size    int   // whole page, header included
}

// Unmarshal parses one page at the start of b, verifying its checksum. It
// returns the page's size; p's slices point into b.
func (p *page) Unmarshal(b []byte) (int, error) {
	if len(b) < headerSize {
		return 0, io.ErrUnexpectedEOF
	}
	if string(b[:4]) != "OggS" {
		return 0, errNoCapture
	}
	if b[4] != 0 {
		return 0, fmt.Errorf("ogg: unsupported page version %d", b[4])
	}
	nseg := int(b[26])
	if len(b) < headerSize+nseg {
		return 0, io.ErrUnexpectedEOF
	}
	segs := b[headerSize : headerSize+nseg]
	bodyLen := 0
	for _, s := range segs {
		bodyLen += int(s)
	}
	total := headerSize + nseg + bodyLen
	if len(b) < total {
		return 0, io.ErrUnexpectedEOF
	}
	crc := crcUpdate(0, b[:22])
	crc = crcUpdate(crc, zero4[:])
	crc = crcUpdate(crc, b[26:total])
	if crc != binary.LittleEndian.Uint32(b[22:]) {
		return 0, errBadCRC
	}
	p.flags = b[5]
	p.granule = int64(binary.LittleEndian.Uint64(b[6:]))
	p.serial = binary.LittleEndian.Uint32(b[14:])
	p.seq = binary.LittleEndian.Uint32(b[18:])
	p.segs = segs
	p.body = b[headerSize+nseg : total]
	p.size = total
	return total, nil
}

var (
	zero4        [4]byte
	errNoCapture = errors.New("ogg: no capture pattern")
	errBadCRC    = errors.New("ogg: page checksum mismatch")
	errNotOgg    = errors.New("ogg: no Ogg page found (not an Ogg file)")
	capture      = []byte("OggS")
)

// pageReader finds and verifies pages in a byte stream, resynchronising on the
// capture pattern after garbage or corrupt pages.
type pageReader struct {
	r          io.Reader
	seeker     io.Seeker // nil when r cannot seek
	buf        []byte
	start, end int   // buf[start:end] holds unread bytes
	off        int64 // file offset of buf[start]
	eof        bool
	err        error // sticky read error other than EOF
	skipped    int64 // bytes skipped while hunting for pages
	limit      int64 // when > 0, no page is looked for at or after this offset
	maxSkip    int64 // when > 0, skipping more garbage than this is errNotOgg
}

func newPageReader(r io.Reader) *pageReader {
	pr := &pageReader{r: r, buf: make([]byte, 2*maxPageSize)}
	if s, ok := r.(io.Seeker); ok {
		if sk, ok := r.(interface{ Seekable() bool }); ok && !sk.Seekable() {
			return pr // a live source: Seek exists but cannot work
		}
		pr.seeker = s
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			pr.off = off
		} else {
			pr.seeker = nil
		}
	}
	return pr
}

// fill tries to make at least n bytes available; it reports whether it could.
func (pr *pageReader) fill(n int) bool {
	for pr.end-pr.start < n {
		if pr.eof || pr.err != nil {
			return false
		}
		if pr.start+n > len(pr.buf) {
			copy(pr.buf, pr.buf[pr.start:pr.end])
			pr.end -= pr.start
			pr.start = 0
		}
		m, err := pr.r.Read(pr.buf[pr.end:])
		pr.end += m
		if err == io.EOF {
			pr.eof = true
		} else if err != nil {
			pr.err = err
		} else if m == 0 {
			continue
		}
	}
	return true
}

// next reads the next valid page into p. At the end of input (including a
// truncated last page) it returns io.EOF.
func (pr *pageReader) next(p *page) error {
	for {
		if pr.limit > 0 && pr.off >= pr.limit {
			return io.EOF
		}
		if pr.maxSkip > 0 && pr.skipped > pr.maxSkip {
			return errNotOgg
		}
		if !pr.fill(headerSize) {
			return pr.endErr()
		}
		i := bytes.Index(pr.buf[pr.start:pr.end], capture)
		if i < 0 {
			drop := pr.end - pr.start - min(3, pr.end-pr.start)
			pr.advance(drop)
			pr.skipped += int64(drop)
			if pr.eof || pr.err != nil {
				return pr.endErr()
			}
			pr.fill(pr.end - pr.start + 1)
			continue
		}
		pr.skipped += int64(i)
		pr.advance(i)
		if !pr.fill(headerSize) {
			return pr.endErr()
		}
		if pr.buf[pr.start+4] != 0 || pr.buf[pr.start+5] > 7 {
			pr.advance(1) // not a version 0 page header: a false capture pattern
			pr.skipped++
			continue
		}
		nseg := int(pr.buf[pr.start+26])
		if !pr.fill(headerSize + nseg) {
			return pr.endErr()
		}
		bodyLen := 0
		for _, s := range pr.buf[pr.start+headerSize : pr.start+headerSize+nseg] {
			bodyLen += int(s)
		}
		if !pr.fill(headerSize + nseg + bodyLen) {
			return pr.endErr()
		}
		n, err := p.Unmarshal(pr.buf[pr.start:pr.end])
		if err != nil {
			// Corrupt page or false capture pattern: resume the hunt one byte on.
			pr.advance(1)
			pr.skipped++
			continue
		}
		p.offset = pr.off
		pr.advance(n)
		return nil
	}
}

func (pr *pageReader) advance(n int) {
	pr.start += n
	pr.off += int64(n)
}

func (pr *pageReader) endErr() error {
	if pr.err != nil {
		return fmt.Errorf("ogg: reading: %w", pr.err)
	}
	return io.EOF
}

// seek moves to file offset off (r must be an io.Seeker).
func (pr *pageReader) seek(off int64) error {
	if pr.seeker == nil {
		return errNotSeekable
	}
	bufStart := pr.off - int64(pr.start)
	if off >= bufStart && off <= pr.off+int64(pr.end-pr.start) {
		pr.start = int(off - bufStart)
		pr.off = off
		return nil
	}
	if _, err := pr.seeker.Seek(off, io.SeekStart); err != nil {
		pr.err = nil
		return fmt.Errorf("ogg: seeking: %w", err)
	}
	pr.start, pr.end, pr.off = 0, 0, off
	pr.eof, pr.err = false, nil
	return nil
}

// size returns the input's length by seeking to its end, restoring nothing:
// the caller seeks back afterwards.
func (pr *pageReader) size() (int64, error) {
	if pr.seeker == nil {
		return -1, errNotSeekable
	}
	n, err := pr.seeker.Seek(0, io.SeekEnd)
	if err != nil {
		return -1, err
	}
	pr.start, pr.end, pr.eof = 0, 0, false
	pr.off = n
	return n, nil
}

var errNotSeekable = errors.New("ogg: input is not seekable")
