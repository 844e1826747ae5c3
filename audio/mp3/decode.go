package mp3

import (
	"fmt"
	"io"
)

// ReadPCM fills dst with interleaved float32 samples in [-1, 1] and returns
// how many it wrote (a multiple of Channels()). At the end of the stream it
// returns 0, io.EOF. Corrupt frames are skipped; a truncated stream ends
// cleanly.
func (d *Decoder) ReadPCM(dst []float32) (int, error) {
	nch := d.channels
	want := len(dst) / nch * nch
	n := 0
	for n < want {
		if d.end >= 0 && d.pos >= d.end {
			break
		}
		if d.pcmPos >= d.pcmLen {
			if err := d.decodeNext(); err != nil {
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			continue
		}
		k := min(want-n, d.pcmLen-d.pcmPos)
		if d.end >= 0 {
			k = min(k, int(d.end-d.pos)*nch)
		}
		copy(dst[n:n+k], d.pcm[d.pcmPos:d.pcmPos+k])
		d.pcmPos += k
		n += k
		d.pos += int64(k / nch)
	}
	if n == 0 && want > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// decodeNext decodes the next frame into pcm, applying the start trim.
func (d *Decoder) decodeNext() error {
	f, h, err := d.nextFrame()
	if err != nil {
		return err
	}
	d.decodeFrame(f, h)
	d.frameIndex++
	d.pcmPos = 0
	d.pcmLen = d.spf * d.channels
	if d.skip > 0 {
		k := min(d.skip, int64(d.spf))
		d.skip -= k
		d.pcmPos = int(k) * d.channels
	}
	return nil
}

// nextFrame returns the next Layer III frame of the stream, skipping
// garbage (and resetting the bit reservoir when it does). The returned slice
// is valid until the next read.
func (d *Decoder) nextFrame() ([]byte, header, error) {
	for {
		if !d.in.fill(4) {
			return nil, header{}, d.endErr()
		}
		b := d.in.avail()
		h, ok := parseHeader(b)
		if ok && h.compatible(d.first) && h.bitrateIdx != 0 {
			size := h.frameSize()
			if !d.in.fill(size) {
				return nil, header{}, d.endErr() // truncated last frame
			}
			trusted := !d.needSync
			if !trusted {
				// After lost sync a frame counts only if the next one
				// confirms it: tags and junk at the end must not play as
				// noise, at the cost of a lone real frame at the very end.
				if d.in.fill(size + 4) {
					nh, ok2 := parseHeader(d.in.avail()[size:])
					trusted = ok2 && h.compatible(nh)
				}
			}
			if trusted {
				d.needSync = false
				if d.exactIndex && d.frameIndex%d.cpStride == 0 {
					d.addCheckpoint(d.frameIndex, d.in.off)
				}
				f := d.in.avail()[:size]
				d.in.consume(size)
				return f, h, nil
			}
		}
		if !d.needSync {
			d.needSync = true
			d.resLen = 0 // lost sync: the reservoir no longer lines up
		}
		d.in.consume(1)
	}
}

func (d *Decoder) endErr() error {
	if d.in.err != nil {
		return fmt.Errorf("mp3: reading: %w", d.in.err)
	}
	return io.EOF
}

// addCheckpoint remembers where frame index starts, for seeking.
func (d *Decoder) addCheckpoint(index, off int64) {
	i := index / d.cpStride
	if index%d.cpStride != 0 {
		return
	}
	if i >= checkpointCount {
		// Halve the resolution and keep going.
		for j := int64(0); j < checkpointCount/2; j++ {
			d.checkpoints[j] = d.checkpoints[2*j]
		}
		d.nCheckpoint = min(d.nCheckpoint, checkpointCount) / 2
		d.cpStride *= 2
		d.addCheckpoint(index, off)
		return
	}
	if i == d.nCheckpoint {
		d.checkpoints[i] = off
		d.nCheckpoint++
	}
}

// decodeFrame decodes one frame into d.pcm (spf samples per channel,
// interleaved for d.channels). Damaged frames decode as silence so the
// timeline stays intact.
func (d *Decoder) decodeFrame(f []byte, h header) {
	nch := h.channels()
	off := 4
	if h.crc {
		off += 2
	}
	sis := h.sideInfoSize()
	ok := len(f) >= off+sis
	if ok {
		copy(d.siBuf[:], f[off:off+sis])
		clear(d.siBuf[sis:])
		br := bitReader{buf: d.siBuf[:], end: sis * 8}
		ok = d.si.parse(&br, h) == nil
	}
	if !ok && len(f) < off+sis {
		d.resLen = 0
		d.synthesizeSilence(h)
		return
	}
	if h.crc && uint16(f[4])<<8|uint16(f[5]) != crc16(f[:4], f[off:off+sis]) {
		ok = false // damaged side information: keep the main data, mute the frame
	}
	main := f[off+sis:]
	if d.resLen+len(main) > resCap {
		keep := min(d.resLen, 512)
		copy(d.res[:], d.res[d.resLen-keep:d.resLen])
		d.resLen = keep
	}
	if !ok {
		d.resLen += copy(d.res[d.resLen:resCap], main)
		d.synthesizeSilence(h)
		return
	}
	canDecode := d.si.mainDataBegin <= d.resLen
	start := d.resLen - d.si.mainDataBegin
	d.resLen += copy(d.res[d.resLen:resCap], main)
	clear(d.res[d.resLen:])
	dataEnd := d.resLen * 8
	br := bitReader{buf: d.res[:], pos: start * 8, end: dataEnd}
	ri := h.rateIndex()
	for gr := 0; gr < d.si.granules; gr++ {
		var nz [2]int
		for ch := 0; ch < nch; ch++ {
			g := &d.si.gr[gr][ch]
			end := br.pos + g.part23Len
			if !canDecode || end > dataEnd {
				clear(d.xr[ch][:])
				br.pos = end
				continue
			}
			sc := &d.scale[ch]
			if h.version == mpeg1 {
				readScalefacMPEG1(&br, g, sc, &d.si.scfsi[ch], gr)
			} else {
				readScalefacLSF(&br, g, sc, ch == 1 && h.mode == modeJointStereo && h.modeExt&1 != 0)
			}
			n := 0
			if br.pos <= end {
				n = decodeHuffman(&br, g, h, &d.is, end)
			}
			requantize(&d.is, n, g, sc, h, &d.xr[ch])
			nz[ch] = n
			br.pos = end
		}
		if nch == 2 && h.mode == modeJointStereo {
			d.stereo(h, &d.si.gr[gr][1], &d.scale[1], &nz)
		}
		for ch := 0; ch < nch && ch < d.channels; ch++ {
			d.hybrid(ch, &d.si.gr[gr][ch], ri)
			d.synthesize(ch, gr)
		}
		if nch == 1 && d.channels == 2 {
			d.duplicateLeft(gr)
		}
	}
}

// synthesizeSilence runs zero spectra through the filterbanks so a damaged
// frame fades out the previous one and keeps its duration.
func (d *Decoder) synthesizeSilence(h header) {
	var g granule
	granules := 2
	if h.version != mpeg1 {
		granules = 1
	}
	for gr := 0; gr < granules; gr++ {
		for ch := 0; ch < d.channels; ch++ {
			clear(d.xr[ch][:])
			d.hybrid(ch, &g, h.rateIndex())
			d.synthesize(ch, gr)
		}
	}
}

func (d *Decoder) duplicateLeft(gr int) {
	p := d.pcm[gr*576*2 : (gr+1)*576*2]
	for i := 0; i < len(p); i += 2 {
		p[i+1] = p[i]
	}
}

// hybrid runs reordering, alias reduction, IMDCT, overlap-add and frequency
// inversion for one channel, leaving subband samples in d.hyb (sb*18 + t).
func (d *Decoder) hybrid(ch int, g *granule, ri int) {
	xr := &d.xr[ch]
	short := g.shortBlocks()
	if short {
		reorderShort(xr, &d.tmp, ri, g.mixed)
	}
	limit := (lastNonZero(xr[:]) + 17) / 18
	if !short {
		aliasReduce(xr, min(limit+1, 32))
		limit = min(limit+1, 32)
	} else if g.mixed && limit > 1 {
		aliasReduce(xr, 2)
	}
	bt := 0
	if g.windowSwitching {
		bt = g.blockType
	}
	ov := &d.overlap[ch]
	for sb := 0; sb < limit; sb++ {
		in := (*[18]float32)(xr[sb*18 : sb*18+18])
		out := (*[18]float32)(d.hyb[sb*18 : sb*18+18])
		switch {
		case short && !(g.mixed && sb < 2):
			imdctShortBlock(in, &ov[sb], out)
		case short:
			imdctLongBlock(in, &winLong[0], &ov[sb], out)
		default:
			imdctLongBlock(in, &winLong[bt], &ov[sb], out)
		}
	}
	// Above limit the spectrum is zero: only the overlap remains.
	top := max(limit, d.ovLimit[ch])
	for sb := limit; sb < top; sb++ {
		copy(d.hyb[sb*18:sb*18+18], ov[sb][:])
		ov[sb] = [18]float32{}
	}
	clear(d.hyb[top*18:])
	d.ovLimit[ch] = limit
	for sb := 1; sb < top; sb += 2 {
		o := d.hyb[sb*18 : sb*18+18]
		for t := 1; t < 18; t += 2 {
			o[t] = -o[t]
		}
	}
}

// synthesize runs the polyphase filterbank over the 18 time slots of d.hyb.
func (d *Decoder) synthesize(ch, gr int) {
	s := &d.synth[ch]
	nch := d.channels
	for t := 0; t < 18; t++ {
		for sb := 0; sb < 32; sb++ {
			d.slotIn[sb] = d.hyb[sb*18+t]
		}
		base := (gr*576+t*32)*nch + ch
		s.slot(&d.slotIn, d.pcm[base:], nch)
	}
}
