package mp3

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
)

// Test signals, as ffmpeg aevalsrc expressions (one per channel, '|' separated).
const (
	exprTones = "0.5*sin(2*PI*440*t)|0.4*sin(2*PI*1330*t)"
	exprSweep = "0.5*sin(2*PI*(60*t+1300*t*t))|0.5*sin(2*PI*(5000*t-700*t*t))"
	// Several harmonics with amplitude envelopes, different per channel.
	exprMusic = "0.25*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*0.7*t))+0.15*sin(2*PI*440*t)*exp(-3*mod(t,0.5))+0.1*sin(2*PI*660*t)*exp(-2*mod(t+0.25,0.5))+0.05*sin(2*PI*1760*t)|" +
		"0.2*sin(2*PI*330*t)*(0.5+0.5*sin(2*PI*1.3*t))+0.15*sin(2*PI*495*t)*exp(-4*mod(t,0.75))+0.08*sin(2*PI*990*t)+0.04*sin(2*PI*2970*t)*exp(-mod(t,0.3))"
)

// Sharp attacks make LAME switch to short blocks.
const exprClicks = "if(lt(mod(t,0.25),0.003),0.8,0)*sin(2*PI*3000*t)+0.1*sin(2*PI*200*t)|if(lt(mod(t+0.1,0.3),0.002),0.7,0)*sin(2*PI*5000*t)+0.1*sin(2*PI*300*t)"

// source is a test signal that ffmpeg generates (lavfi) at encode time.
type source struct {
	spec     string
	rate, ch int
}

// genSource describes expr (or white noise when expr is "noise") at rate
// with ch channels, lasting secs.
func genSource(_ testing.TB, _, _, expr string, rate, ch int, secs float64) source {
	dur := strings.TrimRight(strings.TrimRight(strconvF(secs), "0"), ".")
	if expr == "noise" {
		return source{"anoisesrc=c=white:a=0.3:seed=7:r=" + itoa(rate) + ":d=" + dur, rate, ch}
	}
	return source{"aevalsrc=" + strings.ReplaceAll(expr, ",", "\\,") + ":s=" + itoa(rate) + ":d=" + dur, rate, ch}
}

// input returns the ffmpeg arguments that read src.
func (src source) input() []string { return []string{"-f", "lavfi", "-i", src.spec} }

// encode generates src and encodes it to out with libmp3lame and opts, in
// one ffmpeg run.
func encode(t testing.TB, src source, out string, opts ...string) string {
	t.Helper()
	args := append(src.input(), "-ac", itoa(src.ch), "-ar", itoa(src.rate), "-c:a", "libmp3lame")
	args = append(args, opts...)
	audiotest.Ffmpeg(t, append(args, out)...)
	return out
}

type decodeCase struct {
	name string
	expr string
	rate int
	ch   int
	secs float64
	opts []string
	// durTol is how far Duration() may be from ffmpeg's sample count: one
	// frame where a header or CBR gives it exactly, more for a VBR estimate.
	durTol int64
}

var decodeCases = []decodeCase{
	{name: "cbr128-tones", expr: exprTones, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "128k"}},
	{name: "cbr128-music", expr: exprMusic, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "128k"}},
	{name: "vbr-q2-sweep", expr: exprSweep, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-q:a", "2"}},
	{name: "vbr-q2-music-48k", expr: exprMusic, rate: 48000, ch: 2, secs: 1.5, opts: []string{"-q:a", "2"}},
	{name: "cbr320-noise", expr: "noise", rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "320k"}},
	{name: "mono-noise-32k", expr: "noise", rate: 32000, ch: 1, secs: 1.5, opts: []string{"-b:a", "96k"}},
	{name: "mono-tones", expr: "0.5*sin(2*PI*440*t)+0.2*sin(2*PI*3000*t)", rate: 44100, ch: 1, secs: 1.5, opts: []string{"-b:a", "64k"}},
	{name: "mpeg2-22k-music", expr: exprMusic, rate: 22050, ch: 2, secs: 1.5, opts: []string{"-b:a", "64k"}},
	{name: "mpeg2-24k-vbr-sweep", expr: exprSweep, rate: 24000, ch: 2, secs: 1.5, opts: []string{"-q:a", "4"}},
	{name: "mpeg2-16k-noise", expr: "noise", rate: 16000, ch: 1, secs: 1.5, opts: []string{"-b:a", "48k"}},
	{name: "mpeg25-8k-music", expr: exprMusic, rate: 8000, ch: 1, secs: 1.5, opts: []string{"-b:a", "16k"}},
	{name: "mpeg25-11k-stereo", expr: exprSweep, rate: 11025, ch: 2, secs: 1.5, opts: []string{"-b:a", "32k"}},
	{name: "mpeg25-12k", expr: exprTones, rate: 12000, ch: 2, secs: 1.5, opts: []string{"-b:a", "24k"}},
	{name: "low-bitrate-joint", expr: exprMusic, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "48k"}},
	{name: "transients-short-blocks", expr: exprClicks, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "128k"}},
	{name: "transients-22k", expr: exprClicks, rate: 22050, ch: 2, secs: 1.5, opts: []string{"-b:a", "48k"}},
	{name: "vbr-q9-clicks", expr: exprClicks, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-q:a", "9"}},
	{name: "mpeg25-8k-8kbps", expr: exprSweep, rate: 8000, ch: 1, secs: 1.5, opts: []string{"-b:a", "8k"}},
	{name: "cbr320-48k-clicks", expr: exprClicks, rate: 48000, ch: 2, secs: 1.5, opts: []string{"-b:a", "320k"}},
	{name: "dual-stereo-mode", expr: exprTones, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "160k", "-joint_stereo", "0"}},
	{name: "no-xing-cbr", expr: exprMusic, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-b:a", "128k", "-write_xing", "0"}},
	{name: "no-xing-vbr", expr: exprMusic, rate: 44100, ch: 2, secs: 1.5, opts: []string{"-q:a", "2", "-write_xing", "0"}, durTol: 44100 * 3 / 10},
}

