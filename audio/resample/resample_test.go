package resample

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

func sine(rate int, seconds, freq float64, channels int) []float32 {
	n := int(seconds * float64(rate))
	out := make([]float32, n*channels)
	for i := 0; i < n; i++ {
		v := float32(0.5 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		for c := 0; c < channels; c++ {
			out[i*channels+c] = v
		}
	}
	return out
}

// run resamples in in blocks of the given size (frames) and flushes.
func run(t testing.TB, r *Resampler, in []float32, block int) []float32 {
	var out []float32
	buf := make([]float32, r.MaxOut(block*r.channels))
	for off := 0; off < len(in); off += block * r.channels {
		end := min(off+block*r.channels, len(in))
		n := r.Process(buf, in[off:end])
		out = append(out, buf[:n]...)
	}
	for {
		n := r.Flush(buf, int64(len(in)/r.channels))
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	return out
}

// snr compares out (rate 48 kHz) to the ideal sine, skipping the edges.
func snr(out []float32, channels int, freq float64, rate int) float64 {
	var sig, noise float64
	frames := len(out) / channels
	for i := 200; i < frames-200; i++ {
		ideal := 0.5 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
		for c := 0; c < channels; c++ {
			d := float64(out[i*channels+c]) - ideal
			sig += ideal * ideal
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}

func TestSNR1kHz44to48(t *testing.T) {
	r, err := New(44100, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	in := sine(44100, 2, 1000, 2)
	out := run(t, r, in, 441)
	if got := snr(out, 2, 1000, 48000); got < 80 {
		t.Fatalf("SNR %.1f dB, want ≥ 80", got)
	} else {
		t.Logf("1 kHz 44.1→48 kHz SNR %.1f dB", got)
	}
}

func TestAllRates(t *testing.T) {
	for _, rate := range []int{8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000} {
		for _, ch := range []int{1, 2} {
			r, err := New(rate, 48000, ch)
			if err != nil {
				t.Fatal(err)
			}
			in := sine(rate, 1, 440, ch)
			for _, block := range []int{1, 333, 4096} {
				r.Reset()
				out := run(t, r, in, block)
				wantFrames := (len(in)/ch*48000 + rate - 1) / rate
				if len(out)/ch != wantFrames {
					t.Fatalf("rate %d ch %d block %d: %d frames out, want %d", rate, ch, block, len(out)/ch, wantFrames)
				}
				if s := snr(out, ch, 440, 48000); s < 70 {
					t.Errorf("rate %d ch %d block %d: SNR %.1f dB", rate, ch, block, s)
				}
			}
		}
	}
}

// TestStopBand: a tone above the output Nyquist frequency must vanish when downsampling.
func TestStopBand(t *testing.T) {
	r, _ := New(96000, 48000, 1)
	in := sine(96000, 1, 30000, 1)
	out := run(t, r, in, 960)
	var e float64
	for _, v := range out[500 : len(out)-500] {
		e += float64(v) * float64(v)
	}
	rms := math.Sqrt(e / float64(len(out)-1000))
	if db := 20 * math.Log10(rms/(0.5/math.Sqrt2)); db > -70 {
		t.Fatalf("30 kHz tone leaks at %.1f dB", db)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range [][3]int{{0, 48000, 2}, {44100, 48000, 3}, {44100, 1e6, 2}, {44101, 48000, 2}} {
		if _, err := New(c[0], c[1], c[2]); err == nil {
			t.Errorf("New%v accepted", c)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	r, _ := New(44100, 48000, 2)
	in := sine(44100, 0.02, 1000, 2)
	buf := make([]float32, r.MaxOut(len(in)))
	r.Process(buf, in) // warm up
	if a := testing.AllocsPerRun(100, func() { r.Process(buf, in) }); a != 0 {
		t.Fatalf("%v allocs per Process", a)
	}
}

func BenchmarkResample44to48(b *testing.B) {
	r, _ := New(44100, 48000, 2)
	in := sine(44100, 0.02, 1000, 2) // one 20 ms block
	buf := make([]float32, r.MaxOut(len(in)))
	b.ReportAllocs()
	start := testenv.CPUTime()
	for b.Loop() {
		r.Process(buf, in)
	}
	testenv.ReportCPU(b, start)
}

// TestDotKernels: the SIMD filter kernels agree with the portable Go ones for
// every tap count, including counts that are not a multiple of the vector width.
func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 100; n++ {
		c := make([]float32, n)
		win := make([]float32, 2*n+3)
		for i := range c {
			c[i] = rng.Float32()*2 - 1
		}
		for i := range win {
			win[i] = rng.Float32()*2 - 1
		}
		tol := 1e-5 * float64(n+1)
		l, r := dotStereo(c, win)
		gl, gr := dotStereoGo(c, win)
		if math.Abs(float64(l-gl)) > tol || math.Abs(float64(r-gr)) > tol {
			t.Fatalf("stereo %d taps: (%v, %v), want (%v, %v)", n, l, r, gl, gr)
		}
		if m, gm := dotMono(c, win), dotMonoGo(c, win); math.Abs(float64(m-gm)) > tol {
			t.Fatalf("mono %d taps: %v, want %v", n, m, gm)
		}
	}
}
