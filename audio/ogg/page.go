package ogg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/quaverbot/quaver/audio/internal/readbuf"
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

// pageReader finds and verifies pages in a byte stream (buffered by
// readbuf), resynchronising on the capture pattern after garbage or corrupt
// pages.
type pageReader struct {
	*readbuf.Reader
	skipped int64 // bytes skipped while hunting for pages
	limit   int64 // when > 0, no page is looked for at or after this offset
	maxSkip int64 // when > 0, skipping more garbage than this is errNotOgg
}

func newPageReader(r io.Reader) *pageReader {
	return &pageReader{Reader: readbuf.New(r, 2*maxPageSize, "ogg", errNotSeekable)}
}

// next reads the next valid page into p. At the end of input (including a
// truncated last page) it returns io.EOF.
func (pr *pageReader) next(p *page) error {
	for {
		if pr.limit > 0 && pr.Offset() >= pr.limit {
			return io.EOF
		}
		if pr.maxSkip > 0 && pr.skipped > pr.maxSkip {
			return errNotOgg
		}
		if !pr.Fill(headerSize) {
			return pr.EndErr()
		}
		buf := pr.Buffered()
		i := bytes.Index(buf, capture)
		if i < 0 {
			drop := len(buf) - min(3, len(buf))
			pr.Advance(drop)
			pr.skipped += int64(drop)
			if pr.Done() {
				return pr.EndErr()
			}
			pr.Fill(len(buf) - drop + 1)
			continue
		}
		pr.skipped += int64(i)
		pr.Advance(i)
		if !pr.Fill(headerSize) {
			return pr.EndErr()
		}
		buf = pr.Buffered()
		if buf[4] != 0 || buf[5] > 7 {
			pr.Advance(1) // not a version 0 page header: a false capture pattern
			pr.skipped++
			continue
		}
		nseg := int(buf[26])
		if !pr.Fill(headerSize + nseg) {
			return pr.EndErr()
		}
		bodyLen := 0
		for _, s := range pr.Buffered()[headerSize : headerSize+nseg] {
			bodyLen += int(s)
		}
		if !pr.Fill(headerSize + nseg + bodyLen) {
			return pr.EndErr()
		}
		n, err := p.Unmarshal(pr.Buffered())
		if err != nil {
			// Corrupt page or false capture pattern: resume the hunt one byte on.
			pr.Advance(1)
			pr.skipped++
			continue
		}
		p.offset = pr.Offset()
		pr.Advance(n)
		return nil
	}
}

var errNotSeekable = errors.New("ogg: input is not seekable")
