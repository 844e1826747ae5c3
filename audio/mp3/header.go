package mp3

// Channel modes (ISO/IEC 11172-3 §2.4.2.3).
const (
	modeStereo      = 0
	modeJointStereo = 1
	modeDualChannel = 2
	modeMono        = 3
)

// header is a decoded 32-bit frame header (ISO/IEC 11172-3 §2.4.1.3).
type header struct {
	version    int // mpeg1, mpeg2, mpeg25
	layer      int // 1, 2 or 3
	crc        bool
	bitrateIdx int
	rateIdx    int // 0..2 within the version
	padding    bool
	mode       int
	modeExt    int
}

// parseHeader decodes b[0:4]; ok is false when the bits cannot start a frame
// (no sync, a reserved value, or free format).
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return h, false
	}
	h.version = int(b[1]>>3) & 3
	h.layer = 4 - int(b[1]>>1)&3
	h.crc = b[1]&1 == 0
	h.bitrateIdx = int(b[2] >> 4)
	h.rateIdx = int(b[2]>>2) & 3
	h.padding = b[2]&2 != 0
	h.mode = int(b[3] >> 6)
	h.modeExt = int(b[3]>>4) & 3
	emphasis := b[3] & 3
	if h.version == 1 || h.layer == 4 || h.bitrateIdx == 15 || h.rateIdx == 3 || emphasis == 2 {
		return h, false
	}
	return h, true
}

func (h header) lsf() int {
	if h.version == mpeg1 {
		return 0
	}
	return 1
}

func (h header) sampleRate() int { return sampleRates[h.version][h.rateIdx] }

// rateIndex is the row of sfbLong/sfbShort for this header.
func (h header) rateIndex() int {
	switch h.version {
	case mpeg1:
		return h.rateIdx
	case mpeg2:
		return 3 + h.rateIdx
	}
	return 6 + h.rateIdx
}

func (h header) bitrate() int { return bitrateKbps[h.lsf()][h.layer-1][h.bitrateIdx] * 1000 }

func (h header) channels() int {
	if h.mode == modeMono {
		return 1
	}
	return 2
}

// samplesPerFrame per channel.
func (h header) samplesPerFrame() int {
	switch {
	case h.layer == 1:
		return 384
	case h.layer == 3 && h.version != mpeg1:
		return 576
	}
	return 1152
}

// frameSize in bytes including the header; 0 for free format.
func (h header) frameSize() int {
	br := h.bitrate()
	sr := h.sampleRate()
	pad := 0
	if h.padding {
		pad = 1
	}
	switch {
	case br == 0:
		return 0
	case h.layer == 1:
		return (12*br/sr + pad) * 4
	case h.layer == 3 && h.version != mpeg1:
		return 72*br/sr + pad
	}
	return 144*br/sr + pad
}

// sideInfoSize in bytes for Layer III.
func (h header) sideInfoSize() int {
	if h.version == mpeg1 {
		if h.mode == modeMono {
			return 17
		}
		return 32
	}
	if h.mode == modeMono {
		return 9
	}
	return 17
}

// compatible reports whether o can belong to the same stream as h.
func (h header) compatible(o header) bool {
	return h.version == o.version && h.layer == o.layer && h.rateIdx == o.rateIdx
}
