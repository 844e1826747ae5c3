// Package resample converts interleaved float PCM between sample rates with a
// band-limited polyphase filter: a Kaiser-windowed sinc, one filter phase per
// output position within the rational ratio out/in, designed once per ratio and
// shared by every resampler that uses it. The filter is centred on each output
// instant, so output sample n lines up with input time n·in/out: no delay to
// compensate, and Flush returns the tail so the output length is exact.
package resample

import (
	"errors"
	"math"
	"sync"
)

var (
	errRate     = errors.New("resample: sample rates must be between 1000 and 384000 Hz")
	errChannels = errors.New("resample: channels must be 1 or 2")
	errRatio    = errors.New("resample: rate ratio too complex (more than 1024 filter phases)")
)

// Quality of the filter design, fixed for the whole package.
const (
	halfZeros   = 24   // zero crossings on each side of the sinc at the narrower band
	kaiserBeta  = 9.0  // ≈ 90 dB stop-band attenuation
	cutoffRatio = 0.93 // pass band edge as a fraction of the lower Nyquist frequency
	maxPhases   = 1024
)

// filter is a designed polyphase bank for one ratio; immutable once built.
type filter struct {
	up, down int       // output/input ratio up/down, reduced
	taps     int       // taps per phase
	coef     []float32 // phase-major: coef[p*taps+k]
}

var (
	filtersMu sync.Mutex
	filters   = map[[2]int]*filter{}
)

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func design(in, out int) (*filter, error) {
	g := gcd(in, out)
	up, down := out/g, in/g
	if up > maxPhases {
		return nil, errRatio
	}
	filtersMu.Lock()
	defer filtersMu.Unlock()
	if f, ok := filters[[2]int{up, down}]; ok {
		return f, nil
	}
	// Cutoff in cycles per input sample; for downsampling it narrows to the output band.
	scale := math.Min(1, float64(up)/float64(down))
	fc := 0.5 * cutoffRatio * scale
	half := int(math.Ceil(float64(halfZeros) / scale))
	taps := 2 * half
	f := &filter{up: up, down: down, taps: taps, coef: make([]float32, up*taps)}
	i0 := besselI0(kaiserBeta)
	for p := 0; p < up; p++ {
		frac := float64(p) / float64(up) // output instant lies frac input samples after the base sample
		var sum float64
		row := f.coef[p*taps : (p+1)*taps]
		for k := 0; k < taps; k++ {
			// Tap k multiplies input sample base-half+1+k; its distance from the output instant:
			x := float64(k-half+1) - frac
			w := 0.0
			if r := x / float64(half); r > -1 && r < 1 {
				w = besselI0(kaiserBeta*math.Sqrt(1-r*r)) / i0
			}
			v := 2 * fc * sinc(2*fc*x) * w
			row[k] = float32(v)
			sum += v
		}
		// Unity gain at DC for every phase, so slow signals keep their level exactly.
		for k := range row {
			row[k] = float32(float64(row[k]) / sum)
		}
	}
	filters[[2]int{up, down}] = f
	return f, nil
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-12 {
			break
		}
	}
	return sum
}

// Resampler converts one stream. It is not safe for concurrent use.
type Resampler struct {
	f        *filter
	channels int
	// hist holds input frames not yet fully used, interleaved; hist frame 0 is input frame base.
	hist  []float32
	base  int64 // input frame index of hist[0]
	next  int64 // next output frame index
	half  int
	flush bool
}

// New returns a resampler from inRate to outRate for 1 or 2 interleaved channels.
func New(inRate, outRate, channels int) (*Resampler, error) {
	if inRate < 1000 || inRate > 384000 || outRate < 1000 || outRate > 384000 {
		return nil, errRate
	}
	if channels != 1 && channels != 2 {
		return nil, errChannels
	}
	f, err := design(inRate, outRate)
	if err != nil {
		return nil, err
	}
	r := &Resampler{f: f, channels: channels, half: f.taps / 2}
	r.Reset()
	return r, nil
}

// Reset forgets all input, as for a new stream.
func (r *Resampler) Reset() {
	if r.hist == nil {
		r.hist = make([]float32, 0, (4096+2*r.f.taps)*r.channels)
	}
	// Pretend there were half-1 zero frames before the stream so the first
	// output sample is centred on input frame 0.
	r.hist = r.hist[:0]
	for i := 0; i < (r.half-1)*r.channels; i++ {
		r.hist = append(r.hist, 0)
	}
	r.base = -int64(r.half - 1)
	r.next = 0
	r.flush = false
}

// Ratio returns the reduced output/input ratio.
func (r *Resampler) Ratio() (up, down int) { return r.f.up, r.f.down }

// MaxOut returns the most output samples (interleaved) that Process can write for
// inSamples interleaved input samples.
func (r *Resampler) MaxOut(inSamples int) int {
	frames := (int64(inSamples/r.channels)+int64(r.f.taps))*int64(r.f.up)/int64(r.f.down) + 2
	return int(frames) * r.channels
}

