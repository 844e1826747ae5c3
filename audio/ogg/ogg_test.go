package ogg

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/internal/testenv"
)

// sineOpus returns an Ogg Opus file of a tone made by ffmpeg/libopus.
func sineOpus(t testing.TB, seconds string, extra ...string) (string, []byte) {
	args := append([]string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=" + seconds}, extra...)
	args = append(args, "-c:a", "libopus", "-b:a", "64k", "-f", "ogg")
	return audiotest.FfmpegFile(t, "in.opus", args...)
}

// probePacket is one audio packet as ffprobe (an independent demuxer) sees it.
type probePacket struct {
	pts  int64 // 48 kHz samples relative to the end of pre-skip
	size int
}

func ffprobePackets(t testing.TB, path string) []probePacket {
	t.Helper()
	fp := testenv.Tool(t, "ffprobe")
	out, err := exec.Command(fp, "-hide_banner", "-loglevel", "error", "-select_streams", "a:0",
		"-show_entries", "packet=pts,size", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var pk []probePacket
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(f) < 2 || f[0] == "" {
			continue // blank lines and side-data columns
		}
		pts, err1 := strconv.ParseInt(f[0], 10, 64)
		size, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("ffprobe line %q", sc.Text())
		}
		pk = append(pk, probePacket{pts, size})
	}
	return pk
}

// decodePCM decodes a file to raw s16le stereo 48 kHz with ffmpeg.
func decodePCM(t testing.TB, path string) []byte {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-i", path, "-f", "s16le", "-ac", "2", "-ar", "48000", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", path, err)
	}
	return out
}

func TestReaderMatchesFFprobe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		ch    int
	}{
		{"mono", []string{"-ac", "1"}, 1},
		{"stereo", []string{"-ac", "2"}, 2},
		{"60ms frames", []string{"-ac", "2", "-frame_duration", "60"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := sineOpus(t, "3.21", tc.extra...)
			want := ffprobePackets(t, path)
			r, err := NewOpusReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if r.Channels() != tc.ch || r.PreSkip() != 312 || r.InputSampleRate() != 48000 {
				t.Errorf("head: ch %d pre-skip %d rate %d", r.Channels(), r.PreSkip(), r.InputSampleRate())
			}
			if !strings.HasPrefix(r.Tags().Vendor, "Lavf") && !strings.Contains(r.Tags().Vendor, "libopus") {
				t.Errorf("vendor %q", r.Tags().Vendor)
			}
			// 3.21 s at 48 kHz, as ffmpeg recorded by end trimming.
			if d := r.Duration(); d != 154080 {
				t.Errorf("Duration = %d, want 154080", d)
			}
			got := audiotest.ReadPackets(t, r)
			if len(got) != len(want) {
				t.Fatalf("%d packets, ffprobe sees %d", len(got), len(want))
			}
			for i := range got {
				if len(got[i]) != want[i].size {
					t.Fatalf("packet %d: %d bytes, ffprobe %d", i, len(got[i]), want[i].size)
				}
			}
		})
	}
}

func TestNonSeekableReader(t *testing.T) {
	_, data := sineOpus(t, "1")
	r, err := NewOpusReader(io.MultiReader(bytes.NewReader(data))) // hides Seek
	if err != nil {
		t.Fatal(err)
	}
	if r.Duration() != -1 {
		t.Errorf("Duration = %d for a non-seekable input, want -1", r.Duration())
	}
	if _, err := r.SeekSample(100); err == nil {
		t.Error("SeekSample on a non-seekable input succeeded")
	}
	r2, _ := NewOpusReader(bytes.NewReader(data))
	if a, b := audiotest.ReadPackets(t, r), audiotest.ReadPackets(t, r2); len(a) != len(b) || len(a) == 0 {
		t.Errorf("non-seekable read %d packets, seekable %d", len(a), len(b))
	}
}

