package mp3

import "math"

// SeekSample moves so that the next ReadPCM starts at sample s (per
// channel) and returns the position it actually reached. It needs a
// seekable source. It finds a frame a few frames before the target (via the
// Xing TOC, the CBR frame size, or a scan of frame headers for VBR without a
// TOC), decodes from there to refill the bit reservoir and the filterbanks,
// and discards samples up to s.
func (d *Decoder) SeekSample(s int64) (int64, error) {
	if d.in.seeker == nil {
		return d.pos, errNotSeekable
	}
	if s < 0 {
		return d.pos, errNegative
	}
	if d.end >= 0 && s > d.end {
		s = d.end
	}
	spf := int64(d.spf)
	raw := s + d.startSkip
	fi := raw / spf
	startFrame := max(fi-d.primerFrames(), 0)
	index, err := d.locateFrame(startFrame)
	if err != nil {
		return d.pos, err
	}
	d.resetState()
	d.frameIndex = index
	pos := s
	if skip := raw - index*spf; skip >= 0 {
		d.skip = skip
	} else {
		d.skip = 0
		pos = index*spf - d.startSkip
	}
	d.pos = pos
	return pos, nil
}

// primerFrames is how many frames before the target are decoded and thrown
// away: enough to cover the deepest main_data_begin, plus one for the
// filterbank overlap.
func (d *Decoder) primerFrames() int64 {
	maxBegin := 511.0
	if d.first.version != mpeg1 {
		maxBegin = 255
	}
	// The smallest frames (lowest bitrate) carry the least main data.
	h := d.first
	h.bitrateIdx, h.padding = 1, false
	payload := float64(h.frameSize() - 4 - h.sideInfoSize())
	if payload < 16 {
		payload = 16
	}
	return min(1+int64(math.Ceil(maxBegin/payload)), 12)
}

func (d *Decoder) resetState() {
	d.resLen = 0
	d.overlap = [2][32][18]float32{}
	d.ovLimit = [2]int{}
	d.synth[0].reset()
	d.synth[1].reset()
	d.pcmPos, d.pcmLen = 0, 0
	d.needSync = false
}

// locateFrame positions the input at a frame header at or near frame index
// target and returns that frame's index.
func (d *Decoder) locateFrame(target int64) (int64, error) {
	switch {
	case target/d.cpStride < d.nCheckpoint:
		// Already indexed (decoded or scanned before): exact, and the scan
		// from the checkpoint covers fewer than cpStride frames.
		d.exactIndex = true
		return d.scanTo(target)
	case d.cbr:
		d.exactIndex = true
		off := d.firstAudio + int64(float64(target)*d.avgFrame)
		if err := d.in.seek(off); err != nil {
			return 0, err
		}
		d.syncHere(64 << 10)
		return int64(math.Round(float64(d.in.off-d.firstAudio) / d.avgFrame)), nil
	case d.hasTOC && d.xingFrames > 0:
		pct := float64(target) / float64(d.xingFrames) * 100
		pct = math.Max(0, math.Min(pct, 99.999))
		i := int(pct)
		a := float64(d.toc[i])
		b := 256.0
		if i < 99 {
			b = float64(d.toc[i+1])
		}
		frac := (a + (b-a)*(pct-float64(i))) / 256
		off := max(d.firstFrame+int64(frac*float64(d.xingBytes)), d.firstAudio)
		if err := d.in.seek(off); err != nil {
			return 0, err
		}
		d.syncHere(64 << 10)
		d.exactIndex = false // the TOC only says roughly which frame this is
		return d.tocIndex(d.in.off), nil
	}
	d.exactIndex = true
	return d.scanTo(target)
}

// tocIndex inverts the TOC: the frame index at byte offset off.
func (d *Decoder) tocIndex(off int64) int64 {
	if off <= d.firstAudio {
		return 0
	}
	x := float64(off-d.firstFrame) / float64(d.xingBytes) * 256
	pct := 100.0
	for i := 0; i < 100; i++ {
		a := float64(d.toc[i])
		b := 256.0
		if i < 99 {
			b = float64(d.toc[i+1])
		}
		if x < b {
			if b > a {
				pct = float64(i) + math.Max(0, x-a)/(b-a)
			} else {
				pct = float64(i)
			}
			break
		}
	}
	return int64(math.Round(pct / 100 * float64(d.xingFrames)))
}

// scanTo walks frame headers (without decoding) from the nearest known
// checkpoint to frame target; exact for VBR streams without a TOC.
func (d *Decoder) scanTo(target int64) (int64, error) {
	c := min(target/d.cpStride, d.nCheckpoint-1)
	if c < 0 {
		c = 0
	}
	start := d.firstAudio
	if d.nCheckpoint > 0 {
		start = d.checkpoints[c]
	}
	if err := d.in.seek(start); err != nil {
		return 0, err
	}
	idx := c * d.cpStride
	for idx < target {
		h, ok := d.syncHere(64 << 10)
		if !ok {
			break
		}
		if idx%d.cpStride == 0 {
			d.addCheckpoint(idx, d.in.off)
		}
		d.in.consume(h.frameSize())
		idx++
	}
	return idx, nil
}