// TestDecodeMatchesFFmpeg decodes LAME-encoded files and requires our
// output to match ffmpeg's decode of the same file: same length (gapless
// trimming included) and correlation >= 0.99 sample for sample.
func TestDecodeMatchesFFmpeg(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := genSource(t, dir, tc.name, tc.expr, tc.rate, tc.ch, tc.secs)
			mp3 := encode(t, src, filepath.Join(dir, tc.name+".mp3"), tc.opts...)
			checkAgainstFFmpeg(t, mp3, tc.rate, tc.ch, max(tc.durTol, 1152))
		})
	}
}

func checkAgainstFFmpeg(t *testing.T, path string, rate, ch int, durTol int64) *Decoder {
	t.Helper()
	d, ours := decodeAll(t, path)
	ref := audiotest.Decode(t, path, 0, 0).Samples
	if d.SampleRate() != rate || d.Channels() != ch {
		t.Fatalf("SampleRate, Channels = %d, %d; want %d, %d", d.SampleRate(), d.Channels(), rate, ch)
	}
	nOurs, nRef := len(ours)/ch, len(ref)/ch
	if diff := nOurs - nRef; diff > 1152 || diff < -1152 {
		t.Errorf("decoded %d samples per channel, ffmpeg %d", nOurs, nRef)
	}
	t.Logf("samples: ours %d, ffmpeg %d; Duration() %d", nOurs, nRef, d.Duration())
	if dur := d.Duration(); dur < 0 || absI64(dur-int64(nRef)) > durTol {
		t.Errorf("Duration() = %d, ffmpeg decoded %d", dur, nRef)
	}
	if c := ncc(ours, ref, ch, 0); c < 0.99 {
		lag, lc := bestLag(ours, ref, ch, 1200)
		t.Errorf("correlation with ffmpeg %.4f (best %.4f at lag %d)", c, lc, lag)
	}
	// Both decoders implement the same standard in floating point: beyond
	// correlation, the difference must be tiny (catches a rare wrong granule).
	if snr := snrDB(ours, ref); snr < 90 {
		t.Errorf("SNR against ffmpeg %.1f dB, want >= 90", snr)
	} else {
		t.Logf("SNR against ffmpeg %.1f dB", snr)
	}
	// Per channel too, so a swapped or silent channel cannot hide.
	for c := 0; c < ch && ch > 1; c++ {
		if v := nccChannel(ours, ref, ch, c); v < 0.99 {
			t.Errorf("channel %d correlation %.4f", c, v)
		}
	}
	for _, v := range ours {
		if v < -1 || v > 1 || v != v {
			t.Fatalf("sample %v outside [-1, 1]", v)
		}
	}
	return d
}

func nccChannel(a, b []float32, ch, c int) float64 {
	n := min(len(a), len(b)) / ch
	x := make([]float32, n)
	y := make([]float32, n)
	for i := 0; i < n; i++ {
		x[i], y[i] = a[i*ch+c], b[i*ch+c]
	}
	return ncc(x, y, 1, 0)
}

