// Package mp3 decodes MPEG-1, MPEG-2 and MPEG-2.5 Layer III audio (MP3) to
// interleaved float32 PCM for the audio engine. It owns the whole path from
// bytes to samples: ID3v2 skipping, frame sync, Xing/Info, LAME and VBRI
// headers (gapless trimming, duration, seeking), the bit reservoir, Huffman
// decoding, requantization, stereo processing, the hybrid filterbank and the
// polyphase synthesis filterbank (ISO/IEC 11172-3, ISO/IEC 13818-3).
package mp3

import (
	"errors"
	"fmt"
	"io"
)

var (
	errNoFrame     = errors.New("mp3: no MPEG audio frame found")
	errFreeFormat  = errors.New("mp3: free-format streams are not supported")
	errNotSeekable = errors.New("mp3: source cannot seek")
	errNegative    = errors.New("mp3: negative seek position")
)

// UnsupportedCodecError is returned for MPEG audio Layer I or II streams.
type UnsupportedCodecError struct {
	Codec string // "MP1" or "MP2"
}

// Error implements error: "unsupported codec: MP2".
func (e *UnsupportedCodecError) Error() string { return "unsupported codec: " + e.Codec }

const (
	// decoderDelay is the filterbank delay LAME's encoder delay field excludes
	// (528 samples) plus one, as gapless players trim it.
	decoderDelay = 529
	// syncSearchLimit bounds how far NewDecoder looks for the first frame.
	syncSearchLimit = 1 << 20
	resCap          = 4096
	checkpointEvery = 64
	checkpointCount = 4096
)

// Decoder decodes one MP3 stream. It is not safe for concurrent use.
type Decoder struct {
	in input

	first       header // the stream's first audio frame header
	sampleRate  int
	channels    int
	spf         int   // samples per frame per channel
	bitrate     int   // bits per second
	firstFrame  int64 // offset of the first frame (the Xing frame, if any)
	firstAudio  int64 // offset of the first audio frame
	streamEnd   int64 // offset where MPEG data ends (-1 unknown)
	cbr         bool
	avgFrame    float64 // bytes per frame (CBR)
	xingFrames  int64   // from Xing/VBRI, 0 when unknown
	xingBytes   int64
	toc         [100]byte
	hasTOC      bool
	startSkip   int64 // samples trimmed at the start (LAME delay + decoder delay)
	total       int64 // samples per channel the stream delivers (maybe estimated), -1 unknown
	end         int64 // exact sample count from a Xing/VBRI header, -1 unknown
	frameIndex  int64 // index of the next audio frame to decode
	pos         int64 // index of the next sample ReadPCM delivers
	skip        int64 // decoded samples still to discard
	needSync    bool  // verify the next frame's successor before trusting it
	exactIndex  bool  // frameIndex is known exactly (not a TOC estimate)
	checkpoints [checkpointCount]int64
	nCheckpoint int64 // checkpoints[i] valid for i < nCheckpoint
	cpStride    int64

	// decoding state
	si      sideInfo
	siBuf   [40]byte
	res     [resCap + 8]byte
	resLen  int
	scale   [2]chanScale
	is      [576]int32
	xr      [2][576]float32
	tmp     [576]float32
	hyb     [576]float32
	overlap [2][32][18]float32
	ovLimit [2]int
	synth   [2]synth
	slotIn  [32]float32
	pcm     [2 * 1152]float32
	pcmPos  int
	pcmLen  int
}

// NewDecoder reads r up to the first audio frame and parses the stream's
// headers. When r is also an io.Seeker, tags are skipped by seeking and
// SeekSample works.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{total: -1, end: -1, streamEnd: -1, cpStride: checkpointEvery, exactIndex: true}
	d.in.r = r
	var size int64 = -1
	if s, ok := r.(io.Seeker); ok {
		if cur, err := s.Seek(0, io.SeekCurrent); err == nil {
			if end, err := s.Seek(0, io.SeekEnd); err == nil {
				if _, err := s.Seek(cur, io.SeekStart); err == nil {
					d.in.seeker = s
					d.in.off = cur
					size = end
				}
			}
		}
	}
	if err := d.skipID3v2(); err != nil {
		return nil, err
	}
	if err := d.findFirstFrame(); err != nil {
		return nil, err
	}
	if size >= 0 {
		d.streamEnd = size
		d.trimTrailingTags(size)
	}
	d.estimate()
	d.skip = d.startSkip
	d.addCheckpoint(0, d.firstAudio)
	return d, nil
}

