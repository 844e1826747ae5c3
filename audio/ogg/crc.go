package ogg

import "encoding/binary"

// crcTables hold the lookup tables for the Ogg page checksum: CRC-32 with
// generator polynomial 0x04c11db7, initial value 0, no bit reflection and no
// final XOR (RFC 3533 §6, "CRC checksum"). crcTables[0] is the classic
// byte-at-a-time table; crcTables[k] advances a byte through k more zero
// bytes, so eight bytes can be folded per step ("slicing by 8").
var crcTables = makeCRCTables()

func makeCRCTables() *[8][256]uint32 {
	var t [8][256]uint32
	for i := range t[0] {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[0][i] = r
	}
	for k := 1; k < 8; k++ {
		for i := range t[k] {
			v := t[k-1][i]
			t[k][i] = v<<8 ^ t[0][v>>24]
		}
	}
	return &t
}

// crcUpdate folds p into the running Ogg checksum crc.
func crcUpdate(crc uint32, p []byte) uint32 {
	t := crcTables
	for len(p) >= 8 {
		a := crc ^ binary.BigEndian.Uint32(p)
		b := binary.BigEndian.Uint32(p[4:])
		crc = t[7][a>>24] ^ t[6][a>>16&0xff] ^ t[5][a>>8&0xff] ^ t[4][a&0xff] ^
			t[3][b>>24] ^ t[2][b>>16&0xff] ^ t[1][b>>8&0xff] ^ t[0][b&0xff]
		p = p[8:]
	}
	for _, c := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^c]
	}
	return crc
}
