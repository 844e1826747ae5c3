package audio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/ogg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// formats lists every input format the engine accepts, made by ffmpeg from a
// generated signal, as a user would find them.
var formats = []struct {
	name   string
	file   string
	rate   int
	ch     int
	opts   []string
	codec  string
	contnr string
	pass   bool
}{
	{"webm opus", "a.webm", 48000, 2, []string{"-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20"}, "opus", "webm", true},
	{"ogg opus", "a.opus", 48000, 2, []string{"-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20"}, "opus", "ogg", true},
	{"ogg opus 60ms", "b.opus", 48000, 2, []string{"-c:a", "libopus", "-b:a", "128k", "-frame_duration", "60"}, "opus", "ogg", false},
	{"mp3 cbr", "a.mp3", 44100, 2, []string{"-c:a", "libmp3lame", "-b:a", "192k"}, "mp3", "mp3", false},
	{"mp3 vbr mono 22k", "b.mp3", 22050, 1, []string{"-c:a", "libmp3lame", "-q:a", "2"}, "mp3", "mp3", false},
	{"flac 16", "a.flac", 44100, 2, []string{"-c:a", "flac"}, "flac", "flac", false},
	{"flac 24 96k", "b.flac", 96000, 2, []string{"-c:a", "flac", "-sample_fmt", "s32"}, "flac", "flac", false},
	{"wav 16 8k mono", "a.wav", 8000, 1, []string{"-c:a", "pcm_s16le"}, "pcm_16", "wav", false},
	{"wav 24", "b.wav", 48000, 2, []string{"-c:a", "pcm_s24le"}, "pcm_24", "wav", false},
	{"wav float 32k", "c.wav", 32000, 2, []string{"-c:a", "pcm_f32le"}, "pcm_32", "wav", false},
}

func transcodeFile(t testing.TB, in string, cfg Config) (string, *Pipeline) {
	t.Helper()
	p, err := OpenPipeline(context.Background(), in, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", in, err)
	}
	t.Cleanup(func() { p.Close() })
	out := filepath.Join(t.TempDir(), "out.ogg")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := WriteOgg(p, f); err != nil {
		t.Fatalf("transcode %s: %v", in, err)
	}
	return out, p
}

// TestFormats transcodes every format and has ffmpeg judge the result.
func TestFormats(t *testing.T) {
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			src := audiotest.Music(tc.rate, tc.ch, 4)
			in := audiotest.Convert(t, src, tc.file, tc.opts...)
			// The reference is the input as ffmpeg decodes it, at 48 kHz.
			ref := audiotest.Decode(t, in, 48000, 1)
			out, p := transcodeFile(t, in, DefaultConfig())
			info := p.Info()
			if info.Codec != tc.codec || info.Container != tc.contnr || info.Passthrough != tc.pass {
				t.Errorf("info = %+v, want codec %s container %s passthrough %v", info, tc.codec, tc.contnr, tc.pass)
			}
			if info.DurationMS == nil || absDiff(*info.DurationMS, 4000) > 30 {
				t.Errorf("duration %v, want ~4000 ms", info.DurationMS)
			}
			got := audiotest.Decode(t, out, 48000, 1)
			ncc, lag := audiotest.NCC(ref.Samples, got.Samples, 2000)
			if ncc < 0.95 {
				t.Errorf("cross-correlation %.4f (lag %d), want ≥ 0.95", ncc, lag)
			}
			if d := absDiff(int64(got.Frames()), int64(ref.Frames())); d > 960 {
				t.Errorf("output %d samples, input %d: off by more than a frame", got.Frames(), ref.Frames())
			}
			if lag < -960 || lag > 960 {
				t.Errorf("output shifted by %d samples", lag)
			}
		})
	}
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestPassthroughBitIdentical: Opus in 20 ms packets goes out untouched.
func TestPassthroughBitIdentical(t *testing.T) {
	for _, name := range []string{"a.opus", "a.webm"} {
		t.Run(name, func(t *testing.T) {
			src := audiotest.Music(48000, 2, 3)
			in := audiotest.Convert(t, src, name, "-c:a", "libopus", "-b:a", "96k", "-frame_duration", "20")
			// Packets as an independent demuxer sees them: ffmpeg remuxes to Ogg, our Ogg reader splits pages.
			ref := filepath.Join(t.TempDir(), "ref.ogg")
			audiotest.Ffmpeg(t, "-i", in, "-c", "copy", ref)
			want := oggPackets(t, ref)
			out, p := transcodeFile(t, in, DefaultConfig())
			if !p.Passing() {
				t.Fatal("pipeline is not passing packets through")
			}
			got := oggPackets(t, out)
			if len(got) != len(want) {
				t.Fatalf("%d packets out, %d in", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d differs", i)
				}
			}
		})
	}
}

