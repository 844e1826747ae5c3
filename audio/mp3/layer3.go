package mp3

import "math"

// Precomputed tables for requantization, stereo, alias reduction and IMDCT,
// built once at init.
var (
	pow43Table [8207]float32 // |is|^(4/3) for |is| <= 15 + 2^13 - 1
	pow2Table  [pow2Len]float32
	aliasCS    [8]float32
	aliasCA    [8]float32
	isRatioL   [7]float32     // MPEG-1 intensity stereo: left factor for is_pos
	isRatioR   [7]float32     // and right factor
	isLSF      [2][32]float32 // MPEG-2 intensity stereo: io^k
	imdctLong  [18][18]float32
	imdctShort [12][6]float32
	winLong    [4][36]float32 // windows for block types 0, 1, 3 (index 2 unused)
	winShort   [12]float32
)

const (
	pow2Len    = 1024
	pow2Offset = 800 // pow2Table[e+pow2Offset] = 2^(e/4)
)

func init() {
	for i := range pow43Table {
		pow43Table[i] = float32(math.Pow(float64(i), 4.0/3.0))
	}
	for i := range pow2Table {
		pow2Table[i] = float32(math.Exp2(float64(i-pow2Offset) / 4))
	}
	for i, c := range aliasCoef {
		s := math.Sqrt(1 + c*c)
		aliasCS[i] = float32(1 / s)
		aliasCA[i] = float32(c / s)
	}
	for p := 0; p < 7; p++ {
		if p == 6 {
			isRatioL[p], isRatioR[p] = 1, 0
			continue
		}
		t := math.Tan(float64(p) * math.Pi / 12)
		isRatioL[p] = float32(t / (1 + t))
		isRatioR[p] = float32(1 / (1 + t))
	}
	for s := 0; s < 2; s++ {
		io := math.Exp2(-0.25 * float64(s+1))
		for k := 0; k < 32; k++ {
			isLSF[s][k] = float32(math.Pow(io, float64(k)))
		}
	}
	// Long IMDCT rows for outputs 0..8 and 18..26; the others follow by symmetry.
	for r := 0; r < 18; r++ {
		i := r
		if r >= 9 {
			i = r + 9
		}
		for k := 0; k < 18; k++ {
			imdctLong[r][k] = float32(math.Cos(math.Pi / 72 * float64((2*i+19)*(2*k+1))))
		}
	}
	for i := 0; i < 12; i++ {
		for k := 0; k < 6; k++ {
			imdctShort[i][k] = float32(math.Cos(math.Pi / 24 * float64((2*i+7)*(2*k+1))))
		}
		winShort[i] = float32(math.Sin(math.Pi / 12 * (float64(i) + 0.5)))
	}
	// Windows of ISO/IEC 11172-3 §2.4.3.4.10.
	for i := 0; i < 36; i++ {
		winLong[0][i] = float32(math.Sin(math.Pi / 36 * (float64(i) + 0.5)))
	}
	for i := 0; i < 36; i++ {
		var s, e float64
		switch {
		case i < 18:
			s = math.Sin(math.Pi / 36 * (float64(i) + 0.5))
		case i < 24:
			s = 1
		case i < 30:
			s = math.Sin(math.Pi / 12 * (float64(i-18) + 0.5))
		}
		switch {
		case i < 6:
		case i < 12:
			e = math.Sin(math.Pi / 12 * (float64(i-6) + 0.5))
		case i < 18:
			e = 1
		default:
			e = math.Sin(math.Pi / 36 * (float64(i) + 0.5))
		}
		winLong[1][i] = float32(s)
		winLong[3][i] = float32(e)
	}
}

func pow2q(e int) float32 {
	e += pow2Offset
	if e < 0 {
		return 0
	}
	if e >= pow2Len {
		e = pow2Len - 1
	}
	return pow2Table[e]
}

// chanScale holds one channel's scale factors of the current granule.
type chanScale struct {
	l     [22]int
	s     [13][3]int
	maxL  [22]int // largest codable value per band (MPEG-2 intensity stereo)
	maxS  [13][3]int
	isLSF int // intensity_scale for MPEG-2 intensity stereo
}

// readScalefacMPEG1 reads part 2 for MPEG-1 (ISO/IEC 11172-3 §2.4.2.7).
func readScalefacMPEG1(r *bitReader, g *granule, sc *chanScale, scfsi *[4]int, gr int) {
	slen1 := slenMPEG1[0][g.sfCompress]
	slen2 := slenMPEG1[1][g.sfCompress]
	if g.shortBlocks() {
		sfb := 0
		if g.mixed {
			for ; sfb < 8; sfb++ {
				sc.l[sfb] = r.bits(slen1)
			}
			sfb = 3
		}
		for ; sfb < 12; sfb++ {
			n := slen1
			if sfb >= 6 {
				n = slen2
			}
			for w := 0; w < 3; w++ {
				sc.s[sfb][w] = r.bits(n)
			}
		}
		sc.s[12] = [3]int{}
		return
	}
	bounds := [5]int{0, 6, 11, 16, 21}
	for b := 0; b < 4; b++ {
		if gr == 1 && scfsi[b] == 1 {
			continue // reuse granule 0's values
		}
		n := slen1
		if b >= 2 {
			n = slen2
		}
		for sfb := bounds[b]; sfb < bounds[b+1]; sfb++ {
			sc.l[sfb] = r.bits(n)
		}
	}
	sc.l[21] = 0
}