// TestWriterRewriteDecodesIdentically rewrites ffmpeg's packets with our
// writer; ffmpeg must decode both files to the same PCM, and opusinfo must
// accept ours.
func TestWriterRewriteDecodesIdentically(t *testing.T) {
	for _, frameMs := range []string{"20", "10", "60"} {
		t.Run(frameMs+"ms", func(t *testing.T) {
			src, data := sineOpus(t, "2.345", "-ac", "2", "-frame_duration", frameMs)
			r, err := NewOpusReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultOpusWriterConfig()
			cfg.PreSkip = r.PreSkip()
			cfg.InputSampleRate = 44100
			cfg.Comments = []string{"TITLE=tone"}
			var buf bytes.Buffer
			w, err := NewOpusWriter(&buf, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for {
				p, err := r.ReadPacket()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n, err := PacketSamples(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WritePacket(p, n); err != nil {
					t.Fatal(err)
				}
			}
			// Trim the end exactly like the source: 2.345 s of real audio.
			if r.Duration() != 112560 {
				t.Errorf("source duration %d, want 112560", r.Duration())
			}
			if err := w.SetFinalGranule(int64(r.PreSkip()) + r.Duration()); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.opus")
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			a, b := decodePCM(t, src), decodePCM(t, out)
			if len(a) != 112560*4 {
				t.Errorf("ffmpeg decodes the source to %d bytes, want %d", len(a), 112560*4)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("PCM differs: source %d bytes, rewritten %d bytes", len(a), len(b))
			}
			oi := testenv.Tool(t, "opusinfo")
			info, err := exec.Command(oi, out).CombinedOutput()
			if err != nil {
				t.Fatalf("opusinfo rejects our file: %v\n%s", err, info)
			}
			s := string(info)
			if strings.Contains(s, "WARNING") || strings.Contains(s, "ERROR") || !strings.Contains(s, "Playback length: 0m:02.345s") {
				t.Fatalf("opusinfo:\n%s", s)
			}
			od := testenv.Tool(t, "opusdec")
			if b, err := exec.Command(od, "--quiet", out, filepath.Join(t.TempDir(), "x.wav")).CombinedOutput(); err != nil {
				t.Fatalf("opusdec: %v\n%s", err, b)
			}
			// Our reader reads our file back with the same duration.
			r2, err := NewOpusReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if r2.Duration() != 112560 || r2.Tags().Comments[0] != "TITLE=tone" {
				t.Errorf("read back: duration %d tags %v", r2.Duration(), r2.Tags())
			}
		})
	}
}

// TestWriterLongPackets checks lacing across pages with packets of every
// awkward size, read back by our reader and checked by ffprobe's demuxer.
func TestWriterLongPackets(t *testing.T) {
	sizes := []int{2, 1, 254, 255, 256, 510, 65024, 65025, 65026, 65535, 3, 255 * 200, 70, 255 * 255 * 1}
	var buf bytes.Buffer
	cfg := DefaultOpusWriterConfig()
	cfg.MaxPageSamples = 960 * 3
	w, err := NewOpusWriter(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i, n := range sizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		p[0] = 0xfc // a valid TOC: one 20 ms CELT frame
		want = append(want, p)
		if err := w.WritePacket(p, 960); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewOpusReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.ReadPackets(t, r)
	if len(got) != len(want) {
		t.Fatalf("read %d packets, wrote %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: %d bytes, wrote %d", i, len(got[i]), len(want[i]))
		}
	}
	path := filepath.Join(t.TempDir(), "long.opus")
	os.WriteFile(path, buf.Bytes(), 0o644)
	pk := ffprobePackets(t, path)
	if len(pk) != len(sizes) {
		t.Fatalf("ffprobe sees %d packets, wrote %d", len(pk), len(sizes))
	}
	for i, p := range pk {
		if p.size != sizes[i] || p.pts != int64(i*960-312) {
			t.Errorf("ffprobe packet %d: %+v, want size %d pts %d", i, p, sizes[i], i*960-312)
		}
	}
}

func TestSeekSample(t *testing.T) {
	path, data := sineOpus(t, "20", "-ac", "2")
	pk := ffprobePackets(t, path)
	r, err := NewOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	all := audiotest.ReadPackets(t, r)
	for _, s := range []int64{0, 1, 311, 648, 649, 47999, 48000, 123456, 480000, 900000, 959000, 959999, 100, 5} {
		start, err := r.SeekSample(s)
		if err != nil {
			t.Fatalf("SeekSample(%d): %v", s, err)
		}
		// The packet ffprobe places at s (pts <= s < next pts).
		i := 0
		for i+1 < len(pk) && pk[i+1].pts <= s {
			i++
		}
		if start != pk[i].pts {
			t.Errorf("SeekSample(%d) = %d, ffprobe's packet starts at %d", s, start, pk[i].pts)
		}
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("ReadPacket after SeekSample(%d): %v", s, err)
		}
		if !bytes.Equal(p, all[i]) {
			t.Errorf("SeekSample(%d): next packet is not packet %d", s, i)
		}
		if q, err := r.ReadPacket(); i+1 < len(all) && (err != nil || !bytes.Equal(q, all[i+1])) {
			t.Errorf("SeekSample(%d): packet after it is not packet %d (%v)", s, i+1, err)
		}
	}
	// Past the end: the next read is io.EOF.
	if _, err := r.SeekSample(10 * 48000 * 60); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Errorf("ReadPacket after seeking past the end: %v, want io.EOF", err)
	}
}

