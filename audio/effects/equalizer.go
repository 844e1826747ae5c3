package effects

import (
	"math"
	"sync"
)

// Equalizer is a 15-band graphic equalizer on Lavalink's bands: one peaking
// biquad per band (RBJ audio EQ cookbook) in series, at 48 kHz. A band gain g
// scales the band's amplitude by 1+4g (so −0.25 mutes it, capped at −40 dB).
type Equalizer struct {
	mu      sync.Mutex
	gains   [15]float64
	dirty   bool
	active  bool // the gains set are not flat
	shaping bool // the coefficients in use are not flat
	coef    [15]biquad
	state   [15][2]biquadState
	pending [15]biquad
}

type biquad struct{ b0, b1, b2, a1, a2 float64 }

type biquadState struct{ x1, x2, y1, y2 float64 }

// eqQ is each band's quality factor: bands are about 2/3 octave apart.
const eqQ = 1.4

// NewEqualizer returns a flat equalizer.
func NewEqualizer() *Equalizer { return &Equalizer{} }

// Set changes the band gains; they must pass ValidateGains.
func (e *Equalizer) Set(g [15]float64) error {
	if err := ValidateGains(g); err != nil {
		return err
	}
	var next [15]biquad
	active := false
	for i, v := range g {
		next[i] = peaking(Bands[i], v)
		if v != 0 {
			active = true
		}
	}
	e.mu.Lock()
	e.gains, e.pending, e.dirty, e.active = g, next, true, active
	e.mu.Unlock()
	return nil
}

// Gains returns the current band gains.
func (e *Equalizer) Gains() [15]float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gains
}

// Active reports whether any band gain is non-zero.
func (e *Equalizer) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active || (e.dirty && e.shaping)
}

// Reset clears the filters' history.
func (e *Equalizer) Reset() { e.state = [15][2]biquadState{} }

// Process filters buf through every band with a non-unity response.
func (e *Equalizer) Process(buf []float32) {
	e.mu.Lock()
	if e.dirty {
		e.coef, e.dirty, e.shaping = e.pending, false, e.active
	}
	e.mu.Unlock()
	for b := range e.coef {
		c := e.coef[b]
		if c == (biquad{b0: 1}) {
			continue
		}
		sl, sr := &e.state[b][0], &e.state[b][1]
		for i := 0; i+1 < len(buf); i += 2 {
			buf[i] = c.run(sl, buf[i])
			buf[i+1] = c.run(sr, buf[i+1])
		}
	}
}

func (c biquad) run(s *biquadState, xf float32) float32 {
	x := float64(xf)
	y := c.b0*x + c.b1*s.x1 + c.b2*s.x2 - c.a1*s.y1 - c.a2*s.y2
	s.x2, s.x1 = s.x1, x
	s.y2, s.y1 = s.y1, y
	return float32(y)
}

// peaking designs a peaking EQ biquad at f Hz for Lavalink gain g.
func peaking(f, g float64) biquad {
	if g == 0 {
		return biquad{b0: 1}
	}
	lin := math.Max(1+4*g, 0.01)
	a := math.Sqrt(lin) // RBJ's A = 10^(dBgain/40) = sqrt(linear amplitude)
	w0 := 2 * math.Pi * f / 48000
	alpha := math.Sin(w0) / (2 * eqQ)
	cos := math.Cos(w0)
	a0 := 1 + alpha/a
	return biquad{
		b0: (1 + alpha*a) / a0,
		b1: -2 * cos / a0,
		b2: (1 - alpha*a) / a0,
		a1: -2 * cos / a0,
		a2: (1 - alpha/a) / a0,
	}
}