// readScalefacLSF reads part 2 for MPEG-2/2.5 (ISO/IEC 13818-3 §2.4.3.2);
// isRight is set for the right channel of an intensity stereo frame.
func readScalefacLSF(r *bitReader, g *granule, sc *chanScale, isRight bool) {
	var slen [4]int
	tab := 0
	sfc := g.sfCompress
	if !isRight {
		switch {
		case sfc < 400:
			slen = [4]int{(sfc >> 4) / 5, (sfc >> 4) % 5, (sfc & 15) >> 2, sfc & 3}
		case sfc < 500:
			sfc -= 400
			slen = [4]int{(sfc >> 2) / 5, (sfc >> 2) % 5, sfc & 3, 0}
			tab = 1
		default:
			sfc -= 500
			slen = [4]int{sfc / 3, sfc % 3, 0, 0}
			tab = 2
			g.preflag = 1
		}
	} else {
		sc.isLSF = sfc & 1
		isc := sfc >> 1
		switch {
		case isc < 180:
			slen = [4]int{isc / 36, (isc % 36) / 6, (isc % 36) % 6, 0}
			tab = 3
		case isc < 244:
			isc -= 180
			slen = [4]int{(isc & 63) >> 4, (isc & 15) >> 2, isc & 3, 0}
			tab = 4
		default:
			isc -= 244
			slen = [4]int{isc / 3, isc % 3, 0, 0}
			tab = 5
		}
	}
	kind := 0
	if g.shortBlocks() {
		kind = 1
		if g.mixed {
			kind = 2
		}
	}
	counts := &lsfSfbCount[tab][kind]
	// k walks the bands in transmission order.
	k := 0
	longBands := 0
	switch kind {
	case 0:
		longBands = 22
	case 2:
		longBands = 6
	}
	for b := 0; b < 4; b++ {
		n := slen[b]
		maxv := 1<<n - 1
		for j := 0; j < counts[b]; j++ {
			v := r.bits(n)
			if k < longBands {
				sc.l[k], sc.maxL[k] = v, maxv
			} else {
				idx := k - longBands
				sfb, w := idx/3, idx%3
				if kind == 2 {
					sfb += 3
				}
				if sfb < 13 {
					sc.s[sfb][w], sc.maxS[sfb][w] = v, maxv
				}
			}
			k++
		}
	}
	if kind == 0 {
		for sfb := k; sfb < 22; sfb++ {
			sc.l[sfb], sc.maxL[sfb] = 0, sc.maxL[max(sfb-1, 0)]
		}
	} else {
		sc.s[12] = [3]int{}
		sc.maxS[12] = sc.maxS[11]
	}
}

// decodeHuffman reads part 3 into is and returns the number of lines
// decoded (all further lines are zero). end is the bit position where this
// granule's data stops.
func decodeHuffman(r *bitReader, g *granule, h header, is *[576]int32, end int) int {
	ri := h.rateIndex()
	sfbL := &sfbLong[ri]
	bigEnd := g.bigValues * 2
	var r1, r2 int
	if g.windowSwitching {
		if g.blockType == 2 && !g.mixed {
			r1 = 3 * sfbShort[ri][3]
		} else if g.mixed {
			r1 = 36
		} else {
			r1 = sfbL[8]
		}
		r2 = 576
	} else {
		r1 = sfbL[min(g.region0Count+1, 22)]
		r2 = sfbL[min(g.region0Count+g.region1Count+2, 22)]
	}
	r1 = min(r1, bigEnd)
	r2 = min(max(r2, r1), bigEnd)
	i := 0
	for region := 0; region < 3; region++ {
		stop := r1
		switch region {
		case 1:
			stop = r2
		case 2:
			stop = bigEnd
		}
		sel := huffSelect[g.tableSelect[region]]
		if sel.book < 0 {
			for ; i < stop; i++ {
				is[i] = 0
			}
			continue
		}
		lut := &bookLUTs[sel.book]
		lin := sel.linbits
		for ; i < stop; i += 2 {
			x, y := r.decodePair(lut)
			if lin > 0 && x == 15 {
				x += r.bits(lin)
			}
			if x != 0 && r.bit() == 1 {
				x = -x
			}
			if lin > 0 && y == 15 {
				y += r.bits(lin)
			}
			if y != 0 && r.bit() == 1 {
				y = -y
			}
			is[i], is[i+1] = int32(x), int32(y)
		}
	}
	// count1 region: quadruples until the data ends.
	quad := &quadLUTs[g.count1Table]
	for i+4 <= 576 && r.pos < end {
		start := r.pos
		var sym int
		if g.count1Table == 1 {
			sym = 15 - r.bits(4)
		} else {
			e := quad[r.peek32()>>(32-quadLUTLen)]
			r.pos += int(e >> 8)
			sym = int(e & 15)
		}
		var v [4]int32
		for k := 0; k < 4; k++ {
			if sym&(8>>k) != 0 {
				v[k] = 1
				if r.bit() == 1 {
					v[k] = -1
				}
			}
		}
		if r.pos > end {
			r.pos = start
			break // the last quadruple ran past the data: drop it
		}
		is[i], is[i+1], is[i+2], is[i+3] = v[0], v[1], v[2], v[3]
		i += 4
	}
	return i
}