func TestUnsupportedCodecs(t *testing.T) {
	for _, tc := range []struct {
		codec string
		args  []string
	}{
		{"Vorbis", []string{"-c:a", "libvorbis"}},
		{"FLAC", []string{"-c:a", "flac"}},
		{"Speex", []string{"-ar", "16000", "-c:a", "libspeex"}},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			args := append([]string{"-f", "lavfi", "-i", "sine=duration=0.5"}, tc.args...)
			_, data := audiotest.FfmpegFile(t, "x.ogg", append(args, "-f", "ogg")...)
			_, err := NewOpusReader(bytes.NewReader(data))
			audiotest.UnsupportedCodec[*UnsupportedCodecError](t, err, tc.codec)
		})
	}
}

func TestDamagedInput(t *testing.T) {
	_, data := sineOpus(t, "2", "-ac", "2")
	r, _ := NewOpusReader(bytes.NewReader(data))
	all := audiotest.ReadPackets(t, r)

	t.Run("garbage before", func(t *testing.T) {
		junk := append(bytes.Repeat([]byte("xOgg\x00S"), 5000), data...)
		r, err := NewOpusReader(bytes.NewReader(junk))
		if err != nil {
			t.Fatal(err)
		}
		if got := audiotest.ReadPackets(t, r); len(got) != len(all) {
			t.Errorf("%d packets after garbage, want %d", len(got), len(all))
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for _, cut := range []int{len(data) - 1, len(data) * 2 / 3, len(data) / 2, 200} {
			r, err := NewOpusReader(bytes.NewReader(data[:cut]))
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			got := audiotest.ReadPackets(t, r)
			if len(got) == 0 && cut > len(data)*2/3 || len(got) >= len(all) {
				t.Errorf("cut at %d: %d packets of %d", cut, len(got), len(all))
			}
			for i := range got {
				if !bytes.Equal(got[i], all[i]) {
					t.Fatalf("cut at %d: packet %d differs", cut, i)
				}
			}
		}
	})
	t.Run("headers truncated", func(t *testing.T) {
		for _, cut := range []int{0, 10, 40, 80} {
			if _, err := NewOpusReader(bytes.NewReader(data[:cut])); err == nil {
				t.Errorf("cut at %d: no error", cut)
			}
		}
	})
	t.Run("corrupt page", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0xff // breaks one page's checksum
		r, err := NewOpusReader(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		got := audiotest.ReadPackets(t, r)
		if len(got) >= len(all) || len(got) < len(all)/2 {
			t.Errorf("%d packets with one corrupt page, %d without", len(got), len(all))
		}
	})
	t.Run("false capture patterns", func(t *testing.T) {
		// Page headers claiming 255 full segments, over and over, with no valid page.
		hdr := make([]byte, 27, 27+255)
		copy(hdr, "OggS")
		hdr[26] = 255
		one := append(hdr, bytes.Repeat([]byte{255}, 255)...)
		_, err := NewOpusReader(bytes.NewReader(bytes.Repeat(one, 4000)))
		if err == nil || !strings.Contains(err.Error(), "not an Ogg file") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not ogg", func(t *testing.T) {
		_, err := NewOpusReader(bytes.NewReader(bytes.Repeat([]byte{1, 2, 3}, 100000)))
		if err == nil || !strings.Contains(err.Error(), "not an Ogg file") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestChainedAndMultiplexed: a chained file yields only the first stream; a
// file multiplexing two Opus streams yields the first one's packets.
func TestChainedAndMultiplexed(t *testing.T) {
	_, a := sineOpus(t, "1", "-ac", "2")
	_, b := audiotest.FfmpegFile(t, "b.opus", "-f", "lavfi", "-i", "sine=frequency=1000:duration=1.5", "-c:a", "libopus", "-f", "ogg")
	ra, _ := NewOpusReader(bytes.NewReader(a))
	want := audiotest.ReadPackets(t, ra)

	chained := append(bytes.Clone(a), b...)
	r, err := NewOpusReader(bytes.NewReader(chained))
	if err != nil {
		t.Fatal(err)
	}
	if got := audiotest.ReadPackets(t, r); len(got) != len(want) {
		t.Errorf("chained: %d packets, first stream has %d", len(got), len(want))
	}

	path, mux := audiotest.FfmpegFile(t, "mux.ogg", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=1000:duration=1.5", "-map", "0", "-map", "1",
		"-c:a", "libopus", "-b:a", "64k", "-f", "ogg")
	r, err = NewOpusReader(bytes.NewReader(mux))
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.ReadPackets(t, r)
	pk := ffprobePackets(t, path)
	if len(got) != len(pk) {
		t.Fatalf("multiplexed: %d packets, ffprobe's first stream has %d", len(got), len(pk))
	}
	for i := range got {
		if len(got[i]) != pk[i].size {
			t.Fatalf("multiplexed packet %d: %d bytes, ffprobe %d", i, len(got[i]), pk[i].size)
		}
	}
}

func TestOpusHeadLayouts(t *testing.T) {
	base := (&OpusHead{Channels: 2, PreSkip: 312, InputSampleRate: 48000}).AppendBinary(nil)
	fam1 := func(ch, streams, coupled byte, mapping ...byte) []byte {
		b := bytes.Clone(base)
		b[9], b[18] = ch, 1
		return append(append(b, streams, coupled), mapping...)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"family 0 stereo", base, true},
		{"family 1 stereo", fam1(2, 1, 1, 0, 1), true},
		{"family 1 mono", fam1(1, 1, 0, 0), true},
		{"family 1 5.1", fam1(6, 4, 2, 0, 4, 1, 2, 3, 5), false},
		{"family 1 two mono streams", fam1(2, 2, 0, 0, 1), false},
		{"family 255", append(bytes.Clone(base[:18]), 255, 1, 0, 0), false},
		{"short", base[:15], false},
		{"zero channels", append(append(bytes.Clone(base[:9]), 0), base[10:]...), false},
		{"version 16", append(append(bytes.Clone(base[:8]), 16), base[9:]...), false},
	} {
		var h OpusHead
		err := h.UnmarshalBinary(tc.pkt)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	_, data := sineOpus(t, "30", "-ac", "2")
	r, err := NewOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if a := audiotest.PacketAllocs(t, r); a != 0 {
		t.Errorf("ReadPacket: %v allocs per packet", a)
	}
	w, _ := NewOpusWriter(io.Discard, DefaultOpusWriterConfig())
	pkt := make([]byte, 320)
	for range 200 {
		w.WritePacket(pkt, 960)
	}
	if a := testing.AllocsPerRun(1000, func() { w.WritePacket(pkt, 960) }); a != 0 {
		t.Errorf("WritePacket: %v allocs per packet", a)
	}
}

func BenchmarkReadPacket(b *testing.B) {
	_, data := sineOpus(b, "30", "-ac", "2")
	br := bytes.NewReader(data)
	r, err := NewOpusReader(br)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)) / 1500)
	for b.Loop() {
		if _, err := r.ReadPacket(); err == io.EOF {
			r.SeekSample(0)
		}
	}
}

func BenchmarkWritePacket(b *testing.B) {
	w, _ := NewOpusWriter(io.Discard, DefaultOpusWriterConfig())
	pkt := make([]byte, 320)
	b.ReportAllocs()
	for b.Loop() {
		w.WritePacket(pkt, 960)
	}
}

func FuzzOpusReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewOpusWriter(&buf, DefaultOpusWriterConfig())
	for i := range 60 {
		w.WritePacket(bytes.Repeat([]byte{0xfc, byte(i)}, 1+i*5), 960)
	}
	w.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:300])
	// A short stream whose end-of-stream page trims its last packet.
	var trimmed bytes.Buffer
	w, _ = NewOpusWriter(&trimmed, DefaultOpusWriterConfig())
	for range 3 {
		w.WritePacket([]byte{0xfc, 0xff, 0xfe}, 960)
	}
	w.SetFinalGranule(w.Granule() - 500)
	w.Close()
	f.Add(trimmed.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewOpusReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 1000 {
			p, err := r.ReadPacket()
			if err != nil {
				break
			}
			if d, n := r.DiscardPadding(), pktDur(p); d < 0 || int64(d) > n {
				t.Fatalf("padding %d on a packet of %d samples", d, n)
			}
		}
		r.SeekSample(960)
		r.ReadPacket()
		nr, err := NewOpusReader(io.MultiReader(bytes.NewReader(data)))
		if err == nil {
			for range 1000 {
				if _, err := nr.ReadPacket(); err != nil {
					break
				}
			}
		}
	})
}