// Process consumes in (interleaved) and writes the output it can complete into
// dst, returning the number of interleaved samples written. dst should hold
// MaxOut(len(in)) samples; output that does not fit stays pending for the next call.
func (r *Resampler) Process(dst, in []float32) int {
	r.hist = r.append(r.hist, in)
	return r.produce(dst)
}

// Flush writes the remaining output of a finished stream (the filter's tail) into
// dst and returns the number of interleaved samples written; totalIn is the number of
// input frames the stream had, so the output has exactly ceil(totalIn·out/in) frames.
func (r *Resampler) Flush(dst []float32, totalIn int64) int {
	if !r.flush {
		r.flush = true
		for i := 0; i < r.half*r.channels; i++ {
			r.hist = append(r.hist, 0)
		}
	}
	want := (totalIn*int64(r.f.up) + int64(r.f.down) - 1) / int64(r.f.down)
	return r.run(dst, want)
}

func (r *Resampler) append(hist, in []float32) []float32 {
	if len(hist)+len(in) > cap(hist) {
		// Drop the consumed prefix first; grow only if still short (first calls).
		r.compact()
		hist = r.hist
		if len(hist)+len(in) > cap(hist) {
			nh := make([]float32, len(hist), 2*(len(hist)+len(in)))
			copy(nh, hist)
			hist = nh
		}
	}
	return append(hist, in...)
}

// compact drops input frames no future output needs.
func (r *Resampler) compact() {
	// The next output's base frame:
	baseFrame := r.next * int64(r.f.down) / int64(r.f.up)
	first := baseFrame - int64(r.half-1)
	drop := first - r.base
	if drop <= 0 {
		return
	}
	d := int(drop) * r.channels
	if d > len(r.hist) {
		d = len(r.hist)
	}
	n := copy(r.hist, r.hist[d:])
	r.hist = r.hist[:n]
	r.base += int64(d / r.channels)
}

func (r *Resampler) produce(dst []float32) int {
	n := r.run(dst, math.MaxInt64)
	r.compact()
	return n
}

// run writes output frames r.next, r.next+1, ... (before frame limit) while their
// input windows are available and dst has room, and returns the samples written.
// The output instant's base frame and filter phase advance incrementally, by
// down/up input frames per output frame, instead of by division per sample.
func (r *Resampler) run(dst []float32, limit int64) int {
	f := r.f
	up, taps, ch := f.up, f.taps, r.channels
	step, rem := int64(f.down/up), f.down%up
	pos := r.next * int64(f.down)
	phase := int(pos % int64(up))
	// first is the hist frame index of the first tap of output frame r.next.
	first := pos/int64(up) - int64(r.half-1) - r.base
	histFrames := int64(len(r.hist) / ch)
	coef := f.coef
	n := 0
	for n+ch <= len(dst) && r.next < limit {
		if first < 0 || first+int64(taps) > histFrames {
			break
		}
		c := coef[phase*taps : phase*taps+taps]
		if ch == 2 {
			dst[n], dst[n+1] = dotStereo(c, r.hist[int(first)*2:])
		} else {
			dst[n] = dotMono(c, r.hist[int(first):])
		}
		n += ch
		r.next++
		first += step
		if phase += rem; phase >= up {
			phase -= up
			first++
		}
	}
	return n
}

// dotStereoGo filters interleaved stereo win with c: len(win) ≥ 2·len(c).
// Four taps per iteration into eight accumulators keep the adds independent.
// dotStereo is this, or a SIMD version of it where there is one.
func dotStereoGo(c, win []float32) (float32, float32) {
	win = win[:2*len(c)]
	var l0, r0, l1, r1, l2, r2, l3, r3 float32
	k := 0
	for ; k+3 < len(c); k += 4 {
		cc := c[k : k+4 : k+4]
		w := win[2*k : 2*k+8 : 2*k+8]
		l0 += cc[0] * w[0]
		r0 += cc[0] * w[1]
		l1 += cc[1] * w[2]
		r1 += cc[1] * w[3]
		l2 += cc[2] * w[4]
		r2 += cc[2] * w[5]
		l3 += cc[3] * w[6]
		r3 += cc[3] * w[7]
	}
	for ; k < len(c); k++ {
		l0 += c[k] * win[2*k]
		r0 += c[k] * win[2*k+1]
	}
	return (l0 + l1) + (l2 + l3), (r0 + r1) + (r2 + r3)
}

// dotMonoGo filters mono win with c: len(win) ≥ len(c).
// dotMono is this, or a SIMD version of it where there is one.
func dotMonoGo(c, win []float32) float32 {
	win = win[:len(c)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+3 < len(c); k += 4 {
		cc := c[k : k+4 : k+4]
		w := win[k : k+4 : k+4]
		s0 += cc[0] * w[0]
		s1 += cc[1] * w[1]
		s2 += cc[2] * w[2]
		s3 += cc[3] * w[3]
	}
	for ; k < len(c); k++ {
		s0 += c[k] * win[k]
	}
	return (s0 + s1) + (s2 + s3)
}
