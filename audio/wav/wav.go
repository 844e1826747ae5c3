// Package wav owns the RIFF/WAVE container (and its 64-bit variants RF64 and
// BW64): it reads uncompressed PCM (8/16/24/32-bit integer, 32/64-bit float,
// plain or WAVE_FORMAT_EXTENSIBLE) and delivers interleaved float32 samples
// through the engine's PCM decoder contract.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Format tags (Microsoft RIFF specification; RFC 2361 lists the registry).
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xfffe
)

// codecNames names the compressed format tags seen in the wild, for the
// "unsupported codec" error (RFC 2361, Appendix A).
var codecNames = map[uint16]string{
	0x0002: "MS ADPCM",
	0x0006: "A-law",
	0x0007: "mu-law",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0050: "MPEG",
	0x0055: "MP3",
	0x00ff: "AAC",
	0x0160: "WMA",
	0x0161: "WMA",
	0x0162: "WMA Pro",
	0x0163: "WMA Lossless",
	0x1610: "AAC",
	0x2000: "AC-3",
	0x2001: "DTS",
	0xf1ac: "FLAC",
	0x704f: "Opus",
	0x674f: "Vorbis",
}

// UnsupportedCodecError reports a WAVE file whose audio is not uncompressed
// PCM. Its message is exactly "unsupported codec: NAME".
type UnsupportedCodecError struct {
	Codec string
}

func (e *UnsupportedCodecError) Error() string { return "unsupported codec: " + e.Codec }

// Limits on what a header may claim before anything is allocated or trusted.
const (
	maxFmtSize   = 1 << 12 // the fmt chunk is 16..40 bytes; anything beyond is skipped
	maxChunks    = 4096    // chunks examined before the data chunk
	maxChannels  = 2
	maxRate      = 1 << 20 // Hz
	readBufBytes = 16 << 10
	unknownSize  = -1
)

var (
	errNotWAVE   = errors.New("wav: not a RIFF/WAVE file")
	errNoFmt     = errors.New("wav: no fmt chunk")
	errFmtLate   = errors.New("wav: the fmt chunk comes after the data chunk; reading such a file needs a seekable input (a file or an HTTP server with Range requests), not a stream")
	errNoData    = errors.New("wav: no data chunk")
	errNoDS64    = errors.New("wav: RF64 file without a ds64 chunk")
	errFmtShort  = errors.New("wav: fmt chunk too short")
	errSeekable  = errors.New("wav: input is not seekable")
	errBadFormat = errors.New("wav: invalid sample format in fmt chunk")
)

// sample encodings a frame can hold
const (
	encU8 = iota
	encS16
	encS24
	encS32
	encF32
	encF64
)

// Decoder reads PCM from a WAVE stream. It is not safe for concurrent use.
type Decoder struct {
	r      io.Reader
	seeker io.Seeker // nil when r cannot seek

	rate, channels int
	bits           int // valid bits per sample
	enc            int
	sampleBytes    int
	frameBytes     int // block align

	dataStart int64 // offset of the first sample byte (when seekable)
	dataLen   int64 // bytes of sample data, unknownSize until EOF
	pos       int64 // bytes of sample data consumed

	buf     []byte
	off     int // buf[off:have] holds undecoded bytes
	have    int
	err     error
	atEOF   bool
	readOff int64 // bytes read from r so far (header parsing)
}

// seekabler is implemented by byte sources that know whether Seek works.
type seekabler interface{ Seekable() bool }