func FuzzOpusHead(f *testing.F) {
	f.Add((&OpusHead{Channels: 2, PreSkip: 312, InputSampleRate: 44100}).AppendBinary(nil))
	f.Add((&OpusTags{Vendor: "v", Comments: []string{"A=b"}}).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h OpusHead
		if h.UnmarshalBinary(data) == nil && (h.Channels < 1 || h.Channels > 2) {
			t.Fatalf("accepted %d channels", h.Channels)
		}
		var tg OpusTags
		tg.UnmarshalBinary(data)
		PacketSamples(data)
	})
}

// TestWriterBigTagsAndFlush: an OpusTags packet spanning pages (cover art
// sized) and explicit Flush calls still give a file ffprobe and our reader
// read packet for packet.
func TestWriterBigTagsAndFlush(t *testing.T) {
	cfg := DefaultOpusWriterConfig()
	cfg.Comments = []string{"TITLE=big", "METADATA_BLOCK_PICTURE=" + strings.Repeat("A", 150_000)}
	var buf bytes.Buffer
	w, err := NewOpusWriter(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 30 {
		p := bytes.Repeat([]byte{byte(i)}, 100+i)
		p[0] = 0xfc
		want = append(want, p)
		if err := w.WritePacket(p, 960); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(want[0], 960); err == nil {
		t.Error("WritePacket after Close succeeded")
	}
	r, err := NewOpusReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tags().Vendor != "quaver" || len(r.Tags().Comments) == 0 || r.Tags().Comments[0] != "TITLE=big" {
		t.Errorf("tags %q", r.Tags().Comments[:min(1, len(r.Tags().Comments))])
	}
	if r.Duration() != 30*960-312 {
		t.Errorf("Duration %d", r.Duration())
	}
	got := audiotest.ReadPackets(t, r)
	if len(got) != len(want) {
		t.Fatalf("%d packets, wrote %d", len(got), len(want))
	}
	path := filepath.Join(t.TempDir(), "tags.opus")
	os.WriteFile(path, buf.Bytes(), 0o644)
	if pk := ffprobePackets(t, path); len(pk) != len(want) {
		t.Errorf("ffprobe sees %d packets, wrote %d", len(pk), len(want))
	}
}

// TestDiscardPadding: the end trim of the last page's granule position is
// reported on the last packet only, and with it the packets decode to exactly
// what ffmpeg decodes, read from a file or a live stream, from the start or
// after a seek, and when the whole stream fits on one page.
func TestDiscardPadding(t *testing.T) {
	// A stream on one page (first audio page = end-of-stream page), by our writer.
	var one bytes.Buffer
	w, err := NewOpusWriter(&one, DefaultOpusWriterConfig())
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		w.WritePacket([]byte{0xfc, 0xff, 0xfe}, 960) // CELT FB 20 ms silence
	}
	if err := w.SetFinalGranule(w.Granule() - 700); err != nil {
		t.Fatal(err)
	}
	w.Close()
	onePath := audiotest.WriteFile(t, "one.opus", one.Bytes())

	for _, tc := range []struct {
		name  string
		extra []string // ffmpeg options; nil for the one-page stream
		live  bool
		seek  int64 // SeekSample before reading, in samples from the end; 0 for none
	}{
		{"20ms file", []string{"-ac", "2"}, false, 0},
		{"20ms live", []string{"-ac", "2"}, true, 0},
		{"20ms file after seek", []string{"-ac", "2"}, false, 5000},
		{"60ms file", []string{"-ac", "1", "-frame_duration", "60"}, false, 0},
		{"60ms live", []string{"-ac", "1", "-frame_duration", "60"}, true, 0},
		{"one page file", nil, false, 0},
		{"one page live", nil, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := onePath, one.Bytes()
			if tc.extra != nil {
				path, data = sineOpus(t, "1.013", tc.extra...)
			}
			want := int64(len(decodePCM(t, path)) / 4) // s16 stereo
			var in io.Reader = bytes.NewReader(data)
			if tc.live {
				in = io.MultiReader(in) // hides Seek
			}
			r, err := NewOpusReader(in)
			if err != nil {
				t.Fatal(err)
			}
			from := -int64(r.PreSkip()) // where the first packet starts, in samples after pre-skip
			if tc.seek > 0 {
				if from, err = r.SeekSample(want - tc.seek); err != nil {
					t.Fatal(err)
				}
			}
			var total, trim int64
			for i := 0; ; i++ {
				p, err := r.ReadPacket()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if trim != 0 {
					t.Fatalf("packet %d follows a packet with padding %d", i, trim)
				}
				n, _ := PacketSamples(p)
				total += int64(n)
				trim = int64(r.DiscardPadding())
			}
			if trim == 0 {
				t.Fatal("no padding on the last packet")
			}
			if end := from + total - trim; end != want {
				t.Errorf("packets from %d end at %d after trimming %d; ffmpeg decodes %d", from, end, trim, want)
			}
		})
	}
}
