package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
)

// ffmpegWAV renders a two-tone test signal to a WAV file with ffmpeg.
func ffmpegWAV(t testing.TB, rate string, channels int, seconds string, args ...string) (string, []byte) {
	t.Helper()
	expr := "0.5*sin(2*PI*440*t)+0.25*sin(2*PI*5000*t)|0.3*sin(2*PI*660*t)-0.2*sin(2*PI*9000*t)"
	if channels == 1 {
		expr = "0.5*sin(2*PI*440*t)+0.25*sin(2*PI*5000*t)"
	}
	all := append([]string{"-f", "lavfi", "-i", "aevalsrc=" + expr + ":s=" + rate + ":d=" + seconds}, args...)
	return audiotest.FfmpegFile(t, "x.wav", append(all, "-f", "wav")...)
}

func decodeAll(t testing.TB, d *Decoder, chunk int) []float32 {
	t.Helper()
	var all []float32
	buf := make([]float32, chunk)
	for {
		n, err := d.ReadPCM(buf)
		if n%d.Channels() != 0 {
			t.Fatalf("ReadPCM returned %d samples for %d channels", n, d.Channels())
		}
		all = append(all, buf[:n]...)
		if err == io.EOF {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecodeMatchesFFmpeg(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     string
		ch       int
		codec    string
		extra    []string
		bits     int
		wantRate int
	}{
		{"s16 stereo 44.1k", "44100", 2, "pcm_s16le", nil, 16, 44100},
		{"s16 mono 8k", "8000", 1, "pcm_s16le", nil, 16, 8000},
		{"s24 stereo 96k", "96000", 2, "pcm_s24le", nil, 24, 96000},
		{"s32 stereo 48k", "48000", 2, "pcm_s32le", nil, 32, 48000},
		{"f32 stereo 22.05k", "22050", 2, "pcm_f32le", nil, 32, 22050},
		{"f64 mono 11.025k", "11025", 1, "pcm_f64le", nil, 64, 11025},
		{"u8 mono 16k", "16000", 1, "pcm_u8", nil, 8, 16000},
		{"rf64 s16", "32000", 2, "pcm_s16le", []string{"-rf64", "always"}, 16, 32000},
		{"s24 extensible 88.2k", "88200", 2, "pcm_s24le", []string{"-write_bext", "1"}, 24, 88200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := ffmpegWAV(t, tc.rate, tc.ch, "0.77", append([]string{"-c:a", tc.codec}, tc.extra...)...)
			want := audiotest.Decode(t, path, 0, 0).Samples
			for _, seekable := range []bool{true, false} {
				var r io.Reader = bytes.NewReader(data)
				if !seekable {
					r = io.MultiReader(r)
				}
				d, err := NewDecoder(r)
				if err != nil {
					t.Fatal(err)
				}
				if d.SampleRate() != tc.wantRate || d.Channels() != tc.ch || d.BitDepth() != tc.bits {
					t.Errorf("rate %d ch %d bits %d", d.SampleRate(), d.Channels(), d.BitDepth())
				}
				frames := int64(len(want) / tc.ch)
				if d.Duration() != frames {
					t.Errorf("seekable=%v: Duration %d, ffmpeg decodes %d frames", seekable, d.Duration(), frames)
				}
				got := decodeAll(t, d, 1000+tc.ch) // odd sizes exercise partial frames
				if len(got) != len(want) {
					t.Fatalf("%d samples, ffmpeg %d", len(got), len(want))
				}
				for i := range got {
					if math.Abs(float64(got[i]-want[i])) > 1e-6 {
						t.Fatalf("sample %d: %v, ffmpeg %v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ch   int
		want string
	}{
		{[]string{"-c:a", "adpcm_ima_wav"}, 2, "unsupported codec: IMA ADPCM"},
		{[]string{"-c:a", "adpcm_ms"}, 2, "unsupported codec: MS ADPCM"},
		{[]string{"-c:a", "libmp3lame"}, 2, "unsupported codec: MP3"},
		{[]string{"-c:a", "pcm_alaw"}, 1, "unsupported codec: A-law"},
		{[]string{"-c:a", "pcm_s16le", "-ac", "6"}, 2, "unsupported channel count: 6"},
	} {
		_, data := ffmpegWAV(t, "44100", tc.ch, "0.2", tc.args...)
		_, err := NewDecoder(bytes.NewReader(data))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
		var uc *UnsupportedCodecError
		if errors.As(err, &uc) != (tc.want[:17] == "unsupported codec") {
			t.Errorf("%v: error type %T", tc.args, err)
		}
	}
}

// wavFile builds a WAVE file by hand: chunks in the given order.
func wavFile(form string, chunks ...[]byte) []byte {
	var b []byte
	b = append(b, form...)
	b = binary.LittleEndian.AppendUint32(b, 0) // RIFF size: readers must not need it
	b = append(b, "WAVE"...)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}

func chunk(id string, size uint32, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, size)...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtPCM16(ch, rate int) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tagPCM)
	b = binary.LittleEndian.AppendUint16(b, uint16(ch))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*ch*2))
	b = binary.LittleEndian.AppendUint16(b, uint16(ch*2))
	return binary.LittleEndian.AppendUint16(b, 16)
}

// ramp is n stereo frames of distinct 16-bit values.
func ramp(n int) ([]byte, []float32) {
	var raw []byte
	var f []float32
	for i := range 2 * n {
		v := int16(i*37 - 20000)
		raw = binary.LittleEndian.AppendUint16(raw, uint16(v))
		f = append(f, float32(v)/32768)
	}
	return raw, f
}

func TestHandmadeLayouts(t *testing.T) {
	raw, want := ramp(1000)
	fm := chunk("fmt ", 16, fmtPCM16(2, 44100))
	odd := chunk("LIST", 5, []byte("abcde")) // odd size: one pad byte follows
	for _, tc := range []struct {
		name     string
		file     []byte
		seekable bool
		frames   int   // frames expected out
		dur      int64 // Duration()
	}{
		{"odd chunks around fmt", wavFile("RIFF", odd, fm, odd, chunk("fact", 4, []byte{1, 2, 3, 4}), chunk("data", uint32(len(raw)), raw)), true, 1000, 1000},
		{"streamed size 0xFFFFFFFF", wavFile("RIFF", fm, chunk("data", 0xffffffff, raw)), false, 1000, -1},
		{"streamed size 0", wavFile("RIFF", fm, chunk("data", 0, raw)), false, 1000, -1},
		{"streamed size 0, seekable", wavFile("RIFF", fm, chunk("data", 0, raw)), true, 1000, 1000},
		{"data then trailing chunk", wavFile("RIFF", fm, chunk("data", uint32(len(raw)), raw), chunk("id3 ", 3, []byte("xyz"))), false, 1000, 1000},
		{"truncated mid-frame", wavFile("RIFF", fm, chunk("data", uint32(len(raw)), raw))[:44+4*500+3], false, 500, 1000},
		{"truncated, seekable", wavFile("RIFF", fm, chunk("data", uint32(len(raw)), raw))[:44+4*500+3], true, 500, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.file)
			if !tc.seekable {
				r = io.MultiReader(r)
			}
			d, err := NewDecoder(r)
			if err != nil {
				t.Fatal(err)
			}
			if d.Duration() != tc.dur {
				t.Errorf("Duration %d, want %d", d.Duration(), tc.dur)
			}
			got := decodeAll(t, d, 333)
			if len(got) != 2*tc.frames {
				t.Fatalf("%d samples, want %d", len(got), 2*tc.frames)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("sample %d: %v want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestBadHeaders(t *testing.T) {
	raw, _ := ramp(10)
	fm := fmtPCM16(2, 44100)
	bad := func(off int, v uint16) []byte {
		b := bytes.Clone(fm)
		binary.LittleEndian.PutUint16(b[off:], v)
		return chunk("fmt ", 16, b)
	}
	for name, file := range map[string][]byte{
		"empty":           nil,
		"not riff":        []byte("ID3\x04\x00\x00\x00\x00\x00\x00garbage"),
		"no data":         wavFile("RIFF", chunk("fmt ", 16, fm)),
		"short fmt":       wavFile("RIFF", chunk("fmt ", 8, fm[:8])),
		"zero channels":   wavFile("RIFF", bad(2, 0), chunk("data", 4, raw[:4])),
		"40-bit":          wavFile("RIFF", bad(14, 40), chunk("data", 4, raw[:4])),
		"bad block align": wavFile("RIFF", bad(12, 7), chunk("data", 4, raw[:4])),
		"huge chunk":      wavFile("RIFF", chunk("JUNK", 0xfffffff0, nil)),
		"rf64 no ds64":    wavFile("RF64", chunk("fmt ", 16, fm), chunk("data", 0xffffffff, raw)),
	} {
		if _, err := NewDecoder(bytes.NewReader(file)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDataBeforeFmt: a data chunk ahead of fmt is read from a seekable input
// (fmt found after it, then back to the samples); a stream gets an error that
// says why.
func TestDataBeforeFmt(t *testing.T) {
	raw, want := ramp(1000)
	fm := chunk("fmt ", 16, fmtPCM16(2, 44100))
	odd := chunk("LIST", 5, []byte("abcde"))
	data := chunk("data", uint32(len(raw)), raw)
	for _, tc := range []struct {
		name     string
		file     []byte
		seekable bool
		err      error // nil: decodes to want
	}{
		{"seekable", wavFile("RIFF", data, fm), true, nil},
		{"seekable, chunks between", wavFile("RIFF", odd, data, odd, fm, chunk("id3 ", 3, []byte("xyz"))), true, nil},
		{"seekable, no fmt at all", wavFile("RIFF", data, odd), true, errNoFmt},
		{"seekable, streamed data size", wavFile("RIFF", chunk("data", 0, raw), fm), true, errNoFmt},
		{"stream", wavFile("RIFF", data, fm), false, errFmtLate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.file)
			if !tc.seekable {
				r = io.MultiReader(r)
			}
			d, err := NewDecoder(r)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Duration() != 1000 || d.SampleRate() != 44100 || d.Channels() != 2 {
				t.Errorf("Duration %d rate %d channels %d", d.Duration(), d.SampleRate(), d.Channels())
			}
			got := decodeAll(t, d, 333)
			if len(got) != len(want) {
				t.Fatalf("%d samples, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("sample %d: %v want %v", i, got[i], want[i])
				}
			}
			// Seeking works from the data found after fmt.
			at, err := d.SeekSample(500)
			if err != nil || at != 500 {
				t.Fatalf("SeekSample(500) = %d, %v", at, err)
			}
			if got := decodeAll(t, d, 333); len(got) != 1000 || got[0] != want[1000] {
				t.Fatalf("after seek: %d samples", len(got))
			}
		})
	}
}

func TestSeekSample(t *testing.T) {
	path, data := ffmpegWAV(t, "44100", 2, "2", "-c:a", "pcm_s24le")
	want := audiotest.Decode(t, path, 0, 0).Samples
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 64)
	for _, s := range []int64{0, 1, 44099, 44100, 88199, 7} {
		got, err := d.SeekSample(s)
		if err != nil || got != s {
			t.Fatalf("SeekSample(%d) = %d, %v", s, got, err)
		}
		n, err := d.ReadPCM(buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if math.Abs(float64(buf[i]-want[2*int(s)+i])) > 1e-6 {
				t.Fatalf("after SeekSample(%d), sample %d differs", s, i)
			}
		}
	}
	if got, _ := d.SeekSample(1 << 40); got != 88200 {
		t.Errorf("SeekSample past the end = %d, want 88200", got)
	}
	if n, err := d.ReadPCM(buf); n != 0 || err != io.EOF {
		t.Errorf("ReadPCM at the end = %d, %v", n, err)
	}
	nd, _ := NewDecoder(io.MultiReader(bytes.NewReader(data)))
	if _, err := nd.SeekSample(10); err == nil {
		t.Error("SeekSample on a non-seekable input succeeded")
	}
}

func TestReadPCMZeroAllocs(t *testing.T) {
	_, data := ffmpegWAV(t, "48000", 2, "30", "-c:a", "pcm_s16le")
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 1920)
	if a := testing.AllocsPerRun(500, func() {
		if _, err := d.ReadPCM(buf); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ReadPCM: %v allocs per call", a)
	}
}

func BenchmarkReadPCM(b *testing.B) {
	for _, codec := range []string{"pcm_s16le", "pcm_s24le", "pcm_f32le"} {
		b.Run(codec, func(b *testing.B) {
			_, data := ffmpegWAV(b, "48000", 2, "10", "-c:a", codec)
			d, err := NewDecoder(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]float32, 1920) // one 20 ms stereo frame at 48 kHz
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.ReadPCM(buf); err == io.EOF {
					d.SeekSample(0)
				}
			}
		})
	}
}

func FuzzDecoder(f *testing.F) {
	raw, _ := ramp(50)
	f.Add(wavFile("RIFF", chunk("fmt ", 16, fmtPCM16(2, 44100)), chunk("LIST", 3, []byte("abc")), chunk("data", uint32(len(raw)), raw)))
	f.Add(wavFile("RF64", chunk("ds64", 28, make([]byte, 28)), chunk("fmt ", 16, fmtPCM16(1, 8000)), chunk("data", 0xffffffff, raw)))
	ext := make([]byte, 40)
	copy(ext, fmtPCM16(2, 48000))
	binary.LittleEndian.PutUint16(ext[0:], tagExtensible)
	binary.LittleEndian.PutUint16(ext[16:], 22)
	binary.LittleEndian.PutUint16(ext[24:], tagFloat)
	f.Add(wavFile("RIFF", chunk("fmt ", 40, ext), chunk("data", uint32(len(raw)), raw)))
	f.Add(wavFile("RIFF", chunk("data", uint32(len(raw)), raw), chunk("LIST", 3, []byte("abc")), chunk("fmt ", 16, fmtPCM16(2, 44100))))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d.Channels() < 1 || d.Channels() > 2 {
			t.Fatalf("%d channels accepted", d.Channels())
		}
		buf := make([]float32, 301)
		for range 100 {
			n, err := d.ReadPCM(buf)
			for _, v := range buf[:n] {
				if !(v >= -1 && v <= 1) {
					t.Fatalf("sample %v out of range", v)
				}
			}
			if err != nil {
				break
			}
		}
		d.SeekSample(3)
		d.ReadPCM(buf)
	})
}