func oggPackets(t testing.TB, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ogg.NewOpusReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return audiotest.ReadPackets(t, r)
}

// TestSeek: output after a seek matches the source at that offset.
func TestSeek(t *testing.T) {
	for _, tc := range formats {
		if tc.name == "mp3 vbr mono 22k" || tc.name == "wav 16 8k mono" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			src := audiotest.Music(tc.rate, tc.ch, 6)
			in := audiotest.Convert(t, src, tc.file, tc.opts...)
			ref := audiotest.Decode(t, in, 48000, 1)
			cfg := DefaultConfig()
			cfg.Seek = 2345 * time.Millisecond
			out, p := transcodeFile(t, in, cfg)
			_ = p
			got := audiotest.Decode(t, out, 48000, 1)
			at := int(2.345 * 48000)
			// Where in the source does the output start? Correlate its first second.
			head := got.Samples[:48000]
			ncc, lag := audiotest.NCC(head, ref.Samples[at-4800:], 4800)
			off := lag - 4800 // samples after the requested point
			limit := 960
			if tc.codec == "mp3" {
				limit = 48 * 50 // 50 ms for VBR MP3 without an index
			}
			if ncc < 0.9 || off < -limit || off > limit {
				t.Fatalf("after seek to 2345 ms output starts %d samples off (ncc %.3f)", off, ncc)
			}
		})
	}
}

// TestEffects: volume and equalizer are audible in ffmpeg's decode.
func TestEffects(t *testing.T) {
	src := audiotest.PureTone(48000, 2, 2, 1000, 0.3)
	in := audiotest.Convert(t, src, "a.opus", "-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20")
	base := audiotest.RMS(audiotest.Decode(t, in, 48000, 1).Samples[4800:])
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want float64
	}{
		{"volume 50", func(c *Config) { c.Volume = 50 }, 0.5},
		{"volume 200", func(c *Config) { c.Volume = 200 }, 2},
		{"eq 1k boost", func(c *Config) { c.Equalizer[8] = 0.25 }, 2},
		{"eq 1k cut", func(c *Config) { c.Equalizer[8] = -0.125 }, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.cfg(&cfg)
			out, p := transcodeFile(t, in, cfg)
			if p.Passing() {
				t.Fatal("effects on but packets passed through")
			}
			got := audiotest.RMS(audiotest.Decode(t, out, 48000, 1).Samples[4800:])
			if r := got / base; r < tc.want*0.85 || r > tc.want*1.15 {
				t.Fatalf("level ratio %.3f, want %.2f", r, tc.want)
			}
		})
	}
}

// TestSwitchSeamless turns volume on and off mid-stream on a pass-through
// source: the output, decoded by ffmpeg, follows the source without a gap or
// jump at either switch.
func TestSwitchSeamless(t *testing.T) {
	src := audiotest.Music(48000, 2, 4)
	in := audiotest.Convert(t, src, "a.opus", "-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20")
	ref := audiotest.Decode(t, in, 48000, 1)
	p, err := OpenPipeline(context.Background(), in, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var buf bytes.Buffer
	ow, err := ogg.NewOpusWriter(&buf, ogg.DefaultOpusWriterConfig())
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, MaxFrameBytes)
	modes := ""
	for i := 0; ; i++ {
		switch i {
		case 50:
			_ = p.SetVolume(99) // effect on: decode path
		case 100:
			_ = p.SetVolume(100) // off again: pass-through
		}
		n, err := p.Next(frame)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if p.Passing() {
				modes += "P"
			} else {
				modes += "T"
			}
		}
		if err := ow.WritePacket(frame[:n], 960); err != nil {
			t.Fatal(err)
		}
	}
	_ = ow.Close()
	if !strings.Contains(modes, "PT") || !strings.Contains(modes, "TP") {
		t.Fatalf("modes over time %q: expected pass-through, then decode, then pass-through", modes)
	}
	out := filepath.Join(t.TempDir(), "o.ogg")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, out, 48000, 1)
	// Compare 100 ms windows across the whole track: each must match the source at the same lag.
	for start := 0; start+4800 < min(len(got.Samples), len(ref.Samples)); start += 4800 {
		ncc, lag := audiotest.NCC(ref.Samples[start:start+4800], got.Samples[start:], 0)
		if ncc < 0.97 || lag != 0 {
			t.Fatalf("window at %d ms: ncc %.4f — a seam", start/48, ncc)
		}
	}
}

