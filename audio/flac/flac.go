// Package flac decodes FLAC audio streams (RFC 9639) to PCM for Quaver's audio
// engine: it reads the metadata (STREAMINFO, SEEKTABLE; other blocks are
// skipped), decodes every frame with CRC checks, resynchronises after corrupt
// frames and seeks sample-accurately. It is written from the specification and
// allocates nothing per call once opened.
//
// Streams with 3 to 8 channels are decoded in full and mixed down to stereo
// for ReadPCM; ReadSamples returns every channel. Ogg-encapsulated FLAC is not
// handled here.
package flac

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits from RFC 9639 section 8.2 and bounds this decoder keeps to.
const (
	maxChannels    = 8     // the frame header can name at most 8 channels
	maxBlockSize   = 65535 // STREAMINFO stores block sizes in 16 bits
	minBitDepth    = 4
	maxBitDepth    = 32
	maxSeekPoints  = 8192 // seek points kept; longer tables are thinned
	maxMetaBlocks  = 4096 // metadata blocks read before giving up
	maxID3Tags     = 8    // ID3v2 tags skipped before the fLaC marker
	streamInfoSize = 34   // RFC 9639 section 8.2
	seekPointSize  = 18   // RFC 9639 section 8.5
)

// Metadata block types, RFC 9639 section 8.1 table 1.
const (
	blockStreamInfo    = 0
	blockPadding       = 1
	blockApplication   = 2
	blockSeekTable     = 3
	blockVorbisComment = 4
	blockCueSheet      = 5
	blockPicture       = 6
	blockInvalid       = 127
)

var (
	errMissingMarker = errors.New("flac: missing fLaC marker")
	errNoStreamInfo  = errors.New("flac: first metadata block is not STREAMINFO")
	errStreamInfo    = errors.New("flac: malformed STREAMINFO")
	errTooManyBlocks = errors.New("flac: too many metadata blocks")
	errBadID3        = errors.New("flac: malformed ID3v2 tag")
	errShortBuffer   = errors.New("flac: destination shorter than one sample per channel")
	errNotSeekable   = errors.New("flac: input is not seekable")
	errNegativeSeek  = errors.New("flac: negative seek position")
)

// seekPoint is one SEEKTABLE entry (RFC 9639 section 8.5): the first sample of
// a frame and that frame's byte offset from the first frame.
type seekPoint struct {
	sample uint64
	offset uint64
}

// Decoder decodes one FLAC stream. It is not safe for concurrent use.
type Decoder struct {
	br     *bitReader
	seeker io.Seeker

	minBlock, maxBlock int
	sampleRate         int
	channels           int // in the stream
	outChannels        int // handed out by ReadPCM: channels, or 2 for a downmix
	bitDepth           int
	totalSamples       int64 // 0 when unknown
	md5                [16]byte
	seekTable          []seekPoint
	firstFrame         int64 // stream offset of the first frame

	strategy int // blocking strategy of the stream, -1 until a frame is seen
	scale    float32

	samples    [maxChannels][]int64
	frameLen   int    // samples per channel in the decoded frame
	frameOff   int    // next sample of the decoded frame to hand out
	frameFirst int64  // stream sample number of the decoded frame's first sample
	frameStart int64  // stream offset of the decoded frame
	silence    int64  // samples per channel of silence owed before the frame
	outPos     int64  // stream sample number of the next sample handed out
	lost       bool   // a corrupt frame was skipped since the last good one
	skipped    int    // corrupt frames skipped so far
	hdr        header // scratch for the frame being decoded
	err        error  // sticky end-of-stream or read error
}

