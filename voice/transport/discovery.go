package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// IP discovery packet, 74 bytes, big-endian:
// [u16 type][u16 length=70][u32 ssrc][64-byte NUL-terminated address][u16 port].
// https://docs.discord.com/developers/topics/voice-connections#ip-discovery
const (
	// DiscoveryLen is the size of an IP discovery request or response.
	DiscoveryLen = 74
	// DiscoveryRequest is the type of the client's request.
	DiscoveryRequest = 0x1
	// DiscoveryResponse is the type of the server's response.
	DiscoveryResponse = 0x2
	discoveryBodyLen  = 70
	discoveryAddrLen  = 64
)

var (
	errDiscoveryLen  = errors.New("transport: IP discovery packet is not 74 bytes")
	errDiscoveryType = errors.New("transport: IP discovery packet has an unknown type")
	errDiscoveryBody = errors.New("transport: IP discovery length field is not 70")
	errDiscoveryAddr = errors.New("transport: IP discovery address is not an IP")
)

// Discovery is one IP discovery packet.
type Discovery struct {
	Type uint16
	SSRC uint32
	// Addr is the address as the server saw it (empty in requests).
	Addr netip.AddrPort
}

// MarshalTo writes the 74-byte packet into buf (at least DiscoveryLen long).
func (d *Discovery) MarshalTo(buf []byte) (int, error) {
	if len(buf) < DiscoveryLen {
		return 0, errDiscoveryLen
	}
	clear(buf[:DiscoveryLen])
	binary.BigEndian.PutUint16(buf[0:], d.Type)
	binary.BigEndian.PutUint16(buf[2:], discoveryBodyLen)
	binary.BigEndian.PutUint32(buf[4:], d.SSRC)
	if d.Addr.IsValid() {
		a := d.Addr.Addr().String()
		if len(a) > discoveryAddrLen {
			return 0, errDiscoveryAddr
		}
		copy(buf[8:], a)
		binary.BigEndian.PutUint16(buf[72:], d.Addr.Port())
	}
	return DiscoveryLen, nil
}

// Unmarshal parses a 74-byte request or response.
func (d *Discovery) Unmarshal(pkt []byte) error {
	if len(pkt) != DiscoveryLen {
		return errDiscoveryLen
	}
	d.Type = binary.BigEndian.Uint16(pkt[0:])
	if d.Type != DiscoveryRequest && d.Type != DiscoveryResponse {
		return errDiscoveryType
	}
	if binary.BigEndian.Uint16(pkt[2:]) != discoveryBodyLen {
		return errDiscoveryBody
	}
	d.SSRC = binary.BigEndian.Uint32(pkt[4:])
	d.Addr = netip.AddrPort{}
	field := pkt[8 : 8+discoveryAddrLen]
	if i := bytes.IndexByte(field, 0); i >= 0 {
		field = field[:i]
	}
	if len(field) == 0 {
		return nil
	}
	ip, err := netip.ParseAddr(string(field))
	if err != nil {
		return errDiscoveryAddr
	}
	d.Addr = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(pkt[72:]))
	return nil
}
