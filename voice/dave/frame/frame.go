package frame

import "errors"

// Frame layout constants (protocol.md "Payload Format" and "Truncated
// synchronization nonce"; https://daveprotocol.com/#payload-format).
const (
	tagSize          = 8  // truncated AES-128-GCM tag
	fullTagSize      = 16 // the tag GCM computes
	nonceSize        = 12 // AES-GCM nonce
	truncNonceOffset = 8  // the 32-bit truncated nonce fills bytes 8..11 (little endian)
	markerSize       = 2
	// minSupplemental is tag + a one-byte nonce + size byte + marker.
	minSupplemental = tagSize + 1 + 1 + markerSize
	// generationShift selects the nonce's most significant byte, the ratchet generation.
	generationShift = 24
	// generationWrap is how many generations the nonce byte can name before wrapping.
	generationWrap = 1 << 8
	// maxGenerationGap bounds how far ahead of the newest seen generation a frame may be.
	maxGenerationGap = 250
	// maxMissingNonces bounds the replay window of out-of-order nonces.
	maxMissingNonces = 1000
)

// magic is the marker that ends every protocol frame.
var magic = [markerSize]byte{0xFA, 0xFA}

// silence is the Opus silence frame the SFU may synthesise; it always passes
// through untransformed (protocol.md "Silence Packets").
var silence = [3]byte{0xF8, 0xFF, 0xFE}

var (
	errNotProtocolFrame = errors.New("frame: not a protocol frame (no valid supplemental data and 0xFAFA marker)")
	errUnencrypted      = errors.New("frame: unencrypted frame while passthrough is off")
	errNoKey            = errors.New("frame: no key for the frame's sender, epoch or generation")
	errAuth             = errors.New("frame: frame authentication failed")
	errReplay           = errors.New("frame: frame nonce already used")
	errFrameTooLarge    = errors.New("frame: frame too large")
)

// IsSilence reports whether frame is the Opus silence frame F8 FF FE.
func IsSilence(frame []byte) bool {
	return len(frame) == 3 && frame[0] == silence[0] && frame[1] == silence[1] && frame[2] == silence[2]
}

// appendULEB128 appends v in unsigned little-endian base 128.
func appendULEB128(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// readULEB128 reads one value from b, returning it and its size (0 on error:
// truncated, longer than 10 bytes or overflowing 64 bits).
func readULEB128(b []byte) (v uint64, n int) {
	var shift uint
	for i, c := range b {
		if i == 10 || (i == 9 && c > 1) {
			return 0, 0
		}
		v |= uint64(c&0x7F) << shift
		if c < 0x80 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// Range is an unencrypted byte range of an interleaved protocol frame.
type Range struct {
	Offset, Size int
}

// Frame is a parsed protocol frame: the interleaved media bytes and the
// supplemental data that follows them. Its slices alias the parsed input.
type Frame struct {
	// Media is the interleaved (partly encrypted) media frame.
	Media []byte
	// Tag is the truncated 8-byte AES-GCM tag.
	Tag []byte
	// Nonce is the 32-bit truncated synchronisation nonce.
	Nonce uint32
	// Ranges are the unencrypted ranges of Media, ascending and disjoint
	// (Opus frames have none).
	Ranges []Range
}

// Unmarshal parses b as a protocol frame (protocol.md "Protocol Frame
// Check"), reusing f.Ranges' storage. It fails with errNotProtocolFrame when
// b does not pass the check; b is not modified and f aliases it.
func (f *Frame) Unmarshal(b []byte) error {
	f.Ranges = f.Ranges[:0]
	if len(b) < minSupplemental || b[len(b)-2] != magic[0] || b[len(b)-1] != magic[1] {
		return errNotProtocolFrame
	}
	sup := int(b[len(b)-markerSize-1])
	if sup < minSupplemental || sup > len(b) {
		return errNotProtocolFrame
	}
	media := b[:len(b)-sup]
	s := b[len(b)-sup : len(b)-markerSize-1]
	tag, s := s[:tagSize], s[tagSize:]
	nonce, n := readULEB128(s)
	if n == 0 || nonce > 0xFFFFFFFF {
		return errNotProtocolFrame
	}
	s = s[n:]
	end := 0
	for len(s) > 0 {
		off, n1 := readULEB128(s)
		if n1 == 0 {
			return errNotProtocolFrame
		}
		size, n2 := readULEB128(s[n1:])
		if n2 == 0 {
			return errNotProtocolFrame
		}
		s = s[n1+n2:]
		if off < uint64(end) || off > uint64(len(media)) || size > uint64(len(media))-off {
			return errNotProtocolFrame
		}
		f.Ranges = append(f.Ranges, Range{Offset: int(off), Size: int(size)})
		end = int(off + size)
	}
	f.Media, f.Tag, f.Nonce = media, tag, uint32(nonce)
	return nil
}