// requantize turns is[0:n] into xr (ISO/IEC 11172-3 §2.4.3.4.7), zeroing the rest.
func requantize(is *[576]int32, n int, g *granule, sc *chanScale, h header, xr *[576]float32) {
	ri := h.rateIndex()
	gain := g.globalGain - 210
	shift := uint(1 + g.sfScale)
	i := 0
	longEnd := 576
	if g.shortBlocks() {
		longEnd = 0
		if g.mixed {
			longEnd = 36
		}
	}
	sfbL := &sfbLong[ri]
	for sfb := 0; sfb < 22 && i < n && i < longEnd; sfb++ {
		e := gain - (sc.l[sfb]+g.preflag*pretab[sfb])<<shift
		scale := pow2q(e)
		stop := min(sfbL[sfb+1], n, longEnd)
		for ; i < stop; i++ {
			xr[i] = dequant(is[i], scale)
		}
	}
	if g.shortBlocks() {
		sfbS := &sfbShort[ri]
		sfb := 0
		if g.mixed {
			sfb = 3
			i = 36
		}
		for ; sfb < 13 && i < n; sfb++ {
			width := sfbS[sfb+1] - sfbS[sfb]
			for w := 0; w < 3 && i < n; w++ {
				e := gain - 8*g.subblockGain[w] - sc.s[sfb][w]<<shift
				scale := pow2q(e)
				stop := min(i+width, n)
				for ; i < stop; i++ {
					xr[i] = dequant(is[i], scale)
				}
			}
		}
	}
	for ; i < 576; i++ {
		xr[i] = 0
	}
}

func dequant(v int32, scale float32) float32 {
	switch {
	case v == 0:
		return 0
	case v > 0:
		return pow43Table[min(int(v), len(pow43Table)-1)] * scale
	}
	return -pow43Table[min(int(-v), len(pow43Table)-1)] * scale
}