// SampleRate returns the sample rate in Hz.
func (d *Decoder) SampleRate() int { return d.sampleRate }

// Channels returns 1 or 2.
func (d *Decoder) Channels() int { return d.channels }

// Duration returns the stream's length in samples per channel, or -1 when
// it is unknown.
func (d *Decoder) Duration() int64 { return d.total }

// Bitrate returns the (average, for VBR with a header) bitrate in bits per second.
func (d *Decoder) Bitrate() int { return d.bitrate }

// skipID3v2 skips any number of ID3v2 tags (id3.org ID3v2.4.0 structure §3.1).
func (d *Decoder) skipID3v2() error {
	for {
		if !d.in.fill(10) {
			return nil
		}
		b := d.in.avail()
		if b[0] != 'I' || b[1] != 'D' || b[2] != '3' || b[3] == 0xFF || b[4] == 0xFF ||
			b[6]|b[7]|b[8]|b[9] >= 0x80 {
			return nil
		}
		n := int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9])
		n += 10
		if b[5]&0x10 != 0 {
			n += 10 // footer
		}
		if err := d.in.skip(n); err != nil {
			return errNoFrame
		}
	}
}

// findFirstFrame locates the first frame, checking that the next frame's
// header agrees, then parses Xing/Info/LAME/VBRI from it.
func (d *Decoder) findFirstFrame() error {
	scanned := 0
	freeFormat := 0
	for scanned < syncSearchLimit {
		if !d.in.fill(4) {
			break
		}
		b := d.in.avail()
		h, ok := parseHeader(b)
		if ok && h.bitrateIdx == 0 {
			freeFormat++
			ok = false
		}
		if ok {
			size := h.frameSize()
			d.in.fill(size + 4)
			b = d.in.avail()
			confirmed := false
			switch {
			case len(b) >= size+4:
				nh, ok2 := parseHeader(b[size:])
				confirmed = ok2 && h.compatible(nh) && nh.bitrateIdx != 0
			case len(b) >= size && d.in.eof:
				confirmed = true // a single frame at the end of the input
			}
			if confirmed {
				switch h.layer {
				case 1:
					return &UnsupportedCodecError{Codec: "MP1"}
				case 2:
					return &UnsupportedCodecError{Codec: "MP2"}
				}
				d.first = h
				d.firstFrame = d.in.off
				d.firstAudio = d.in.off
				d.sampleRate = h.sampleRate()
				d.channels = h.channels()
				d.spf = h.samplesPerFrame()
				d.bitrate = h.bitrate()
				if d.parseInfoFrame(b[:size], h) {
					d.in.consume(size)
					d.firstAudio = d.in.off
				}
				return nil
			}
		}
		d.in.consume(1)
		scanned++
	}
	if d.in.err != nil {
		return fmt.Errorf("mp3: reading: %w", d.in.err)
	}
	if freeFormat >= 2 {
		return errFreeFormat
	}
	return errNoFrame
}