func TestUnsupportedAndBadInput(t *testing.T) {
	src := audiotest.Tone(44100, 2, 1, 440, 0.3)
	for _, tc := range []struct {
		name, file string
		opts       []string
		want       string
	}{
		{"aac m4a", "a.m4a", []string{"-c:a", "aac"}, "unsupported codec: AAC"},
		{"aac adts", "a.aac", []string{"-c:a", "aac"}, "unsupported codec: AAC"},
		{"vorbis ogg", "a.ogg", []string{"-c:a", "libvorbis"}, "unsupported codec: Vorbis"},
		{"vorbis webm", "a.webm", []string{"-c:a", "libvorbis"}, "unsupported codec: Vorbis"},
		{"mp2", "a.mp2", []string{"-c:a", "mp2"}, "unsupported codec: MP2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := audiotest.Convert(t, src, tc.file, tc.opts...)
			_, err := OpenPipeline(context.Background(), in, DefaultConfig())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	for name, data := range map[string][]byte{
		"html":    []byte("<!DOCTYPE html><html><body>not found</body></html>"),
		"garbage": bytes.Repeat([]byte{0x12, 0x34, 0x56}, 1000),
		"empty":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			in := audiotest.WriteFile(t, "x.bin", data)
			if _, err := OpenPipeline(context.Background(), in, DefaultConfig()); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestTruncated: every format cut short plays what is there and ends cleanly.
func TestTruncated(t *testing.T) {
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			src := audiotest.Music(tc.rate, tc.ch, 2)
			in := audiotest.Convert(t, src, tc.file, tc.opts...)
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cut := audiotest.WriteFile(t, "cut"+filepath.Ext(in), data[:len(data)*6/10])
			p, err := OpenPipeline(context.Background(), cut, DefaultConfig())
			if err != nil {
				t.Fatalf("open truncated: %v", err)
			}
			defer p.Close()
			frame := make([]byte, MaxFrameBytes)
			frames := 0
			for {
				_, err := p.Next(frame)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d frames: %v", frames, err)
				}
				frames++
				if frames > 200 {
					t.Fatal("does not end")
				}
			}
			if frames < 40 {
				t.Fatalf("only %d frames from 60%% of a 2 s file", frames)
			}
		})
	}
}

// TestTrackReadAhead plays a Track to its end the way the pacer does.
func TestTrackReadAhead(t *testing.T) {
	src := audiotest.Music(44100, 2, 2)
	in := audiotest.Convert(t, src, "a.flac", "-c:a", "flac")
	tr, err := Open(context.Background(), in, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	frames := 0
	deadline := time.After(20 * time.Second)
	for {
		if _, ok := tr.NextFrame(); ok {
			frames++
			continue
		}
		select {
		case <-tr.Done():
			if tr.Err() != nil {
				t.Fatal(tr.Err())
			}
			if frames < 99 || frames > 101 {
				t.Fatalf("%d frames for 2 s", frames)
			}
			if pos := tr.Position(); pos < 1980*time.Millisecond || pos > 2020*time.Millisecond {
				t.Fatalf("position %v at end", pos)
			}
			return
		case <-deadline:
			t.Fatal("track never ended")
		default:
			// Let the producer run: wait until it has buffered something or finished.
			waitBuffered(t, tr)
		}
	}
}

// waitBuffered waits until tr has a frame buffered or its producer has
// stopped, woken by the producer's ready token; it fails t after a deadline.
func waitBuffered(t *testing.T, tr *Track) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		ok := tr.count > 0 || tr.finished || tr.closed
		tr.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-tr.ready:
		case <-tr.done:
			return
		case <-deadline.C:
			t.Fatal("no frame buffered within 10 s")
		}
	}
}