func absI64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestID3v2LargePicture skips an ID3v2 tag carrying a ~300 KB attached
// picture, both through a seeker and through a plain reader.
func TestID3v2LargePicture(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "tone", exprMusic, 44100, 2, 2)
	cover := filepath.Join(dir, "cover.png")
	writeNoisePNG(t, cover, 360, 300) // noise does not compress: ~300 KB
	out := filepath.Join(dir, "tagged.mp3")
	args := append(src.input(), "-i", cover, "-map", "0", "-map", "1", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
		"-c:v", "png", "-disposition:v", "attached_pic", "-id3v2_version", "3", out)
	audiotest.Ffmpeg(t, args...)
	st, _ := os.Stat(out)
	if st.Size() < 250<<10 {
		t.Fatalf("tagged file is only %d bytes; the picture is missing", st.Size())
	}
	d := checkAgainstFFmpeg(t, out, 44100, 2, 1152)
	if d.firstFrame < 250<<10 {
		t.Errorf("first frame at %d: the tag was not skipped by its size", d.firstFrame)
	}
	// A plain io.Reader (no Seek) must skip the tag by reading through it.
	raw, _ := os.ReadFile(out)
	pd, err := NewDecoder(onlyReader{strings.NewReader(string(raw))})
	if err != nil {
		t.Fatal(err)
	}
	plain := readRest(t, pd)
	_, seek := decodeAll(t, out)
	if len(plain) != len(seek) || ncc(plain, seek, 2, 0) < 0.9999 {
		t.Errorf("plain reader decode differs from seeker decode (%d vs %d samples)", len(plain), len(seek))
	}
	if pd.Duration() != d.Duration() {
		t.Errorf("Duration via plain reader %d, via seeker %d", pd.Duration(), d.Duration())
	}
}

// onlyReader hides every method but Read.
type onlyReader struct {
	r interface{ Read([]byte) (int, error) }
}

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestUnsupportedLayers reports Layer II as MP2 rather than decoding noise.
func TestUnsupportedLayers(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "tone", exprTones, 44100, 2, 1)
	mp2 := filepath.Join(dir, "x.mp2")
	audiotest.Ffmpeg(t, append(src.input(), "-ac", "2", "-c:a", "mp2", "-b:a", "192k", "-f", "mp2", mp2)...)
	f, err := os.Open(mp2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = NewDecoder(f)
	var uc *UnsupportedCodecError
	if !errors.As(err, &uc) || err.Error() != "unsupported codec: MP2" {
		t.Fatalf("NewDecoder(mp2) error = %v, want unsupported codec: MP2", err)
	}
}

// snrDB compares a to the reference b over their common length.
func snrDB(a, b []float32) float64 {
	var sig, noise float64
	for i := 0; i < min(len(a), len(b)); i++ {
		d := float64(a[i]) - float64(b[i])
		sig += float64(b[i]) * float64(b[i])
		noise += d * d
	}
	if noise == 0 {
		return 200
	}
	return 10 * math.Log10(sig/noise)
}

// writeNoisePNG writes a w×h RGB picture of random pixels.
func writeNoisePNG(t testing.TB, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewSource(4))
	rng.Read(img.Pix)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xFF
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestChannelModeChange: a stereo stream followed by mono frames keeps the
// decoder's channel count, duplicating mono into both channels.
func TestChannelModeChange(t *testing.T) {
	dir := t.TempDir()
	st := encode(t, genSource(t, dir, "st", exprTones, 44100, 2, 1), filepath.Join(dir, "st.mp3"), "-b:a", "128k", "-write_xing", "0", "-id3v2_version", "0")
	mo := encode(t, genSource(t, dir, "mo", exprTones, 44100, 1, 1), filepath.Join(dir, "mo.mp3"), "-b:a", "64k", "-write_xing", "0", "-id3v2_version", "0")
	a, _ := os.ReadFile(st)
	b, _ := os.ReadFile(mo)
	d, err := NewDecoder(bytes.NewReader(append(a, b...)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Channels() != 2 {
		t.Fatalf("Channels() = %d", d.Channels())
	}
	got := readRest(t, d)
	refSt := audiotest.Decode(t, st, 0, 0).Samples
	refMo := audiotest.Decode(t, mo, 0, 0).Samples
	if want := len(refSt)/2 + len(refMo); len(got)/2 != want {
		t.Errorf("decoded %d samples, want %d", len(got)/2, want)
	}
	mono := got[len(refSt):]
	var l, r []float32
	for i := 0; i+1 < len(mono); i += 2 {
		l, r = append(l, mono[i]), append(r, mono[i+1])
	}
	if ncc(l, r, 1, 0) < 0.9999 || ncc(l, refMo, 1, 0) < 0.99 {
		t.Errorf("mono part not duplicated into both channels (L/R %.4f, vs ffmpeg %.4f)", ncc(l, r, 1, 0), ncc(l, refMo, 1, 0))
	}
}