// lastNonZero returns 1 + the index of the last non-zero value in x[:n].
func lastNonZero(x []float32) int {
	for i := len(x) - 1; i >= 0; i-- {
		if x[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// stereo applies mid/side and intensity stereo to the granule
// (ISO/IEC 11172-3 §2.4.3.4.9, ISO/IEC 13818-3 §2.4.3.2).
func (d *Decoder) stereo(h header, g *granule, sc *chanScale, nz *[2]int) {
	ms := h.modeExt&2 != 0
	intensity := h.modeExt&1 != 0
	left, right := &d.xr[0], &d.xr[1]
	n := max(nz[0], nz[1])
	if !intensity {
		if ms {
			msRange(left, right, 0, n)
		}
		return
	}
	ri := h.rateIndex()
	lsf := h.version != mpeg1
	apply := func(lo, hi, pos, maxPos int) {
		intensityRange(left, right, lo, hi, pos, maxPos, lsf, ms, sc.isLSF)
	}
	if !g.shortBlocks() {
		sfbL := &sfbLong[ri]
		last := lastNonZero(right[:nz[1]])
		for sfb := 0; sfb < 22; sfb++ {
			lo, hi := sfbL[sfb], sfbL[sfb+1]
			if lo < last {
				if ms {
					msRange(left, right, lo, hi)
				}
				continue
			}
			if lo >= n {
				break
			}
			b := min(sfb, 20)
			apply(lo, hi, sc.l[b], sc.maxL[b])
		}
		return
	}
	sfbS := &sfbShort[ri]
	start := 0
	if g.mixed {
		start = 3
		if ms {
			msRange(left, right, 0, 36)
		}
	}
	for w := 0; w < 3; w++ {
		// Highest band of this window where the right channel carries data.
		top := -1
		for sfb := start; sfb < 13; sfb++ {
			width := sfbS[sfb+1] - sfbS[sfb]
			lo := 3*sfbS[sfb] + w*width
			for i := lo; i < lo+width && i < nz[1]; i++ {
				if right[i] != 0 {
					top = sfb
					break
				}
			}
		}
		for sfb := start; sfb < 13; sfb++ {
			width := sfbS[sfb+1] - sfbS[sfb]
			lo := 3*sfbS[sfb] + w*width
			if lo >= n {
				break
			}
			if sfb <= top {
				if ms {
					msRange(left, right, lo, lo+width)
				}
				continue
			}
			b := min(sfb, 11)
			apply(lo, lo+width, sc.s[b][w], sc.maxS[b][w])
		}
	}
}

// intensityRange reconstructs lines [lo, hi) of both channels from the left
// one with intensity position pos; an illegal position (7 for MPEG-1, the
// band's largest codable value for MPEG-2) falls back to mid/side or plain
// stereo.
func intensityRange(left, right *[576]float32, lo, hi, pos, maxPos int, lsf, ms bool, isScale int) {
	var kl, kr float32
	switch {
	case lsf && pos != maxPos:
		kl, kr = 1, 1
		if pos&1 == 1 {
			kl = isLSF[isScale][min((pos+1)>>1, 31)]
		} else {
			kr = isLSF[isScale][min(pos>>1, 31)]
		}
	case !lsf && pos < 7:
		kl, kr = isRatioL[pos], isRatioR[pos]
	default:
		if ms {
			msRange(left, right, lo, hi)
		}
		return
	}
	for i := lo; i < hi; i++ {
		x := left[i]
		left[i], right[i] = x*kl, x*kr
	}
}

func msRange(left, right *[576]float32, lo, hi int) {
	const invSqrt2 = 0.70710678118654752
	for i := lo; i < hi; i++ {
		m, s := left[i], right[i]
		left[i] = (m + s) * invSqrt2
		right[i] = (m - s) * invSqrt2
	}
}

// reorderShort rearranges short-block lines from transmission order
// (band, window, line) to subband order: subband sb, window w, line k at
// sb*18 + w*6 + k, the layout imdctShortBlock reads.
func reorderShort(xr *[576]float32, tmp *[576]float32, ri int, mixed bool) {
	sfbS := &sfbShort[ri]
	sfb := 0
	if mixed {
		sfb = 3
	}
	base := 3 * sfbS[sfb]
	copy(tmp[base:], xr[base:])
	for ; sfb < 13; sfb++ {
		width := sfbS[sfb+1] - sfbS[sfb]
		for w := 0; w < 3; w++ {
			src := 3*sfbS[sfb] + w*width
			for j := 0; j < width; j++ {
				f := sfbS[sfb] + j
				xr[(f/6)*18+w*6+f%6] = tmp[src+j]
			}
		}
	}
}

// aliasReduce applies the butterflies between subbands 0..limit
// (ISO/IEC 11172-3 §2.4.3.4.10).
func aliasReduce(xr *[576]float32, limit int) {
	for sb := 1; sb < limit; sb++ {
		b := sb * 18
		for i := 0; i < 8; i++ {
			lo, hi := xr[b-1-i], xr[b+i]
			xr[b-1-i] = lo*aliasCS[i] - hi*aliasCA[i]
			xr[b+i] = hi*aliasCS[i] + lo*aliasCA[i]
		}
	}
}

// imdctLongBlock transforms 18 lines into 36 windowed samples, adds the first
// half to overlap (writing out) and keeps the second half as the new overlap.
func imdctLongBlock(in *[18]float32, win *[36]float32, overlap, out *[18]float32) {
	var x [36]float32
	for r := 0; r < 9; r++ {
		c, e := &imdctLong[r], &imdctLong[r+9]
		var a, b float32
		for k := 0; k < 18; k++ {
			v := in[k]
			a += c[k] * v
			b += e[k] * v
		}
		x[r] = a
		x[17-r] = -a
		x[18+r] = b
		x[35-r] = b
	}
	for i := 0; i < 18; i++ {
		out[i] = overlap[i] + x[i]*win[i]
		overlap[i] = x[18+i] * win[18+i]
	}
}

// imdctShortBlock handles the three 12-point transforms of a short block.
func imdctShortBlock(in *[18]float32, overlap, out *[18]float32) {
	var z [36]float32
	for w := 0; w < 3; w++ {
		x := in[w*6 : w*6+6]
		for i := 0; i < 12; i++ {
			c := &imdctShort[i]
			a := c[0]*x[0] + c[1]*x[1] + c[2]*x[2] + c[3]*x[3] + c[4]*x[4] + c[5]*x[5]
			z[6+6*w+i] += a * winShort[i]
		}
	}
	for i := 0; i < 18; i++ {
		out[i] = overlap[i] + z[i]
		overlap[i] = z[18+i]
	}
}