// NewDecoder reads the stream's metadata from r and returns a decoder
// positioned at the first audio sample. An ID3v2 tag before the "fLaC" marker
// is skipped. When r is an io.Seeker, large metadata blocks are skipped by
// seeking and SeekSample works.
func NewDecoder(r io.Reader) (*Decoder, error) {
	b := newBitReader(r)
	d := &Decoder{br: b, strategy: -1}
	if s, ok := r.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			d.seeker = s
			b.base = off
		}
	}
	if err := d.readMarker(); err != nil {
		return nil, err
	}
	if err := d.readMetadata(); err != nil {
		return nil, err
	}
	d.firstFrame = b.offset()
	d.scale = 1 / float32(uint64(1)<<(d.bitDepth-1))
	for ch := range d.channels {
		d.samples[ch] = make([]int64, d.maxBlock)
	}
	return d, nil
}

// readMarker skips ID3v2 tags and checks the "fLaC" marker (RFC 9639 section 6).
func (d *Decoder) readMarker() error {
	var m [4]byte
	for range maxID3Tags + 1 {
		if err := d.br.readFull(m[:]); err != nil {
			return errMissingMarker
		}
		if string(m[:]) == "fLaC" {
			return nil
		}
		if string(m[:3]) != "ID3" {
			return errMissingMarker
		}
		// ID3v2 header: "ID3", version (2 bytes, the second already in m[3]),
		// flags, then a 28-bit syncsafe size; a footer adds 10 bytes.
		var h [6]byte
		if err := d.br.readFull(h[:]); err != nil {
			return errBadID3
		}
		var size int64
		for _, c := range h[2:6] {
			if c&0x80 != 0 {
				return errBadID3
			}
			size = size<<7 | int64(c)
		}
		if h[1]&0x10 != 0 {
			size += 10
		}
		if err := d.br.skip(size); err != nil {
			return fmt.Errorf("flac: skipping ID3v2 tag: %w", err)
		}
	}
	return errMissingMarker
}

