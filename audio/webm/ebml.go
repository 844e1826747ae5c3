package webm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Element IDs (RFC 8794 for EBML; RFC 9559 and matroska.org for Matroska).
const (
	idEBML               = 0x1A45DFA3
	idDocType            = 0x4282
	idSegment            = 0x18538067
	idSeekHead           = 0x114D9B74
	idSeek               = 0x4DBB
	idSeekID             = 0x53AB
	idSeekPosition       = 0x53AC
	idInfo               = 0x1549A966
	idTimecodeScale      = 0x2AD7B1
	idDuration           = 0x4489
	idTracks             = 0x1654AE6B
	idTrackEntry         = 0xAE
	idTrackNumber        = 0xD7
	idTrackType          = 0x83
	idCodecID            = 0x86
	idCodecPrivate       = 0x63A2
	idCodecDelay         = 0x56AA
	idSeekPreRoll        = 0x56BB
	idAudio              = 0xE1
	idSamplingFrequency  = 0xB5
	idChannels           = 0x9F
	idCluster            = 0x1F43B675
	idTimecode           = 0xE7
	idSimpleBlock        = 0xA3
	idBlockGroup         = 0xA0
	idBlock              = 0xA1
	idDiscardPadding     = 0x75A2
	idCues               = 0x1C53BB6B
	idCuePoint           = 0xBB
	idCueTime            = 0xB3
	idCueTrackPositions  = 0xB7
	idCueTrack           = 0xF7
	idCueClusterPosition = 0xF1
	idVoid               = 0xEC
	trackTypeAudio       = 2
)

// unknownSize marks an element whose size field is all ones (RFC 8794 §6.2):
// it lasts until an element that cannot be its child (live WebM).
const unknownSize = -1

var (
	errBadVint = errors.New("webm: invalid EBML variable-length integer")
	errBadElem = errors.New("webm: malformed element")
)

// vintLen returns the length of a variable-length integer from its first
// byte (RFC 8794 §4), or 0 when the byte is invalid (no marker bit).
func vintLen(b byte) int {
	if b == 0 {
		return 0
	}
	n := 1
	for b&0x80 == 0 {
		b <<= 1
		n++
	}
	return n
}

// parseID reads an element ID (marker bit kept, 1..4 bytes) from b.
func parseID(b []byte) (id uint32, n int, err error) {
	if len(b) == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	n = vintLen(b[0])
	if n == 0 || n > 4 {
		return 0, 0, errBadVint
	}
	if len(b) < n {
		return 0, 0, io.ErrUnexpectedEOF
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n, nil
}

// parseSize reads an element data size (marker removed, 1..8 bytes) from b;
// all value bits set means unknownSize.
func parseSize(b []byte) (size int64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	n = vintLen(b[0])
	if n == 0 {
		return 0, 0, errBadVint
	}
	if len(b) < n {
		return 0, 0, io.ErrUnexpectedEOF
	}
	v := uint64(b[0]) & (0xff >> n)
	allOnes := v == 0xff>>n
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xff
	}
	if allOnes {
		return unknownSize, n, nil
	}
	if v > math.MaxInt64/2 {
		return 0, 0, errBadVint
	}
	return int64(v), n, nil
}

// children calls fn for each child element of a master element's data b.
func children(b []byte, fn func(id uint32, data []byte) error) error {
	for len(b) > 0 {
		id, n, err := parseID(b)
		if err != nil {
			return errBadElem
		}
		size, m, err := parseSize(b[n:])
		if err != nil || size == unknownSize || size > int64(len(b)-n-m) {
			return errBadElem
		}
		data := b[n+m : n+m+int(size)]
		if err := fn(id, data); err != nil {
			return err
		}
		b = b[n+m+int(size):]
	}
	return nil
}

// readUint decodes an EBML unsigned integer (0..8 bytes, big-endian).
func readUint(b []byte) (uint64, error) {
	if len(b) > 8 {
		return 0, errBadElem
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// readInt decodes an EBML signed integer (0..8 bytes, big-endian, two's
// complement); longer data reads as 0.
func readInt(b []byte) int64 {
	if len(b) == 0 || len(b) > 8 {
		return 0
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v
}

// readFloat decodes an EBML float (0, 4 or 8 bytes).
func readFloat(b []byte) (float64, error) {
	switch len(b) {
	case 0:
		return 0, nil
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("webm: float element of %d bytes", len(b))
}