// NewDecoder parses the RIFF/WAVE headers up to the start of the sample data.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: r, dataLen: unknownSize, buf: make([]byte, readBufBytes)}
	if s, ok := r.(io.Seeker); ok {
		if sk, ok := r.(seekabler); !ok || sk.Seekable() {
			if off, err := s.Seek(0, io.SeekCurrent); err == nil {
				d.seeker, d.readOff = s, off
			}
		}
	}
	if err := d.parseHeaders(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Decoder) readFull(b []byte) error {
	n, err := io.ReadFull(d.r, b)
	d.readOff += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// skip discards n bytes, seeking when possible.
func (d *Decoder) skip(n int64) error {
	if d.seeker != nil {
		if _, err := d.seeker.Seek(n, io.SeekCurrent); err == nil {
			d.readOff += n
			return nil
		}
	}
	m, err := io.CopyN(io.Discard, d.r, n)
	d.readOff += m
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *Decoder) parseHeaders() error {
	var hdr [12]byte
	if err := d.readFull(hdr[:]); err != nil {
		return errNotWAVE
	}
	rf64 := false
	switch string(hdr[:4]) {
	case "RIFF":
	case "RF64", "BW64":
		rf64 = true
	default:
		return errNotWAVE
	}
	if string(hdr[8:12]) != "WAVE" {
		return errNotWAVE
	}
	var ds64Data int64 = unknownSize
	haveFmt, haveDS64 := false, false
	// A data chunk met before fmt (seekable inputs only): where it starts and
	// how long it is, found again once fmt has been read.
	lateStart, lateLen := int64(-1), int64(unknownSize)
	for range maxChunks {
		var ch [8]byte
		if err := d.readFull(ch[:]); err != nil {
			if !haveFmt {
				return errNoFmt
			}
			return errNoData
		}
		id := string(ch[:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "ds64":
			if size < 24 || size > maxFmtSize {
				return fmt.Errorf("wav: ds64 chunk of %d bytes", size)
			}
			var b [maxFmtSize + 1]byte
			if err := d.readFull(b[:size+size&1]); err != nil {
				return errNoData
			}
			ds64Data = int64(binary.LittleEndian.Uint64(b[8:]))
			haveDS64 = true
			continue
		case "fmt ":
			if size < 16 {
				return errFmtShort
			}
			n := min(size, maxFmtSize)
			var b [maxFmtSize]byte
			if err := d.readFull(b[:n]); err != nil {
				return errFmtShort
			}
			if err := d.parseFmt(b[:n]); err != nil {
				return err
			}
			haveFmt = true
			if err := d.skip(size - n + size&1); err != nil && lateStart < 0 {
				return errNoData
			}
			if lateStart >= 0 {
				d.dataStart, d.dataLen = lateStart, lateLen
				d.clampToSize() // seeks back to the data
				return d.err
			}
			continue
		case "data":
			if !haveFmt && d.seeker == nil {
				return errFmtLate
			}
			switch {
			case rf64 && size == 0xffffffff:
				if !haveDS64 {
					return errNoDS64
				}
				d.dataLen = ds64Data
			case size == 0 || size == 0xffffffff:
				d.dataLen = unknownSize // streamed: until EOF
			default:
				d.dataLen = size
			}
			if d.dataLen < 0 {
				d.dataLen = unknownSize
			}
			if !haveFmt {
				if lateStart >= 0 || d.dataLen == unknownSize {
					// A second data chunk, or one of unknown size: fmt cannot be found.
					return errNoFmt
				}
				// Look for fmt after the data, and come back.
				lateStart, lateLen = d.readOff, d.dataLen
				if err := d.skip(d.dataLen + d.dataLen&1); err != nil {
					return errNoFmt
				}
				d.dataLen = unknownSize
				continue
			}
			d.dataStart = d.readOff
			d.clampToSize()
			return nil
		}
		if err := d.skip(size + size&1); err != nil {
			if !haveFmt {
				return errNoFmt
			}
			return errNoData
		}
	}
	return errNoData
}

// clampToSize bounds the data length by the file's real size when seekable,
// so a truncated file reports its real duration.
func (d *Decoder) clampToSize() {
	if d.seeker == nil {
		return
	}
	end, err := d.seeker.Seek(0, io.SeekEnd)
	if err == nil {
		avail := end - d.dataStart
		if d.dataLen == unknownSize || d.dataLen > avail {
			d.dataLen = max(0, avail)
		}
	}
	if _, err := d.seeker.Seek(d.dataStart, io.SeekStart); err != nil {
		d.seeker = nil
		d.err = fmt.Errorf("wav: seeking back to the data: %w", err)
	}
}

// parseFmt reads the WAVEFORMATEX / WAVEFORMATEXTENSIBLE fields.
func (d *Decoder) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:])
	ch := int(binary.LittleEndian.Uint16(b[2:]))
	rate := int64(binary.LittleEndian.Uint32(b[4:]))
	align := int(binary.LittleEndian.Uint16(b[12:]))
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	valid := bits
	if tag == tagExtensible {
		if len(b) < 40 {
			return errFmtShort
		}
		if v := int(binary.LittleEndian.Uint16(b[18:])); v > 0 && v <= bits {
			valid = v
		}
		// SubFormat GUID: the first two bytes are the format tag (KSDATAFORMAT_SUBTYPE_*).
		tag = binary.LittleEndian.Uint16(b[24:])
	}
	if tag != tagPCM && tag != tagFloat {
		if name, ok := codecNames[tag]; ok {
			return &UnsupportedCodecError{Codec: name}
		}
		return &UnsupportedCodecError{Codec: fmt.Sprintf("WAVE format 0x%04x", tag)}
	}
	if ch == 0 {
		return fmt.Errorf("wav: zero channels")
	}
	if ch > maxChannels {
		return fmt.Errorf("unsupported channel count: %d", ch)
	}
	if rate == 0 || rate > maxRate {
		return fmt.Errorf("wav: unsupported sample rate %d", rate)
	}
	sb := (bits + 7) / 8
	switch {
	case tag == tagFloat && sb == 4:
		d.enc = encF32
	case tag == tagFloat && sb == 8:
		d.enc = encF64
	case tag == tagPCM && sb == 1:
		d.enc = encU8
	case tag == tagPCM && sb == 2:
		d.enc = encS16
	case tag == tagPCM && sb == 3:
		d.enc = encS24
	case tag == tagPCM && sb == 4:
		d.enc = encS32
	default:
		return fmt.Errorf("wav: unsupported sample format: %d-bit %s", bits, map[bool]string{true: "float", false: "integer"}[tag == tagFloat])
	}
	if align != 0 && align != ch*sb {
		return errBadFormat // block align must be channels × bytes per sample
	}
	d.channels, d.rate, d.bits = ch, int(rate), valid
	d.sampleBytes, d.frameBytes = sb, ch*sb
	return nil
}