// readMetadata reads the metadata blocks (RFC 9639 section 8).
func (d *Decoder) readMetadata() error {
	b := d.br
	for i := 0; ; i++ {
		if i == maxMetaBlocks {
			return errTooManyBlocks
		}
		var h [4]byte
		if err := b.readFull(h[:]); err != nil {
			return fmt.Errorf("flac: metadata block header: %w", err)
		}
		last := h[0]&0x80 != 0
		typ := int(h[0] & 0x7F)
		length := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
		if i == 0 && typ != blockStreamInfo {
			return errNoStreamInfo
		}
		var err error
		switch {
		case typ == blockStreamInfo && i == 0:
			err = d.readStreamInfo(length)
		case typ == blockSeekTable && d.seekTable == nil:
			err = d.readSeekTable(length)
		case typ == blockInvalid:
			return fmt.Errorf("flac: invalid metadata block type %d", typ)
		default:
			// PADDING, APPLICATION, VORBIS_COMMENT, CUESHEET, PICTURE and
			// unknown blocks are skipped by length.
			err = b.skip(length)
		}
		if err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// readStreamInfo parses STREAMINFO (RFC 9639 section 8.2).
func (d *Decoder) readStreamInfo(length int64) error {
	if length != streamInfoSize {
		return fmt.Errorf("%w: length %d", errStreamInfo, length)
	}
	var p [streamInfoSize]byte
	if err := d.br.readFull(p[:]); err != nil {
		return fmt.Errorf("%w: %w", errStreamInfo, err)
	}
	d.minBlock = int(binary.BigEndian.Uint16(p[0:]))
	d.maxBlock = int(binary.BigEndian.Uint16(p[2:]))
	// p[4:10] hold the minimum and maximum frame sizes, unused here.
	v := binary.BigEndian.Uint64(p[10:])
	d.sampleRate = int(v >> 44)
	d.channels = int(v>>41&7) + 1
	d.bitDepth = int(v>>36&31) + 1
	d.totalSamples = int64(v & (1<<36 - 1))
	copy(d.md5[:], p[18:])
	switch {
	case d.maxBlock == 0 || d.minBlock > d.maxBlock:
		return fmt.Errorf("%w: block sizes %d..%d", errStreamInfo, d.minBlock, d.maxBlock)
	case d.sampleRate == 0:
		return fmt.Errorf("%w: sample rate 0", errStreamInfo)
	case d.bitDepth < minBitDepth:
		return fmt.Errorf("%w: bit depth %d", errStreamInfo, d.bitDepth)
	}
	d.outChannels = min(d.channels, 2)
	return nil
}

// readSeekTable parses SEEKTABLE (RFC 9639 section 8.5), dropping placeholder
// points and thinning tables longer than maxSeekPoints.
func (d *Decoder) readSeekTable(length int64) error {
	if length%seekPointSize != 0 {
		return d.br.skip(length) // malformed: seek by bisection instead
	}
	count := length / seekPointSize
	stride := (count + maxSeekPoints - 1) / maxSeekPoints
	d.seekTable = make([]seekPoint, 0, min(count, maxSeekPoints))
	var p [seekPointSize]byte
	for i := range count {
		if err := d.br.readFull(p[:]); err != nil {
			return fmt.Errorf("flac: SEEKTABLE: %w", err)
		}
		sample := binary.BigEndian.Uint64(p[0:])
		if sample == 1<<64-1 || i%stride != 0 {
			continue // placeholder, or thinned out
		}
		d.seekTable = append(d.seekTable, seekPoint{sample: sample, offset: binary.BigEndian.Uint64(p[8:])})
	}
	return nil
}

// SampleRate returns the sample rate in Hz.
func (d *Decoder) SampleRate() int { return d.sampleRate }

// Channels returns the number of interleaved channels ReadPCM produces: 1 or
// 2. Streams with more channels are mixed down to stereo.
func (d *Decoder) Channels() int { return d.outChannels }

// StreamChannels returns the number of channels in the stream (1 to 8), the
// number ReadSamples interleaves.
func (d *Decoder) StreamChannels() int { return d.channels }

// BitDepth returns the bits per sample of the stream (4 to 32).
func (d *Decoder) BitDepth() int { return d.bitDepth }

// Duration returns the stream length in samples per channel from STREAMINFO,
// or -1 when the stream does not say.
func (d *Decoder) Duration() int64 {
	if d.totalSamples == 0 {
		return -1
	}
	return d.totalSamples
}

// MD5 returns the MD5 signature of the unencoded audio stored in STREAMINFO
// (all zero when the encoder did not compute one).
func (d *Decoder) MD5() [16]byte { return d.md5 }

// Skipped returns how many corrupt frames were skipped so far; each was
// replaced by silence of its length where the next good frame told it.
func (d *Decoder) Skipped() int { return d.skipped }

// ReadPCM decodes into dst interleaved samples scaled to [-1, 1] and returns
// how many it wrote, a multiple of Channels(). It returns io.EOF at the end of
// the stream, including a truncated one.
func (d *Decoder) ReadPCM(dst []float32) (int, error) {
	ch := d.outChannels
	if len(dst) == 0 {
		return 0, nil
	}
	if len(dst) < ch {
		return 0, errShortBuffer
	}
	n := 0
	for len(dst)-n >= ch {
		k, err := d.ready((len(dst) - n) / ch)
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		out := dst[n : n+k*ch]
		if d.silence > 0 {
			clear(out)
			d.silence -= int64(k)
		} else {
			d.convertFloat(out, k)
		}
		d.outPos += int64(k)
		n += k * ch
	}
	return n, nil
}

// ReadSamples is ReadPCM for integer samples: dst receives interleaved
// signed samples of BitDepth() bits, unscaled, for all StreamChannels()
// channels (no downmix), and n is a multiple of StreamChannels().
func (d *Decoder) ReadSamples(dst []int32) (int, error) {
	ch := d.channels
	if len(dst) == 0 {
		return 0, nil
	}
	if len(dst) < ch {
		return 0, errShortBuffer
	}
	n := 0
	for len(dst)-n >= ch {
		k, err := d.ready((len(dst) - n) / ch)
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		out := dst[n : n+k*ch]
		if d.silence > 0 {
			clear(out)
			d.silence -= int64(k)
		} else {
			d.convertInt(out, k)
		}
		d.outPos += int64(k)
		n += k * ch
	}
	return n, nil
}

// ready makes samples available and returns how many (per channel, at most
// max) the next copy may take: owed silence first, then the decoded frame.
func (d *Decoder) ready(max int) (int, error) {
	for {
		if d.silence > 0 {
			return int(min(d.silence, int64(max))), nil
		}
		if d.frameOff < d.frameLen {
			return min(d.frameLen-d.frameOff, max), nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if err := d.nextFrame(); err != nil {
			d.err = err
			return 0, err
		}
	}
}

func (d *Decoder) convertFloat(out []float32, k int) {
	s := d.scale
	off := d.frameOff
	if d.channels > 2 {
		d.downmix(out, k)
		return
	}
	if d.channels == 2 {
		l := d.samples[0][off : off+k]
		r := d.samples[1][off : off+k]
		out = out[:2*len(l)]
		for i := range l {
			out[2*i] = float32(l[i]) * s
			out[2*i+1] = float32(r[i]) * s
		}
	} else {
		m := d.samples[0][off : off+k]
		out = out[:len(m)]
		for i := range m {
			out[i] = float32(m[i]) * s
		}
	}
	d.frameOff += k
}

func (d *Decoder) convertInt(out []int32, k int) {
	off := d.frameOff
	ch := d.channels
	for c := range ch {
		src := d.samples[c][off : off+k]
		for i, v := range src {
			out[i*ch+c] = int32(v)
		}
	}
	d.frameOff += k
}

// downmixGains holds, per stream channel count (RFC 9639 section 9.1.3 channel
// orders), the gain of each channel in the left and right outputs: fronts at
// 1, centres and surrounds at -3 dB (1/√2; a back centre goes to both sides),
// LFE dropped. Rows are scaled so that a full-scale signal on every channel
// cannot exceed full scale.
var downmixGains = func() (g [maxChannels + 1][2][maxChannels]float32) {
	const h = 0.70710677
	raw := map[int][2][]float32{
		// L R C
		3: {{1, 0, h}, {0, 1, h}},
		// FL FR BL BR
		4: {{1, 0, h, 0}, {0, 1, 0, h}},
		// FL FR FC BL BR
		5: {{1, 0, h, h, 0}, {0, 1, h, 0, h}},
		// FL FR FC LFE BL BR
		6: {{1, 0, h, 0, h, 0}, {0, 1, h, 0, 0, h}},
		// FL FR FC LFE BC SL SR
		7: {{1, 0, h, 0, h, h, 0}, {0, 1, h, 0, h, 0, h}},
		// FL FR FC LFE BL BR SL SR
		8: {{1, 0, h, 0, h, 0, h, 0}, {0, 1, h, 0, 0, h, 0, h}},
	}
	for n, rows := range raw {
		for side, row := range rows {
			var sum float32
			for _, v := range row {
				sum += v
			}
			for c, v := range row {
				g[n][side][c] = v / sum
			}
		}
	}
	return g
}()

// downmix mixes k samples of every stream channel into stereo.
func (d *Decoder) downmix(out []float32, k int) {
	gains := &downmixGains[d.channels]
	off := d.frameOff
	out = out[:2*k]
	clear(out)
	for c := range d.channels {
		gl, gr := gains[0][c]*d.scale, gains[1][c]*d.scale
		if gl == 0 && gr == 0 {
			continue
		}
		src := d.samples[c][off : off+k]
		for i, v := range src {
			f := float32(v)
			out[2*i] += f * gl
			out[2*i+1] += f * gr
		}
	}
	for i, v := range out {
		out[i] = max(-1, min(1, v))
	}
	d.frameOff += k
}
