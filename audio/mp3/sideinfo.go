package mp3

import "errors"

var errBadSideInfo = errors.New("mp3: invalid Layer III side information")

// granule is one channel's side information in one granule
// (ISO/IEC 11172-3 §2.4.1.7, ISO/IEC 13818-3 §2.4.1.7).
type granule struct {
	part23Len       int
	bigValues       int
	globalGain      int
	sfCompress      int
	windowSwitching bool
	blockType       int
	mixed           bool
	tableSelect     [3]int
	subblockGain    [3]int
	region0Count    int
	region1Count    int
	preflag         int
	sfScale         int
	count1Table     int
}

// shortBlocks reports whether the granule uses three short windows.
func (g *granule) shortBlocks() bool { return g.windowSwitching && g.blockType == 2 }

// sideInfo holds a frame's Layer III side information.
type sideInfo struct {
	mainDataBegin int
	scfsi         [2][4]int
	gr            [2][2]granule // [granule][channel]
	granules      int
}

// parse reads the side information for header h from r.
func (si *sideInfo) parse(r *bitReader, h header) error {
	nch := h.channels()
	if h.version == mpeg1 {
		si.granules = 2
		si.mainDataBegin = r.bits(9)
		if nch == 1 {
			r.bits(5)
		} else {
			r.bits(3)
		}
		for ch := 0; ch < nch; ch++ {
			for b := 0; b < 4; b++ {
				si.scfsi[ch][b] = r.bit()
			}
		}
	} else {
		si.granules = 1
		si.mainDataBegin = r.bits(8)
		if nch == 1 {
			r.bits(1)
		} else {
			r.bits(2)
		}
	}
	for gr := 0; gr < si.granules; gr++ {
		for ch := 0; ch < nch; ch++ {
			g := &si.gr[gr][ch]
			g.part23Len = r.bits(12)
			g.bigValues = r.bits(9)
			g.globalGain = r.bits(8)
			if h.version == mpeg1 {
				g.sfCompress = r.bits(4)
			} else {
				g.sfCompress = r.bits(9)
			}
			g.windowSwitching = r.bit() == 1
			if g.windowSwitching {
				g.blockType = r.bits(2)
				g.mixed = r.bit() == 1
				g.tableSelect[0] = r.bits(5)
				g.tableSelect[1] = r.bits(5)
				g.tableSelect[2] = 0
				for w := 0; w < 3; w++ {
					g.subblockGain[w] = r.bits(3)
				}
				if g.blockType == 0 {
					return errBadSideInfo
				}
				// Implicit region counts (ISO/IEC 11172-3 §2.4.2.7).
				g.region0Count = 7
				if g.blockType == 2 && !g.mixed {
					g.region0Count = 8
				}
				g.region1Count = 20 - g.region0Count
			} else {
				g.blockType = 0
				g.mixed = false
				for i := 0; i < 3; i++ {
					g.tableSelect[i] = r.bits(5)
				}
				g.subblockGain = [3]int{}
				g.region0Count = r.bits(4)
				g.region1Count = r.bits(3)
			}
			if h.version == mpeg1 {
				g.preflag = r.bit()
			} else {
				g.preflag = 0
			}
			g.sfScale = r.bit()
			g.count1Table = r.bit()
			if g.bigValues > 288 {
				return errBadSideInfo
			}
		}
	}
	return nil
}