func TestTrackSeekAndClose(t *testing.T) {
	src := audiotest.Music(48000, 2, 5)
	in := audiotest.Convert(t, src, "a.webm", "-c:a", "libopus", "-frame_duration", "20")
	tr, err := Open(context.Background(), in, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Seek(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitBuffered(t, tr)
	if _, ok := tr.NextFrame(); !ok {
		t.Fatal("no frame after seek")
	}
	if pos := tr.Position(); pos < 3*time.Second || pos > 3*time.Second+40*time.Millisecond {
		t.Fatalf("position %v after seek to 3s", pos)
	}
	if err := tr.SetVolume(50); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

func TestLiveReader(t *testing.T) {
	src := audiotest.Music(44100, 2, 1)
	in := audiotest.Convert(t, src, "a.mp3", "-c:a", "libmp3lame")
	data, _ := os.ReadFile(in)
	p, err := ReaderPipeline(io.MultiReader(bytes.NewReader(data)), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Info().Seekable || p.Info().DurationMS != nil {
		t.Fatalf("live input reported %+v", p.Info())
	}
	if err := p.Seek(time.Second); err == nil {
		t.Fatal("seek on live input succeeded")
	}
	var buf bytes.Buffer
	if _, err := WriteOgg(p, &buf); err != nil {
		t.Fatal(err)
	}
}

// TestNoAllocsPerFrame: in steady state producing a frame allocates nothing on either path.
func TestNoAllocsPerFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		rate int
		opts []string
		vol  int
	}{
		{"passthrough", "a.webm", 48000, []string{"-c:a", "libopus", "-frame_duration", "20"}, 100},
		{"opus with volume", "a.webm", 48000, []string{"-c:a", "libopus", "-frame_duration", "20"}, 50},
		{"mp3", "a.mp3", 44100, []string{"-c:a", "libmp3lame"}, 100},
		{"flac", "a.flac", 44100, []string{"-c:a", "flac"}, 100},
		{"wav", "a.wav", 44100, []string{"-c:a", "pcm_s16le"}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := audiotest.Convert(t, audiotest.Music(tc.rate, 2, 10), tc.file, tc.opts...)
			cfg := DefaultConfig()
			cfg.Volume = tc.vol
			p, err := OpenPipeline(context.Background(), in, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			frame := make([]byte, MaxFrameBytes)
			for i := 0; i < 20; i++ { // warm up
				if _, err := p.Next(frame); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(200, func() {
				if _, err := p.Next(frame); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("%v allocations per frame", a)
			}
		})
	}
}

// TestWebMDiscardPadding: a WebM Opus file whose length is not a whole number
// of 20 ms packets plays exactly as long as ffmpeg decodes it, whether its
// packets pass through (the last one whole, trimmed by the Ogg end granule)
// or are decoded and re-encoded (the padding never reaches the encoder), and
// probe reports that length.
func TestWebMDiscardPadding(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "a.webm")
	audiotest.Ffmpeg(t, "-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*(200+300*t)*t):s=48000:d=1.013",
		"-ac", "2", "-c:a", "libopus", "-b:a", "96k", in)
	want := int64(audiotest.Decode(t, in, 48000, 2).Frames())
	for _, tc := range []struct {
		name string
		vol  int
		pass bool
	}{
		{"passthrough", 100, true},
		{"transcode", 50, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Volume = tc.vol
			out, p := transcodeFile(t, in, cfg)
			if p.Passing() != tc.pass {
				t.Fatalf("passing %v, want %v", p.Passing(), tc.pass)
			}
			got := int64(-1)
			if d := p.Info().DurationMS; d != nil {
				got = *d
			}
			if got != want*1000/48000 {
				t.Errorf("probe duration %d ms, ffmpeg decodes %d ms", got, want*1000/48000)
			}
			if got := int64(audiotest.Decode(t, out, 48000, 2).Frames()); got != want {
				t.Errorf("output decodes to %d samples, the input to %d", got, want)
			}
		})
	}
}

// TestOggEndTrim: an Ogg Opus file whose length is not a whole number of
// 20 ms packets (its last page's granule position trims the last packet,
// RFC 7845 §4.4) plays exactly as long as ffmpeg decodes it, whether its
// packets pass through (the last one whole, trimmed by the end granule) or
// are decoded and re-encoded (the padding never reaches the encoder), from a
// file (whose probe reports that length) or from a live stream (which cannot
// look at its last page in advance).
func TestOggEndTrim(t *testing.T) {
	in := filepath.Join(t.TempDir(), "a.opus")
	audiotest.Ffmpeg(t, "-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*(200+300*t)*t):s=48000:d=1.013",
		"-ac", "2", "-c:a", "libopus", "-b:a", "96k", in)
	want := int64(audiotest.Decode(t, in, 48000, 2).Frames())
	if want%frameSamples == 0 {
		t.Fatalf("ffmpeg decodes %d samples, a whole number of packets: nothing to trim", want)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vol  int
		live bool
		pass bool
	}{
		{"file passthrough", 100, false, true},
		{"file transcode", 50, false, false},
		{"live passthrough", 100, true, true},
		{"live transcode", 50, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Volume = tc.vol
			var out string
			var p *Pipeline
			if tc.live {
				lp, err := ReaderPipeline(io.MultiReader(bytes.NewReader(data)), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { lp.Close() })
				var buf bytes.Buffer
				if _, err := WriteOgg(lp, &buf); err != nil {
					t.Fatal(err)
				}
				out, p = audiotest.WriteFile(t, "out.ogg", buf.Bytes()), lp
			} else {
				out, p = transcodeFile(t, in, cfg)
			}
			if p.Passing() != tc.pass {
				t.Fatalf("passing %v, want %v", p.Passing(), tc.pass)
			}
			if !tc.live {
				got := int64(-1)
				if d := p.Info().DurationMS; d != nil {
					got = *d
				}
				if got != want*1000/48000 {
					t.Errorf("probe duration %d ms, ffmpeg decodes %d ms", got, want*1000/48000)
				}
			}
			if got := int64(audiotest.Decode(t, out, 48000, 2).Frames()); got != want {
				t.Errorf("output decodes to %d samples, the input to %d", got, want)
			}
		})
	}
}
