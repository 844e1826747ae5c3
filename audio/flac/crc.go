package flac

// CRC parameters from RFC 9639 section 9.1.8 (frame header CRC-8) and
// section 9.3 (frame footer CRC-16). Both are MSB-first, initialised to zero,
// with no final XOR.
const (
	crc8Poly  = 0x07   // x^8 + x^2 + x^1 + x^0
	crc16Poly = 0x8005 // x^16 + x^15 + x^2 + x^0
)

var (
	crc8Table  [256]uint8
	crc16Table [8][256]uint16 // slicing-by-8 tables; [0] is the plain byte table
)

func init() {
	for i := range 256 {
		c8 := uint8(i)
		c16 := uint16(i) << 8
		for range 8 {
			if c8&0x80 != 0 {
				c8 = c8<<1 ^ crc8Poly
			} else {
				c8 <<= 1
			}
			if c16&0x8000 != 0 {
				c16 = c16<<1 ^ crc16Poly
			} else {
				c16 <<= 1
			}
		}
		crc8Table[i] = c8
		crc16Table[0][i] = c16
	}
	for i := range 256 {
		c := crc16Table[0][i]
		for k := 1; k < 8; k++ {
			c = c<<8 ^ crc16Table[0][c>>8]
			crc16Table[k][i] = c
		}
	}
}

// crc16Update folds p into the CRC-16 c, eight bytes at a time where it can.
func crc16Update(c uint16, p []byte) uint16 {
	t := &crc16Table
	for len(p) >= 8 {
		c ^= uint16(p[0])<<8 | uint16(p[1])
		c = t[7][c>>8] ^ t[6][c&0xff] ^ t[5][p[2]] ^ t[4][p[3]] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		c = c<<8 ^ t[0][byte(c>>8)^b]
	}
	return c
}
