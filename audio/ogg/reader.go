package ogg

import (
	"errors"
	"fmt"
	"io"
)

// maxPacket bounds one reassembled packet. Opus audio packets are at most a
// few KB (RFC 6716 §3.4); larger packets (cover art in OpusTags) are truncated
// for headers and dropped for audio.
const maxPacket = 1 << 16

// maxHeaderPages bounds how many pages are examined to find the Opus headers.
const maxHeaderPages = 512

// OpusReader reads the Opus packets of the first Opus logical stream in an
// Ogg file (RFC 7845). Pages of other streams (multiplexed or chained) are
// skipped. It is not safe for concurrent use.
type OpusReader struct {
	pr     *pageReader
	serial uint32
	head   OpusHead
	tags   OpusTags

	dataStart  int64 // offset of the first page after the headers
	startGran  int64 // granule at the start of the first audio packet (-2 = unknown)
	duration   int64
	totalBytes int64

	pg       page
	havePage bool
	segIdx   int
	bodyPos  int
	lastSeq  uint32
	seqValid bool
	eos      bool

	acc      []byte // packet being assembled
	partial  bool   // acc holds the start of a packet
	oversize bool   // the packet being assembled exceeded maxPacket
	ready    bool   // acc holds a complete packet not yet returned (after SeekSample)
	reset    bool   // acc was returned; clear it before assembling
	pktPage  bool   // the last completed packet was the last one ending on its page

	// End trimming (RFC 7845 §4.4), followed as packets complete.
	prevGran int64 // granule where the packets completing on the current page start; -1 unknown
	pageSum  int64 // 48 kHz samples in the packets completed since prevGran
	padding  int   // samples to drop from the end of the last completed packet
}

// NewOpusReader reads the Ogg headers from r and returns a reader positioned
// at the first audio packet. A non-Opus stream gets an *UnsupportedCodecError
// ("unsupported codec: Vorbis"). When r is an io.Seeker, the duration is read
// from the last page and SeekSample works.
func NewOpusReader(r io.Reader) (*OpusReader, error) {
	or := &OpusReader{
		pr:        newPageReader(r),
		acc:       make([]byte, 0, 4096),
		startGran: -2,
		duration:  -1,
		prevGran:  -1,
	}
	if err := or.readHeaders(); err != nil {
		return nil, err
	}
	if or.pr.Seekable() {
		if err := or.probeEnd(); err != nil {
			return nil, err
		}
	}
	return or, nil
}

// readHeaders finds the Opus stream among the beginning-of-stream pages and
// reads its OpusHead and OpusTags packets.
func (or *OpusReader) readHeaders() error {
	var first string // codec of the first non-skeleton stream seen, for the error
	found := false
	// An Ogg file starts with a page; tolerate some leading junk (an ID3 tag,
	// a damaged start), not megabytes of it.
	or.pr.maxSkip = 256 << 10
	defer func() { or.pr.maxSkip = 0 }()
	for i := 0; ; i++ {
		if i == maxHeaderPages {
			return errors.New("ogg: no Opus stream in the first pages")
		}
		err := or.pr.next(&or.pg)
		if err == io.EOF {
			if found {
				return errors.New("ogg: file ends inside the Opus headers")
			}
			if first != "" {
				return &UnsupportedCodecError{Codec: first}
			}
			return errNotOgg
		}
		if err != nil {
			return err
		}
		if or.pg.flags&flagBOS == 0 {
			if found {
				break
			}
			if first != "" {
				return &UnsupportedCodecError{Codec: first}
			}
			continue // pages of a stream whose start we missed
		}
		if found {
			continue // another stream multiplexed with ours
		}
		pkt := firstPacket(&or.pg)
		codec := codecOf(pkt)
		switch codec {
		case "Opus":
			if err := or.head.UnmarshalBinary(pkt); err != nil {
				return err
			}
			or.serial = or.pg.serial
			or.lastSeq, or.seqValid = or.pg.seq, true
			found = true
		case "Skeleton":
		default:
			if first == "" {
				first = codec
			}
		}
	}
	// or.pg is the first page after the BOS pages; hand it to the packet assembler.
	if or.pg.serial == or.serial {
		or.havePage, or.segIdx, or.bodyPos = true, 0, 0
		or.startPage()
	}
	pkt, err := or.ReadPacket()
	if err != nil {
		if err == io.EOF {
			return errors.New("ogg: file ends inside the Opus headers")
		}
		return err
	}
	if err := or.tags.UnmarshalBinary(pkt); err != nil {
		return err
	}
	// Audio starts on the page after the one where OpusTags ends (RFC 7845 §3).
	// (Audio packets sharing the tags' page, against the spec, are still
	// returned by ReadPacket now but skipped after a seek to the start.)
	or.dataStart = or.pr.Offset()
	or.prevGran, or.pageSum, or.padding = -1, 0, 0 // the header pages' granules say nothing of the audio
	return nil
}

