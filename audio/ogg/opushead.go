package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/quaverbot/quaver/audio/opus"
)

// OpusHead is the Ogg Opus identification header (RFC 7845 §5.1).
type OpusHead struct {
	Version         uint8  // encapsulation version; only major version 0 (1..15) is understood
	Channels        int    // output channel count, 1..255
	PreSkip         int    // 48 kHz samples to discard from the decoder's output at the start
	InputSampleRate int    // rate of the original input, informational (0 = unspecified)
	OutputGain      int16  // gain to apply to the decoded output, Q7.8 dB
	MappingFamily   uint8  // channel mapping family (§5.1.1)
	StreamCount     int    // family != 0 only
	CoupledCount    int    // family != 0 only
	Mapping         [2]int // family != 0 only: mapping of the first (at most two) channels
}

// opusHeadMagic starts every OpusHead packet.
const opusHeadMagic = "OpusHead"

// opusTagsMagic starts every OpusTags packet.
const opusTagsMagic = "OpusTags"

var (
	errHeadShort   = errors.New("ogg: OpusHead packet too short")
	errHeadMagic   = errors.New("ogg: packet is not an OpusHead header")
	errHeadChans   = errors.New("ogg: OpusHead has zero channels")
	errTagsMagic   = errors.New("ogg: second Opus packet is not an OpusTags header")
	errTagsCorrupt = errors.New("ogg: OpusTags header is corrupt")
)

// UnmarshalBinary parses an OpusHead packet. It accepts only layouts a stereo
// decoder can play: mapping family 0, or family 1 with at most two channels in
// a single Opus stream; anything else is a clear error.
func (h *OpusHead) UnmarshalBinary(p []byte) error {
	if len(p) < 8 || string(p[:8]) != opusHeadMagic {
		return errHeadMagic
	}
	if len(p) < 19 {
		return errHeadShort
	}
	h.Version = p[8]
	if h.Version>>4 != 0 {
		return fmt.Errorf("ogg: unsupported OpusHead version %d", h.Version)
	}
	h.Channels = int(p[9])
	h.PreSkip = int(binary.LittleEndian.Uint16(p[10:]))
	h.InputSampleRate = int(binary.LittleEndian.Uint32(p[12:]))
	h.OutputGain = int16(binary.LittleEndian.Uint16(p[16:]))
	h.MappingFamily = p[18]
	h.StreamCount, h.CoupledCount, h.Mapping = 0, 0, [2]int{}
	if h.Channels == 0 {
		return errHeadChans
	}
	switch h.MappingFamily {
	case 0:
		if h.Channels > 2 {
			return fmt.Errorf("ogg: OpusHead mapping family 0 with %d channels is invalid", h.Channels)
		}
		h.StreamCount = 1
		h.CoupledCount = h.Channels - 1
		h.Mapping = [2]int{0, 1}
		return nil
	case 1:
		if h.Channels > 2 {
			return fmt.Errorf("ogg: unsupported channel layout: %d channels (mapping family 1); only mono and stereo are supported", h.Channels)
		}
		if len(p) < 21+h.Channels {
			return errHeadShort
		}
		h.StreamCount = int(p[19])
		h.CoupledCount = int(p[20])
		for i := 0; i < h.Channels; i++ {
			h.Mapping[i] = int(p[21+i])
		}
		if h.StreamCount != 1 || h.CoupledCount != h.Channels-1 || h.Mapping[0] != 0 || (h.Channels == 2 && h.Mapping[1] != 1) {
			return fmt.Errorf("ogg: unsupported channel mapping: %d streams, %d coupled for %d channels", h.StreamCount, h.CoupledCount, h.Channels)
		}
		return nil
	default:
		return fmt.Errorf("ogg: unsupported channel mapping family %d (%d channels)", h.MappingFamily, h.Channels)
	}
}

// AppendBinary appends the family-0 OpusHead packet for h (h.Channels must be 1 or 2).
func (h *OpusHead) AppendBinary(b []byte) []byte {
	b = append(b, opusHeadMagic...)
	b = append(b, 1, byte(h.Channels))
	b = binary.LittleEndian.AppendUint16(b, uint16(h.PreSkip))
	b = binary.LittleEndian.AppendUint32(b, uint32(h.InputSampleRate))
	b = binary.LittleEndian.AppendUint16(b, uint16(h.OutputGain))
	return append(b, 0)
}

// OpusTags is the Ogg Opus comment header (RFC 7845 §5.2).
type OpusTags struct {
	Vendor   string
	Comments []string // "NAME=value" pairs, as stored
}

// maxComments bounds how many user comments are kept from hostile headers.
const maxComments = 1024

// UnmarshalBinary parses an OpusTags packet. A packet truncated inside the
// comment list (as the reader does with oversized artwork) keeps the comments
// that are complete.
func (t *OpusTags) UnmarshalBinary(p []byte) error {
	if len(p) < 8 || string(p[:8]) != opusTagsMagic {
		return errTagsMagic
	}
	p = p[8:]
	if len(p) < 4 {
		return errTagsCorrupt
	}
	n := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(n) > uint64(len(p)) {
		return errTagsCorrupt
	}
	t.Vendor = string(p[:n])
	p = p[n:]
	t.Comments = nil
	if len(p) < 4 {
		return nil // comment count missing: tolerate, as many players do
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	for i := uint32(0); i < count && len(t.Comments) < maxComments; i++ {
		if len(p) < 4 {
			break
		}
		l := binary.LittleEndian.Uint32(p)
		p = p[4:]
		if uint64(l) > uint64(len(p)) {
			break
		}
		t.Comments = append(t.Comments, string(p[:l]))
		p = p[l:]
	}
	return nil
}

// AppendBinary appends the OpusTags packet for t.
func (t *OpusTags) AppendBinary(b []byte) []byte {
	b = append(b, opusTagsMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Vendor)))
	b = append(b, t.Vendor...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Comments)))
	for _, c := range t.Comments {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

// PacketSamples returns the duration of an Opus packet in 48 kHz samples per
// channel, read from its TOC byte and frame count (RFC 6716 §3.1, §3.2.5). It
// is opus.PacketSamples, offered here to the callers of the demuxers.
func PacketSamples(pkt []byte) (int, error) { return opus.PacketSamples(pkt) }

// UnsupportedCodecError reports a stream whose codec is not Opus. Its message
// is exactly "unsupported codec: NAME", e.g. "unsupported codec: Vorbis".
type UnsupportedCodecError struct {
	Codec string
}

func (e *UnsupportedCodecError) Error() string { return "unsupported codec: " + e.Codec }

// codecMagics maps the first bytes of a stream's first packet to its codec
// (each codec's Ogg mapping specification defines its identification header).
var codecMagics = []struct {
	magic string
	name  string
}{
	{opusHeadMagic, "Opus"},
	{"\x01vorbis", "Vorbis"},
	{"\x7fFLAC", "FLAC"},
	{"fLaC", "FLAC"},
	{"Speex   ", "Speex"},
	{"\x80theora", "Theora"},
	{"CELT    ", "CELT"},
	{"PCM     ", "PCM"},
	{"\x80kate\x00\x00\x00", "Kate"},
	{"BBCD\x00", "Dirac"},
	{"\x80daala", "Daala"},
	{"fishead\x00", "Skeleton"},
	{"OVP80", "VP8"},
}

// codecOf names the codec whose identification header starts pkt ("unknown" if none matches).
func codecOf(pkt []byte) string {
	for _, m := range codecMagics {
		if len(pkt) >= len(m.magic) && string(pkt[:len(m.magic)]) == m.magic {
			return m.name
		}
	}
	return "unknown"
}
