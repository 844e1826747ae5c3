package ogg

// crcTable is the lookup table for the Ogg page checksum: CRC-32 with generator
// polynomial 0x04c11db7, initial value 0, no bit reflection and no final XOR
// (RFC 3533 §6, "CRC checksum").
var crcTable = makeCRCTable()

func makeCRCTable() *[256]uint32 {
	var t [256]uint32
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return &t
}

// crcUpdate folds p into the running Ogg checksum crc.
func crcUpdate(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	return crc
}