// firstPacket returns the first packet on a page if it ends there.
func firstPacket(p *page) []byte {
	n := 0
	for _, s := range p.segs {
		n += int(s)
		if s < 255 {
			return p.body[:n]
		}
	}
	return p.body[:n]
}

// lastEnding reports whether no packet ends on segs[from:].
func lastEnding(segs []byte, from int) bool {
	for _, s := range segs[from:] {
		if s < 255 {
			return false
		}
	}
	return true
}

// pktDur is PacketSamples with 0 for a malformed packet (a decoder treats it as lost).
func pktDur(pkt []byte) int64 {
	n, err := PacketSamples(pkt)
	if err != nil {
		return 0
	}
	return int64(n)
}

// startPage checks continuity when a page of our stream begins.
func (or *OpusReader) startPage() {
	p := &or.pg
	if or.seqValid && p.seq != or.lastSeq+1 && or.partial {
		or.partial, or.oversize = false, false // pages lost: drop the broken packet
		or.acc = or.acc[:0]
	}
	or.lastSeq, or.seqValid = p.seq, true
	if p.flags&flagContinue != 0 {
		if !or.partial {
			// Continuation of a packet we never saw the start of: skip it.
			for or.segIdx < len(p.segs) {
				s := p.segs[or.segIdx]
				or.segIdx++
				or.bodyPos += int(s)
				if s < 255 {
					break
				}
			}
		}
	} else if or.partial {
		or.partial, or.oversize = false, false // expected a continuation: drop the broken packet
		or.acc = or.acc[:0]
	}
}

// ReadPacket returns the next Opus packet. The slice is valid until the next
// call. At the end of the stream, or after the last complete packet of a
// truncated file, it returns io.EOF. It allocates nothing in steady state.
func (or *OpusReader) ReadPacket() ([]byte, error) {
	if or.ready {
		or.ready = false
		or.reset = true
		return or.acc, nil
	}
	if or.reset {
		or.acc = or.acc[:0]
		or.reset = false
	}
	for {
		if or.havePage {
			p := &or.pg
			for or.segIdx < len(p.segs) {
				s := int(p.segs[or.segIdx])
				or.segIdx++
				if !or.oversize {
					if len(or.acc)+s > maxPacket {
						or.oversize = true
					} else {
						or.acc = append(or.acc, p.body[or.bodyPos:or.bodyPos+s]...)
					}
				}
				or.bodyPos += s
				or.partial = true
				if s < 255 {
					or.partial = false
					or.pktPage = lastEnding(p.segs, or.segIdx)
					or.endPacket()
					if or.oversize {
						or.oversize = false
						if string(or.acc[:min(8, len(or.acc))]) == opusTagsMagic {
							or.reset = true
							return or.acc, nil // truncated tags: parsed leniently
						}
						or.acc = or.acc[:0]
						continue // oversized audio packet: drop it
					}
					or.reset = true
					return or.acc, nil
				}
			}
			or.havePage = false
			if p.flags&flagEOS != 0 {
				or.eos = true
			}
		}
		if or.eos {
			return nil, io.EOF
		}
		if err := or.nextPage(); err != nil {
			return nil, err
		}
	}
}

// endPacket follows the granule positions as the packet in acc completes and
// sets padding: the samples the end-of-stream page's granule position trims
// from the stream's last packet (RFC 7845 §4.4). When the packets before that
// page are unknown (a single audio page, or a live stream joined late), the
// page is taken to start at the stream's start granule, or 0 (§4.5).
func (or *OpusReader) endPacket() {
	n := pktDur(or.acc)
	or.pageSum += n
	or.padding = 0
	g := or.pg.granule
	if !or.pktPage || g < 0 {
		return
	}
	if or.pg.flags&flagEOS != 0 {
		start := or.prevGran
		if start < 0 {
			start = max(or.startGran, 0)
		}
		if trim := start + or.pageSum - g; trim > 0 {
			or.padding = int(min(trim, n))
		}
	}
	or.prevGran, or.pageSum = g, 0
}

