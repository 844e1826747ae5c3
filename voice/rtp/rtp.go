// Package rtp owns the RTP packet header as Discord voice uses it (RFC 3550
// section 5.1, with the one-byte/two-byte header extension of RFC 8285 carried
// opaquely): marshalling for the sender, zero-allocation parsing for the
// receiver, and the Opus media constants (payload type, clock, silence frame).
package rtp

import (
	"encoding/binary"
	"errors"
)

// Discord voice media constants.
// https://docs.discord.com/developers/topics/voice-connections#transport-encryption-and-sending-voice
const (
	// Version is the RTP version Discord uses (RFC 3550: always 2).
	Version = 2
	// PayloadType is the dynamic payload type Discord assigns to Opus (0x78).
	PayloadType = 0x78
	// ClockRate is the Opus RTP clock rate in Hz.
	ClockRate = 48000
	// FrameSamples is the timestamp increment of one 20 ms Opus frame.
	FrameSamples = 960
	// FixedHeaderLen is the size of the RTP header without CSRCs or extension.
	FixedHeaderLen = 12
	// MaxCSRC is the largest CSRC count the 4-bit CC field can carry.
	MaxCSRC = 15
)

// SilenceFrame is the 3-byte Opus packet Discord expects (five of them) when a
// sender stops talking, so that receivers' decoders do not interpolate.
var SilenceFrame = [3]byte{0xF8, 0xFF, 0xFE}

var (
	errShort       = errors.New("rtp: packet shorter than its header")
	errVersion     = errors.New("rtp: version is not 2")
	errBufTooSmall = errors.New("rtp: buffer too small for header")
	errCSRCCount   = errors.New("rtp: more than 15 CSRCs")
	errExtLen      = errors.New("rtp: header extension longer than the packet")
	errPadding     = errors.New("rtp: padding length larger than the payload")
)

// Header is an RTP fixed header with its CSRC list and extension header.
// CSRCs live in a fixed array so that parsing never allocates.
type Header struct {
	Padding        bool
	Extension      bool
	Marker         bool
	PayloadType    uint8
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	// CSRCCount is how many entries of CSRC are used.
	CSRCCount uint8
	CSRC      [MaxCSRC]uint32
	// ExtensionProfile is the 16-bit "defined by profile" word of the
	// extension header (0xBEDE for RFC 8285 one-byte headers).
	ExtensionProfile uint16
	// ExtensionWords is the extension body length in 32-bit words.
	ExtensionWords uint16
}

// AADLen returns the "rtpsize" header length: the fixed header, the CSRC list
// and, when present, the 4-byte extension header, but not the extension body.
// This is what the *_rtpsize transport modes authenticate unencrypted.
func (h *Header) AADLen() int {
	n := FixedHeaderLen + 4*int(h.CSRCCount)
	if h.Extension {
		n += 4
	}
	return n
}

// ExtensionBodyLen returns the extension body length in bytes.
func (h *Header) ExtensionBodyLen() int {
	if !h.Extension {
		return 0
	}
	return 4 * int(h.ExtensionWords)
}

// MarshalSize returns the number of bytes MarshalTo writes: the rtpsize header
// (the extension body, if any, is the caller's to write after it).
func (h *Header) MarshalSize() int { return h.AADLen() }

// MarshalTo writes the header (without extension body) to buf and returns the
// number of bytes written. It does not allocate.
func (h *Header) MarshalTo(buf []byte) (int, error) {
	if h.CSRCCount > MaxCSRC {
		return 0, errCSRCCount
	}
	n := h.AADLen()
	if len(buf) < n {
		return 0, errBufTooSmall
	}
	b0 := byte(Version<<6) | h.CSRCCount
	if h.Padding {
		b0 |= 1 << 5
	}
	if h.Extension {
		b0 |= 1 << 4
	}
	buf[0] = b0
	b1 := h.PayloadType & 0x7f
	if h.Marker {
		b1 |= 0x80
	}
	buf[1] = b1
	binary.BigEndian.PutUint16(buf[2:], h.SequenceNumber)
	binary.BigEndian.PutUint32(buf[4:], h.Timestamp)
	binary.BigEndian.PutUint32(buf[8:], h.SSRC)
	off := FixedHeaderLen
	for i := 0; i < int(h.CSRCCount); i++ {
		binary.BigEndian.PutUint32(buf[off:], h.CSRC[i])
		off += 4
	}
	if h.Extension {
		binary.BigEndian.PutUint16(buf[off:], h.ExtensionProfile)
		binary.BigEndian.PutUint16(buf[off+2:], h.ExtensionWords)
	}
	return n, nil
}

// Marshal returns the header bytes in a new slice.
func (h *Header) Marshal() ([]byte, error) {
	buf := make([]byte, h.MarshalSize())
	n, err := h.MarshalTo(buf)
	return buf[:n], err
}

// Unmarshal parses the header at the start of pkt and returns the rtpsize
// header length (see AADLen). The extension body is not checked here: the
// rtpsize modes encrypt it, so its length is checked by Payload after
// decryption. Unmarshal never allocates.
func (h *Header) Unmarshal(pkt []byte) (int, error) {
	if len(pkt) < FixedHeaderLen {
		return 0, errShort
	}
	if pkt[0]>>6 != Version {
		return 0, errVersion
	}
	h.Padding = pkt[0]&(1<<5) != 0
	h.Extension = pkt[0]&(1<<4) != 0
	h.CSRCCount = pkt[0] & 0x0f
	h.Marker = pkt[1]&0x80 != 0
	h.PayloadType = pkt[1] & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(pkt[2:])
	h.Timestamp = binary.BigEndian.Uint32(pkt[4:])
	h.SSRC = binary.BigEndian.Uint32(pkt[8:])
	n := h.AADLen()
	if len(pkt) < n {
		return 0, errShort
	}
	off := FixedHeaderLen
	for i := 0; i < int(h.CSRCCount); i++ {
		h.CSRC[i] = binary.BigEndian.Uint32(pkt[off:])
		off += 4
	}
	h.ExtensionProfile, h.ExtensionWords = 0, 0
	if h.Extension {
		h.ExtensionProfile = binary.BigEndian.Uint16(pkt[off:])
		h.ExtensionWords = binary.BigEndian.Uint16(pkt[off+2:])
	}
	return n, nil
}

// Payload returns the media payload of a decrypted rtpsize body (the bytes
// after the rtpsize header): it skips the extension body and strips RTP
// padding when the P bit is set.
func (h *Header) Payload(body []byte) ([]byte, error) {
	ext := h.ExtensionBodyLen()
	if ext > len(body) {
		return nil, errExtLen
	}
	body = body[ext:]
	if h.Padding && len(body) > 0 {
		p := int(body[len(body)-1])
		if p == 0 || p > len(body) {
			return nil, errPadding
		}
		body = body[:len(body)-p]
	}
	return body, nil
}
