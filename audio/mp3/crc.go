package mp3

// crc16 is the frame check of ISO/IEC 11172-3 §2.4.3.1: generator
// x^16 + x^15 + x^2 + 1, initial value 0xFFFF, computed MSB first over
// header bytes 2-3 and then the side information.
func crc16(header []byte, side []byte) uint16 {
	crc := uint16(0xFFFF)
	upd := func(b byte) {
		for i := 7; i >= 0; i-- {
			bit := (b>>uint(i))&1 != 0
			top := crc&0x8000 != 0
			crc <<= 1
			if top != bit {
				crc ^= 0x8005
			}
		}
	}
	upd(header[2])
	upd(header[3])
	for _, b := range side {
		upd(b)
	}
	return crc
}