// DiscardPadding returns how many 48 kHz samples at the end of the packet
// that ReadPacket last returned are padding, to be dropped after decoding:
// the end trim of the end-of-stream page's granule position (RFC 7845 §4.4),
// at most the packet's own length. It is 0 for every other packet.
func (or *OpusReader) DiscardPadding() int { return or.padding }

// nextPage loads the next page of our stream.
func (or *OpusReader) nextPage() error {
	for {
		if err := or.pr.next(&or.pg); err != nil {
			return err
		}
		if or.pg.serial != or.serial {
			continue
		}
		if or.pg.flags&flagBOS != 0 {
			// A new stream reusing our serial (chained file): our stream is over.
			or.eos = true
			return io.EOF
		}
		or.havePage, or.segIdx, or.bodyPos = true, 0, 0
		or.startPage()
		return nil
	}
}

// Head returns the stream's OpusHead.
func (or *OpusReader) Head() OpusHead { return or.head }

// Tags returns the stream's OpusTags (vendor and user comments).
func (or *OpusReader) Tags() OpusTags { return or.tags }

// Channels returns the channel count (1 or 2).
func (or *OpusReader) Channels() int { return or.head.Channels }

// PreSkip returns the number of 48 kHz samples to discard at the start.
func (or *OpusReader) PreSkip() int { return or.head.PreSkip }

// InputSampleRate returns the original input rate recorded in OpusHead (0 if unspecified).
func (or *OpusReader) InputSampleRate() int { return or.head.InputSampleRate }

// OutputGain returns OpusHead's output gain in Q7.8 dB.
func (or *OpusReader) OutputGain() int16 { return or.head.OutputGain }

// Duration returns the playable length in 48 kHz samples (pre-skip and end
// trim excluded), or -1 when r is not seekable or the length is unknown.
func (or *OpusReader) Duration() int64 { return or.duration }

// probeEnd reads the start granule and the last page's granule, then returns
// to the first audio page.
func (or *OpusReader) probeEnd() error {
	size, err := or.pr.Size()
	if err != nil {
		or.pr.DisableSeek() // e.g. a pipe that claims to seek
		return nil
	}
	or.totalBytes = size
	last := or.lastGranule(size)
	if err := or.rewind(or.dataStart); err != nil {
		return err
	}
	start, err := or.firstGranule()
	if err != nil {
		return err
	}
	or.startGran = start
	if last >= 0 {
		or.duration = max(0, last-start-int64(or.head.PreSkip))
	}
	if err := or.rewind(or.dataStart); err != nil {
		return err
	}
	or.prevGran = start
	return nil
}

// rewind positions the reader at a page boundary with no packet pending.
func (or *OpusReader) rewind(off int64) error {
	if err := or.pr.SeekTo(off); err != nil {
		return err
	}
	or.havePage, or.eos, or.ready, or.reset, or.partial, or.oversize = false, false, false, false, false, false
	or.seqValid = false
	or.acc = or.acc[:0]
	or.prevGran, or.pageSum, or.padding = -1, 0, 0
	return nil
}

// lastGranule scans backwards from the end for the last page of our stream
// with a granule position; -1 if none is found.
func (or *OpusReader) lastGranule(size int64) int64 {
	const chunk = maxPageSize
	for end := size; end > or.dataStart; {
		start := max(or.dataStart, end-chunk)
		if err := or.pr.SeekTo(start); err != nil {
			return -1
		}
		best := int64(-1)
		or.pr.limit = end
		for {
			if err := or.pr.next(&or.pg); err != nil {
				break
			}
			if or.pg.offset >= end {
				break
			}
			if or.pg.serial == or.serial && or.pg.granule >= 0 {
				best = or.pg.granule
			}
		}
		or.pr.limit = 0
		if best >= 0 {
			return best
		}
		end = start
	}
	return -1
}

// firstGranule returns the granule at the start of the first audio packet
// (normally 0): the first granule seen minus the durations of the packets
// that end up to that page.
func (or *OpusReader) firstGranule() (int64, error) {
	var sum int64
	for {
		pkt, err := or.ReadPacket()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		sum += pktDur(pkt)
		if or.pktPage && or.pg.granule >= 0 {
			return max(0, or.pg.granule-sum), nil
		}
	}
}

