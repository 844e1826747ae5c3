package opus

import "errors"

var (
	errEmptyPacket = errors.New("opus: empty packet")
	errBadPacket   = errors.New("opus: malformed packet")
)

// frameSamples48k gives the duration, in 48 kHz samples, of one frame for each
// of the 32 TOC configurations (RFC 6716 §3.1, Table 2).
var frameSamples48k = [32]int{
	480, 960, 1920, 2880, // SILK NB 10/20/40/60 ms
	480, 960, 1920, 2880, // SILK MB
	480, 960, 1920, 2880, // SILK WB
	480, 960, // Hybrid SWB 10/20 ms
	480, 960, // Hybrid FB
	120, 240, 480, 960, // CELT NB 2.5/5/10/20 ms
	120, 240, 480, 960, // CELT WB
	120, 240, 480, 960, // CELT SWB
	120, 240, 480, 960, // CELT FB
}

// PacketSamples returns the duration of an Opus packet in samples at 48 kHz,
// read from its TOC byte and frame count (RFC 6716 §3.1–3.2).
func PacketSamples(packet []byte) (int, error) {
	if len(packet) == 0 {
		return 0, errEmptyPacket
	}
	per := frameSamples48k[packet[0]>>3]
	var frames int
	switch packet[0] & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	default:
		if len(packet) < 2 {
			return 0, errBadPacket
		}
		frames = int(packet[1] & 0x3f)
		if frames == 0 {
			return 0, errBadPacket
		}
	}
	total := per * frames
	if total > MaxFrameSamples {
		return 0, errBadPacket
	}
	return total, nil
}

// IsStereo reports the stereo flag of a packet's TOC byte.
func IsStereo(packet []byte) bool { return len(packet) > 0 && packet[0]&4 != 0 }
