// Package effects holds the audio filters applied to decoded 48 kHz stereo
// frames before encoding: the Effect interface that the engine chains, and
// the volume and equalizer effects. Later filters (timescale, rotation,
// karaoke...) implement the same interface.
package effects

import (
	"errors"
	"fmt"
	"math"
)

// Effect processes one frame of interleaved stereo float PCM at 48 kHz in place.
// Implementations are used by one goroutine at a time; parameter setters may be
// called from other goroutines and take effect at the next frame.
type Effect interface {
	// Process filters buf (interleaved L,R) in place.
	Process(buf []float32)
	// Active reports whether Process would change anything; when no effect in a
	// chain is active, the engine may pass Opus packets through untouched.
	Active() bool
	// Reset forgets filter history, as after a seek.
	Reset()
}

// Chain applies effects in order.
type Chain []Effect

// Process runs every active effect on buf.
func (c Chain) Process(buf []float32) {
	for _, e := range c {
		if e.Active() {
			e.Process(buf)
		}
	}
}

// Active reports whether any effect in the chain is active.
func (c Chain) Active() bool {
	for _, e := range c {
		if e.Active() {
			return true
		}
	}
	return false
}

// Reset resets every effect.
func (c Chain) Reset() {
	for _, e := range c {
		e.Reset()
	}
}

var errVolume = errors.New("effects: volume must be between 0 and 1000 percent")

// MaxVolume is the highest volume in percent.
const MaxVolume = 1000

// ParseVolume validates a volume in percent.
func ParseVolume(pct int) error {
	if pct < 0 || pct > MaxVolume {
		return errVolume
	}
	return nil
}

// Bands are the equalizer's centre frequencies in Hz: Lavalink's 15 bands.
var Bands = [15]float64{25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000}

// Equalizer gain limits per band, as Lavalink defines them: −0.25 mutes the band,
// 0 leaves it unchanged, +0.25 doubles it, +1.0 is five times.
const (
	MinGain = -0.25
	MaxGain = 1.0
)

// ValidateGains checks every band gain is within MinGain…MaxGain.
func ValidateGains(g [15]float64) error {
	for i, v := range g {
		if math.IsNaN(v) || v < MinGain || v > MaxGain {
			return fmt.Errorf("effects: band %d (%g Hz) gain %g outside %g…%g", i, Bands[i], v, MinGain, MaxGain)
		}
	}
	return nil
}