// SeekSample positions the reader so that the next ReadPacket returns the
// packet containing sample s (48 kHz samples after pre-skip), found by
// bisection over page granule positions. It returns that packet's first
// sample in the same scale; it is at most s, and negative when the packet
// begins inside the pre-skip. Seeking past the end leaves the reader at the
// end (the next ReadPacket returns io.EOF) and returns the duration. Decoders
// should start a little earlier (RFC 7845 §6 suggests 80 ms) to converge.
func (or *OpusReader) SeekSample(s int64) (int64, error) {
	if !or.pr.Seekable() {
		return 0, errNotSeekable
	}
	if s < 0 {
		s = 0
	}
	target := s + int64(or.head.PreSkip) + or.startGran

	// Bisection: find the last page of our stream whose granule is <= target.
	bestOff, bestGran := int64(-1), int64(-1)
	lo, hi := or.dataStart, or.totalBytes
	for hi-lo > 2*maxPageSize {
		mid := lo + (hi-lo)/2
		off, g, err := or.granulePageFrom(mid, hi)
		if err != nil {
			return 0, err
		}
		if off < 0 || g > target {
			hi = mid
			continue
		}
		bestOff, bestGran = off, g
		lo = off + 1
	}
	// Linear scan over the remaining span.
	from := lo
	if bestOff >= 0 {
		from = bestOff
	}
	if err := or.rewind(from); err != nil {
		return 0, err
	}
	for {
		err := or.pr.next(&or.pg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if or.pg.serial != or.serial || or.pg.granule < 0 || or.pg.flags&flagBOS != 0 {
			continue
		}
		if or.pg.granule > target {
			break
		}
		bestOff, bestGran = or.pg.offset, or.pg.granule
	}

	// Position: after page bestOff (its trailing partial packet kept), or at the start.
	cur := or.startGran
	if bestOff < 0 {
		if err := or.rewind(or.dataStart); err != nil {
			return 0, err
		}
		or.prevGran = or.startGran
	} else {
		if err := or.rewind(bestOff); err != nil {
			return 0, err
		}
		if err := or.nextPage(); err != nil {
			return 0, err
		}
		// Skip the packets that end on this page; keep any packet it starts.
		or.partial = false
		for i := 0; i < len(or.pg.segs); i++ {
			if or.pg.segs[i] < 255 {
				or.segIdx = i + 1
			}
		}
		or.bodyPos = 0
		for _, sg := range or.pg.segs[:or.segIdx] {
			or.bodyPos += int(sg)
		}
		or.partial = false
		if or.pg.flags&flagEOS != 0 && or.segIdx == len(or.pg.segs) {
			or.havePage = false
			or.eos = true
		}
		cur = bestGran
		or.prevGran = bestGran
	}
	for {
		pkt, err := or.ReadPacket()
		if err == io.EOF {
			return or.Duration(), nil
		}
		if err != nil {
			return 0, err
		}
		n := pktDur(pkt)
		if cur+n > target {
			or.ready = true
			or.reset = false
			return cur - int64(or.head.PreSkip) - or.startGran, nil
		}
		cur += n
	}
}

// granulePageFrom finds the first page of our stream at or after offset from
// (and starting before limit) that carries a granule position.
func (or *OpusReader) granulePageFrom(from, limit int64) (int64, int64, error) {
	if err := or.rewind(from); err != nil {
		return -1, -1, err
	}
	or.pr.limit = limit
	defer func() { or.pr.limit = 0 }()
	for {
		err := or.pr.next(&or.pg)
		if err == io.EOF {
			return -1, -1, nil
		}
		if err != nil {
			return -1, -1, err
		}
		if or.pg.offset >= limit {
			return -1, -1, nil
		}
		if or.pg.serial == or.serial && or.pg.granule >= 0 && or.pg.flags&flagBOS == 0 {
			return or.pg.offset, or.pg.granule, nil
		}
	}
}

// String describes the stream, for logs.
func (or *OpusReader) String() string {
	return fmt.Sprintf("ogg/opus serial %08x, %d ch, pre-skip %d", or.serial, or.head.Channels, or.head.PreSkip)
}
