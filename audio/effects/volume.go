package effects

import "sync/atomic"

// Volume scales the signal by a percentage (100 = unchanged, up to 1000). A change
// is ramped linearly across one frame so it makes no click; gains above 100 %
// are limited softly so peaks do not wrap or clip harshly.
type Volume struct {
	target  atomic.Int32 // percent
	current float32      // gain applied at the end of the last frame
}

// NewVolume returns a volume effect at pct percent.
func NewVolume(pct int) *Volume {
	v := &Volume{}
	v.target.Store(int32(pct))
	v.current = float32(pct) / 100
	return v
}

// Set changes the volume; it must pass ParseVolume.
func (v *Volume) Set(pct int) error {
	if err := ParseVolume(pct); err != nil {
		return err
	}
	v.target.Store(int32(pct))
	return nil
}

// Percent returns the target volume.
func (v *Volume) Percent() int { return int(v.target.Load()) }

// Active reports whether the volume differs from 100 % or is still ramping.
func (v *Volume) Active() bool { return v.target.Load() != 100 || v.current != 1 }

// Reset keeps the gain in effect: a volume has no filter history, and a change
// pending when the engine repositions (a Track re-seeks to apply a change at
// once) must still be ramped, or the first frame after it would click.
func (v *Volume) Reset() {}

// Process applies the gain, ramping from the previous gain to the target over the frame.
func (v *Volume) Process(buf []float32) {
	target := float32(v.target.Load()) / 100
	frames := len(buf) / 2
	if frames == 0 {
		return
	}
	g := v.current
	step := (target - g) / float32(frames)
	loud := target > 1 || g > 1
	for i := 0; i < frames; i++ {
		g += step
		l, r := buf[2*i]*g, buf[2*i+1]*g
		if loud {
			l, r = limit(l), limit(r)
		}
		buf[2*i], buf[2*i+1] = l, r
	}
	v.current = target
}

// limit is a soft knee above 0.9 that approaches ±1 without exceeding it.
func limit(x float32) float32 {
	const knee = 0.9
	switch {
	case x > knee:
		return knee + (1-knee)*softSat((x-knee)/(1-knee))
	case x < -knee:
		return -knee - (1-knee)*softSat((-x-knee)/(1-knee))
	}
	return x
}

// softSat maps [0,∞) onto [0,1) smoothly: x/(1+x).
func softSat(x float32) float32 { return x / (1 + x) }
