package effects

import (
	"math"
	"testing"
)

func tone(freq float64, frames int, amp float32) []float32 {
	buf := make([]float32, frames*2)
	for i := 0; i < frames; i++ {
		v := amp * float32(math.Sin(2*math.Pi*freq*float64(i)/48000))
		buf[2*i], buf[2*i+1] = v, v
	}
	return buf
}

func rms(b []float32) float64 {
	var s float64
	for _, v := range b {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(b)))
}

func TestVolumeLevels(t *testing.T) {
	for _, pct := range []int{0, 25, 50, 100, 150} {
		v := NewVolume(100)
		if err := v.Set(pct); err != nil {
			t.Fatal(err)
		}
		in := tone(440, 960*10, 0.3)
		ref := rms(in[1920:])
		for off := 0; off < len(in); off += 1920 {
			v.Process(in[off : off+1920])
		}
		got := rms(in[1920:]) / ref
		if want := float64(pct) / 100; math.Abs(got-want) > 0.02 {
			t.Errorf("volume %d%%: level ratio %.3f, want %.3f", pct, got, want)
		}
	}
}

// TestVolumeRampNoClick: a change from 100 % to 10 % must not jump between two samples
// by more than the signal itself could.
func TestVolumeRampNoClick(t *testing.T) {
	v := NewVolume(100)
	in := tone(100, 960*2, 0.8)
	v.Process(in[:1920])
	_ = v.Set(10)
	v.Process(in[1920:])
	maxStep := 0.0
	for i := 2; i < len(in); i += 2 {
		maxStep = math.Max(maxStep, math.Abs(float64(in[i]-in[i-2])))
	}
	// A 100 Hz sine at 0.8 changes by at most 0.8·2π·100/48000 ≈ 0.0105 per sample.
	if maxStep > 0.012 {
		t.Fatalf("largest sample step %.4f: audible click", maxStep)
	}
}

func TestVolumeLimiterNeverClips(t *testing.T) {
	v := NewVolume(1000)
	in := tone(440, 960, 0.9)
	v.Process(in)
	for _, x := range in {
		if x > 1 || x < -1 {
			t.Fatalf("sample %v beyond full scale", x)
		}
	}
	if err := v.Set(1001); err == nil {
		t.Fatal("1001% accepted")
	}
	if !v.Active() || NewVolume(100).Active() {
		t.Fatal("Active wrong")
	}
}

func TestEqualizerBands(t *testing.T) {
	// Boost the 1 kHz band: a 1 kHz tone gets louder, a 63 Hz one stays.
	var g [15]float64
	g[8] = 0.25 // doubles
	for _, c := range []struct {
		freq float64
		want float64
	}{{1000, 2}, {63, 1}, {16000, 1}} {
		e := NewEqualizer()
		if err := e.Set(g); err != nil {
			t.Fatal(err)
		}
		in := tone(c.freq, 48000, 0.1)
		ref := rms(in[48000:])
		for off := 0; off < len(in); off += 1920 {
			e.Process(in[off : off+1920])
		}
		if got := rms(in[48000:]) / ref; math.Abs(got-c.want) > 0.1*c.want {
			t.Errorf("%g Hz: gain %.3f, want %.3f", c.freq, got, c.want)
		}
	}
	g[8] = -0.25 // mutes
	e := NewEqualizer()
	_ = e.Set(g)
	in := tone(1000, 48000, 0.1)
	for off := 0; off < len(in); off += 1920 {
		e.Process(in[off : off+1920])
	}
	if got := rms(in[48000:]) / (0.1 / math.Sqrt2); got > 0.05 {
		t.Errorf("muted band still at %.3f", got)
	}
	g[3] = 1.5
	if err := e.Set(g); err == nil {
		t.Error("gain 1.5 accepted")
	}
	g[3] = math.NaN()
	if err := e.Set(g); err == nil {
		t.Error("NaN gain accepted")
	}
}

func TestChainNoAllocs(t *testing.T) {
	var g [15]float64
	for i := range g {
		g[i] = 0.1
	}
	eq := NewEqualizer()
	_ = eq.Set(g)
	c := Chain{NewVolume(80), eq}
	buf := tone(440, 960, 0.3)
	if a := testing.AllocsPerRun(100, func() { c.Process(buf) }); a != 0 {
		t.Fatalf("%v allocs per frame", a)
	}
}

func BenchmarkChain(b *testing.B) {
	var g [15]float64
	for i := range g {
		g[i] = 0.1
	}
	eq := NewEqualizer()
	_ = eq.Set(g)
	c := Chain{NewVolume(80), eq}
	buf := tone(440, 960, 0.3)
	b.ReportAllocs()
	for b.Loop() {
		c.Process(buf)
	}
}

func TestEqualizerFlatIsInactive(t *testing.T) {
	e := NewEqualizer()
	if err := e.Set([15]float64{}); err != nil || e.Active() {
		t.Fatal("flat equalizer reported active before any frame")
	}
	var g [15]float64
	g[2] = 0.1
	_ = e.Set(g)
	if !e.Active() {
		t.Fatal("boost not active")
	}
	e.Process(make([]float32, 1920))
	_ = e.Set([15]float64{})
	if !e.Active() {
		t.Fatal("must stay active for the frame that restores flat coefficients")
	}
	e.Process(make([]float32, 1920))
	if e.Active() {
		t.Fatal("still active after returning to flat")
	}
}

// TestVolumeRampSurvivesReset: the engine resets effects when it repositions to
// apply a change at once; the change must still ramp from the gain heard last.
func TestVolumeRampSurvivesReset(t *testing.T) {
	v := NewVolume(100)
	_ = v.Set(10)
	v.Reset()
	buf := make([]float32, 1920)
	for i := range buf {
		buf[i] = 0.5
	}
	v.Process(buf)
	if first := buf[0]; first < 0.45 {
		t.Fatalf("first sample after Set+Reset is %.3f: the gain jumped instead of ramping from 0.5", first)
	}
	if last := buf[len(buf)-1]; math.Abs(float64(last)-0.05) > 0.001 {
		t.Fatalf("ramp ends at %.4f, want 0.05", last)
	}
}
