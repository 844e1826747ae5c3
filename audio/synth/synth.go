// Package synth generates audio: tones, sweeps, noise and a music-like mix,
// and encodes them as WAV. The sandbox uses it for its demo track and tests
// use it (through audiotest) for their inputs, so no media is downloaded.
package synth

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// Signal is interleaved float32 PCM with its rate and channel count.
type Signal struct {
	Rate     int
	Channels int
	Samples  []float32
}

// Frames returns the number of samples per channel.
func (s Signal) Frames() int { return len(s.Samples) / s.Channels }

// Duration returns the length in seconds.
func (s Signal) Duration() float64 { return float64(s.Frames()) / float64(s.Rate) }

// Channel returns one channel as a new slice.
func (s Signal) Channel(c int) []float32 {
	out := make([]float32, s.Frames())
	for i := range out {
		out[i] = s.Samples[i*s.Channels+c]
	}
	return out
}

// Mono returns the average of all channels.
func (s Signal) Mono() []float32 {
	out := make([]float32, s.Frames())
	for i := range out {
		var sum float32
		for c := 0; c < s.Channels; c++ {
			sum += s.Samples[i*s.Channels+c]
		}
		out[i] = sum / float32(s.Channels)
	}
	return out
}

func gen(rate, channels int, seconds float64, f func(ch int, t float64, i int) float64) Signal {
	n := int(math.Round(seconds * float64(rate)))
	s := Signal{Rate: rate, Channels: channels, Samples: make([]float32, n*channels)}
	for i := 0; i < n; i++ {
		t := float64(i) / float64(rate)
		for c := 0; c < channels; c++ {
			s.Samples[i*channels+c] = float32(f(c, t, i))
		}
	}
	return s
}

// Tone is a sine of freq Hz at amplitude amp; the right channel, if any, is a fifth above.
func Tone(rate, channels int, seconds, freq, amp float64) Signal {
	return gen(rate, channels, seconds, func(ch int, t float64, _ int) float64 {
		f := freq
		if ch == 1 {
			f = freq * 1.5
		}
		return amp * math.Sin(2*math.Pi*f*t)
	})
}

// PureTone is a sine of freq Hz, identical in every channel.
func PureTone(rate, channels int, seconds, freq, amp float64) Signal {
	return gen(rate, channels, seconds, func(_ int, t float64, _ int) float64 {
		return amp * math.Sin(2*math.Pi*freq*t)
	})
}

// Sweep is a logarithmic sine sweep from f0 to f1 Hz.
func Sweep(rate, channels int, seconds, f0, f1, amp float64) Signal {
	k := math.Log(f1 / f0)
	return gen(rate, channels, seconds, func(_ int, t float64, _ int) float64 {
		phase := 2 * math.Pi * f0 * seconds / k * (math.Exp(t/seconds*k) - 1)
		return amp * math.Sin(phase)
	})
}

// Noise is white noise from a fixed seed, so runs are repeatable.
func Noise(rate, channels int, seconds, amp float64, seed uint64) Signal {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return gen(rate, channels, seconds, func(int, float64, int) float64 { return amp * (2*r.Float64() - 1) })
}

// Music is a music-like mix: a chord progression of harmonic notes with attack and
// decay envelopes, a bass line and a little noise percussion, different per channel.
func Music(rate, channels int, seconds float64) Signal {
	roots := []float64{220, 174.61, 261.63, 196}
	r := rand.New(rand.NewPCG(7, 11))
	beatNoise := make([]float64, rate/20)
	for i := range beatNoise {
		beatNoise[i] = 2*r.Float64() - 1
	}
	return gen(rate, channels, seconds, func(ch int, t float64, i int) float64 {
		bar := int(t / 2)
		root := roots[bar%len(roots)]
		inNote := math.Mod(t, 0.5)
		env := math.Exp(-3*inNote) * math.Min(1, inNote*200)
		v := 0.0
		for k, ratio := range []float64{1, 1.25, 1.5} {
			f := root * ratio
			if ch == 1 {
				f *= 1.002
			}
			for h := 1; h <= 4; h++ {
				v += env * 0.08 / float64(h) * math.Sin(2*math.Pi*f*float64(h)*t+float64(k))
			}
		}
		v += 0.15 * math.Sin(2*math.Pi*root/2*t) * math.Exp(-2*math.Mod(t, 1))
		beat := int(math.Mod(t, 0.25) * float64(rate))
		if beat < len(beatNoise) {
			v += 0.1 * beatNoise[beat] * math.Exp(-float64(beat)/float64(rate)*60)
		}
		return v
	})
}

// WAV encodes s as a 16-bit PCM WAV file.
func WAV(s Signal) []byte { return wav(s, 16) }

// WAV24 encodes s as a 24-bit PCM WAV file.
func WAV24(s Signal) []byte { return wav(s, 24) }

// WAVFloat encodes s as a 32-bit float WAV file.
func WAVFloat(s Signal) []byte { return wav(s, 32) }

func wav(s Signal, bits int) []byte {
	var b bytes.Buffer
	bps := bits / 8
	dataLen := len(s.Samples) * bps
	format := uint16(1)
	if bits == 32 {
		format = 3
	}
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))
	_ = binary.Write(&b, le, format)
	_ = binary.Write(&b, le, uint16(s.Channels))
	_ = binary.Write(&b, le, uint32(s.Rate))
	_ = binary.Write(&b, le, uint32(s.Rate*s.Channels*bps))
	_ = binary.Write(&b, le, uint16(s.Channels*bps))
	_ = binary.Write(&b, le, uint16(bits))
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(dataLen))
	for _, v := range s.Samples {
		x := math.Max(-1, math.Min(1, float64(v)))
		switch bits {
		case 16:
			_ = binary.Write(&b, le, int16(math.Round(x*32767)))
		case 24:
			i := int32(math.Round(x * 8388607))
			b.Write([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		case 32:
			_ = binary.Write(&b, le, float32(x))
		}
	}
	return b.Bytes()
}
