package flac

import (
	"fmt"
	"io"
)

// bisectSpan is the byte range below which seeking stops bisecting and
// decodes forward.
const bisectSpan = 64 << 10

// SeekSample positions the decoder so that the next sample ReadPCM returns is
// sample s (counted per channel from the start) and returns s. It needs an
// io.Seeker input. It narrows the byte range with the SEEKTABLE when there is
// one, bisects it by frame sync and frame/sample number, then decodes forward
// and discards up to s. Seeking at or past the end returns an error wrapping
// io.EOF.
func (d *Decoder) SeekSample(s int64) (int64, error) {
	if d.seeker == nil {
		return 0, errNotSeekable
	}
	if s < 0 {
		return 0, errNegativeSeek
	}
	if d.totalSamples > 0 && s >= d.totalSamples {
		return 0, fmt.Errorf("flac: seek to sample %d beyond the end (%d samples): %w", s, d.totalSamples, io.EOF)
	}
	end, err := d.seeker.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("flac: seek: %w", err)
	}
	skipped := d.skipped
	defer func() { d.skipped = skipped }()

	lo, hi := d.firstFrame, end
	useTable := len(d.seekTable) > 0
	if useTable {
		lo, hi = d.tableBounds(s, end)
	}
	pos, err := d.seekWithin(s, lo, hi)
	if err == errCorrupt && useTable {
		// The seek table pointed past the target: ignore it.
		pos, err = d.seekWithin(s, d.firstFrame, end)
	}
	if err == errCorrupt {
		err = fmt.Errorf("flac: seek to sample %d: no frame found", s)
	}
	return pos, err
}

// tableBounds returns the byte range the seek table brackets s with: the
// closest point at or before s and the closest one after it.
func (d *Decoder) tableBounds(s, end int64) (lo, hi int64) {
	lo, hi = d.firstFrame, end
	var loSample int64
	for _, p := range d.seekTable {
		if p.offset >= uint64(end-d.firstFrame) || p.sample >= 1<<62 {
			continue
		}
		off, sample := d.firstFrame+int64(p.offset), int64(p.sample)
		if sample <= s && sample >= loSample && off >= lo {
			lo, loSample = off, sample
		}
	}
	for _, p := range d.seekTable {
		if p.offset >= uint64(end-d.firstFrame) || p.sample >= 1<<62 {
			continue
		}
		off, sample := d.firstFrame+int64(p.offset), int64(p.sample)
		if sample > s && off > lo && off < hi {
			hi = off
		}
	}
	return lo, hi
}

// seekWithin finds sample s, whose frame starts in [lo, hi), lo being the
// start of a frame beginning at or before s.
func (d *Decoder) seekWithin(s, lo, hi int64) (int64, error) {
	for hi-lo > bisectSpan {
		mid := lo + (hi-lo)/2
		if err := d.moveTo(mid); err != nil {
			return 0, err
		}
		err := d.nextFrame()
		if err != nil && err != io.EOF {
			return 0, err
		}
		if err == io.EOF || d.frameStart >= hi || d.frameFirst > s {
			hi = mid
			continue
		}
		lo = d.frameStart
	}
	if err := d.moveTo(lo); err != nil {
		return 0, err
	}
	for first := true; ; first = false {
		err := d.nextFrame()
		d.silence, d.lost = 0, false
		if err == io.EOF {
			d.err = nil
			return 0, fmt.Errorf("flac: seek to sample %d beyond the end: %w", s, io.EOF)
		}
		if err != nil {
			return 0, err
		}
		if d.frameFirst > s {
			if first {
				return 0, errCorrupt
			}
			// Corrupt frames before the target: owe their silence.
			if gap := d.frameFirst - s; gap <= maxGapFill {
				d.silence = gap
				d.outPos = s
				return s, nil
			}
			d.outPos = d.frameFirst
			return d.frameFirst, nil
		}
		if s < d.frameFirst+int64(d.frameLen) {
			d.frameOff = int(s - d.frameFirst)
			d.outPos = s
			return s, nil
		}
	}
}

// moveTo repositions the input at byte offset off and forgets decoded state.
func (d *Decoder) moveTo(off int64) error {
	if _, err := d.seeker.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("flac: seek: %w", err)
	}
	d.br.reset(off)
	d.frameLen, d.frameOff, d.silence = 0, 0, 0
	d.lost = false
	d.err = nil
	return nil
}