// SampleRate returns the sample rate in Hz.
func (d *Decoder) SampleRate() int { return d.rate }

// Channels returns the channel count (1 or 2).
func (d *Decoder) Channels() int { return d.channels }

// BitDepth returns the valid bits per sample (e.g. 16, 24, 32; 32 or 64 for float).
func (d *Decoder) BitDepth() int { return d.bits }

// Float reports whether the samples are IEEE floating point.
func (d *Decoder) Float() bool { return d.enc == encF32 || d.enc == encF64 }

// Duration returns the length in samples per channel, or -1 when the data
// runs until the end of a stream of unknown length.
func (d *Decoder) Duration() int64 {
	if d.dataLen == unknownSize {
		return -1
	}
	return d.dataLen / int64(d.frameBytes)
}

// ReadPCM fills dst with interleaved float32 samples in [-1, 1]. n is a
// multiple of Channels(); it is less than len(dst) only at the end of the
// data. After the last sample it returns 0, io.EOF; a truncated file ends
// cleanly at its last whole frame. It allocates nothing.
func (d *Decoder) ReadPCM(dst []float32) (int, error) {
	dst = dst[:len(dst)-len(dst)%d.channels]
	n := 0
	for n < len(dst) {
		avail := d.have - d.off
		if avail < d.frameBytes {
			if d.atEOF || d.err != nil {
				break
			}
			// Move the partial frame to the front, then read more.
			copy(d.buf, d.buf[d.off:d.have])
			d.off, d.have = 0, avail
			d.fill()
			continue
		}
		frames := min(avail/d.frameBytes, (len(dst)-n)/d.channels)
		nb := frames * d.frameBytes
		d.convert(dst[n:n+frames*d.channels], d.buf[d.off:d.off+nb])
		d.off += nb
		n += frames * d.channels
	}
	if n > 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	return 0, io.EOF
}

// fill reads more sample bytes into buf, never past the end of the data chunk.
func (d *Decoder) fill() {
	want := len(d.buf) - d.have
	if d.dataLen != unknownSize {
		want = int(min(int64(want), d.dataLen-d.pos))
	}
	if want <= 0 {
		d.atEOF = true
		return
	}
	m, err := d.r.Read(d.buf[d.have : d.have+want])
	d.have += m
	d.pos += int64(m)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		d.atEOF = true
	} else if err != nil {
		d.err = fmt.Errorf("wav: reading samples: %w", err)
	}
}

const (
	scale8  = 1.0 / 128
	scale16 = 1.0 / 32768
	scale24 = 1.0 / 8388608
	scale32 = 1.0 / 2147483648
)

// convert decodes whole frames from src into dst.
func (d *Decoder) convert(dst []float32, src []byte) {
	switch d.enc {
	case encU8:
		for i := range dst {
			dst[i] = float32(int(src[i])-128) * scale8
		}
	case encS16:
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:]))) * scale16
		}
	case encS24:
		for i := range dst {
			b := src[3*i : 3*i+3]
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			dst[i] = float32(v) * scale24
		}
	case encS32:
		for i := range dst {
			dst[i] = float32(float64(int32(binary.LittleEndian.Uint32(src[4*i:]))) * scale32)
		}
	case encF32:
		for i := range dst {
			dst[i] = clamp(float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))))
		}
	case encF64:
		for i := range dst {
			dst[i] = clamp(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
}

// clamp limits a float sample to [-1, 1]; NaN becomes silence.
func clamp(v float64) float32 {
	switch {
	case v > 1:
		return 1
	case v < -1:
		return -1
	case v == v:
		return float32(v)
	}
	return 0
}

// SeekSample moves to sample s (per channel) and returns the position
// reached: exactly s, or the end when s is beyond it. It needs a seekable input.
func (d *Decoder) SeekSample(s int64) (int64, error) {
	if d.seeker == nil {
		return 0, errSeekable
	}
	s = max(s, 0)
	if dur := d.Duration(); dur >= 0 {
		s = min(s, dur)
	}
	off := s * int64(d.frameBytes)
	if _, err := d.seeker.Seek(d.dataStart+off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("wav: seeking: %w", err)
	}
	d.pos, d.off, d.have, d.atEOF, d.err = off, 0, 0, false, nil
	return s, nil
}