func be32(b []byte) int64 {
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// parseInfoFrame reads a Xing/Info (with LAME extension) or VBRI header
// from the first frame and reports whether the frame is such a header.
func (d *Decoder) parseInfoFrame(f []byte, h header) bool {
	off := 4 + h.sideInfoSize()
	if h.crc {
		off += 2
	}
	if len(f) >= off+8 && (string(f[off:off+4]) == "Xing" || string(f[off:off+4]) == "Info") {
		vbr := string(f[off:off+4]) == "Xing"
		flags := be32(f[off+4:])
		p := off + 8
		if flags&1 != 0 && len(f) >= p+4 {
			d.xingFrames = be32(f[p:])
			p += 4
		}
		if flags&2 != 0 && len(f) >= p+4 {
			d.xingBytes = be32(f[p:])
			p += 4
		}
		if flags&4 != 0 && len(f) >= p+100 {
			copy(d.toc[:], f[p:p+100])
			d.hasTOC = d.xingBytes > 0
			p += 100
		}
		if flags&8 != 0 {
			p += 4
		}
		// LAME extension: 9-byte encoder string, delay/padding at +21
		// (LAME "Mp3 Info Tag" rev 1 specification).
		if len(f) >= p+24 {
			enc := string(f[p : p+4])
			if enc == "LAME" || enc == "Lavf" || enc == "Lavc" {
				v := int64(f[p+21])<<16 | int64(f[p+22])<<8 | int64(f[p+23])
				delay, padding := v>>12, v&0xFFF
				d.startSkip = delay + decoderDelay
				if d.xingFrames > 0 {
					d.total = max(d.xingFrames*int64(d.spf)-delay-padding, 0)
				}
			}
		}
		if d.total < 0 && d.xingFrames > 0 {
			d.total = d.xingFrames * int64(d.spf)
		}
		d.end = d.total
		d.cbr = !vbr
		return true
	}
	// VBRI sits 32 bytes after the header (Fraunhofer VBRI header).
	if len(f) >= 4+32+26 && string(f[36:40]) == "VBRI" {
		v := f[36:]
		d.xingBytes = be32(v[10:])
		d.xingFrames = be32(v[14:])
		if d.xingFrames > 0 {
			d.total = d.xingFrames * int64(d.spf)
			d.end = d.total
		}
		return true
	}
	return false
}

// trimTrailingTags excludes an ID3v1 tag from the stream's data size.
func (d *Decoder) trimTrailingTags(size int64) {
	if d.in.seeker == nil || size < 128 || size-128 < d.firstAudio {
		return
	}
	var tag [3]byte
	cur := d.in.off
	if _, err := d.in.seeker.Seek(size-128, io.SeekStart); err == nil {
		if n, _ := io.ReadFull(d.in.r, tag[:]); n == 3 && string(tag[:]) == "TAG" {
			d.streamEnd = size - 128
		}
	}
	// Restore the position; the buffered bytes stay valid.
	d.in.seeker.Seek(cur+int64(d.in.end-d.in.start), io.SeekStart)
}

// estimate fills in bitrate, CBR-ness and duration where headers left them open.
func (d *Decoder) estimate() {
	if d.xingFrames > 0 && d.xingBytes > 0 {
		secs := float64(d.xingFrames*int64(d.spf)) / float64(d.sampleRate)
		d.bitrate = int(float64(d.xingBytes) * 8 / secs)
	}
	// Average frame size including padding: spf/8 * bitrate / rate.
	d.avgFrame = float64(d.spf) / 8 * float64(d.first.bitrate()) / float64(d.sampleRate)
	if d.xingFrames > 0 {
		if !d.cbr {
			return
		}
		d.cbr = d.sameBitrateAt()
		return
	}
	if d.in.seeker == nil || d.streamEnd < 0 {
		return
	}
	d.cbr = d.sameBitrateAt()
	data := float64(d.streamEnd - d.firstAudio)
	if d.cbr {
		d.total = int64(data/d.avgFrame+0.5) * int64(d.spf)
	} else if br := d.bitrate; br > 0 {
		d.total = int64(data * 8 / float64(br) * float64(d.sampleRate))
	}
}

// sameBitrateAt samples frame headers at a few places in the file and
// reports whether they all share the first frame's bitrate; it also sets the
// average bitrate from them.
func (d *Decoder) sameBitrateAt() bool {
	if d.in.seeker == nil || d.streamEnd < 0 {
		return true
	}
	cur := d.in.off
	defer d.in.seek(cur)
	same := true
	sum, n := 0, 0
	span := d.streamEnd - d.firstAudio
	for _, frac := range []float64{0, 0.25, 0.5, 0.75, 0.9} {
		p := d.firstAudio + int64(frac*float64(span))
		if d.in.seek(p) != nil {
			break
		}
		for k := 0; k < 4; k++ { // a few consecutive frames at each place
			h, ok := d.syncHere(64 << 10)
			if !ok {
				break
			}
			if h.bitrateIdx != d.first.bitrateIdx {
				same = false
			}
			sum += h.bitrate()
			n++
			d.in.consume(h.frameSize())
		}
	}
	if !same && n > 0 {
		d.bitrate = sum / n
	}
	return same
}

// syncHere advances to the next frame header compatible with the stream
// whose successor also agrees (or that ends the input), searching at most
// limit bytes. It does not consume the frame.
func (d *Decoder) syncHere(limit int) (header, bool) {
	for i := 0; i < limit; i++ {
		if !d.in.fill(4) {
			return header{}, false
		}
		b := d.in.avail()
		if h, ok := parseHeader(b); ok && h.compatible(d.first) && h.bitrateIdx != 0 {
			size := h.frameSize()
			if d.in.fill(size + 4) {
				if nh, ok := parseHeader(d.in.avail()[size:]); ok && h.compatible(nh) && nh.bitrateIdx != 0 {
					return h, true
				}
			} else if len(d.in.avail()) == size && d.in.eof {
				return h, true
			}
		}
		d.in.consume(1)
	}
	return header{}, false
}
