package webm

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/internal/testenv"
)

// chirp is a rising tone: every Opus packet of it differs from the others.
const chirp = "aevalsrc=0.4*sin(2*PI*(200+300*t)*t)|0.4*sin(2*PI*(300+200*t)*t):s=48000:d="

// opusWebM makes a WebM (or .mka) file of seconds of chirp with libopus.
func opusWebM(t testing.TB, seconds, format string, extra ...string) (string, []byte) {
	args := append([]string{"-f", "lavfi", "-i", chirp + seconds}, extra...)
	args = append(args, "-c:a", "libopus", "-b:a", "96k", "-f", format)
	return audiotest.FfmpegFile(t, "x."+format, args...)
}

// oggPackets remuxes path to Ogg with ffmpeg (-c copy) and reads the packets
// back with the Ogg reader: the reference packet sequence.
func oggPackets(t testing.TB, path string) [][]byte {
	t.Helper()
	_, data := audiotest.FfmpegFile(t, "ref.opus", "-i", path, "-c", "copy", "-f", "ogg")
	r, err := ogg.NewOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return audiotest.ReadPackets(t, r)
}

func samePackets(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets, reference %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs from the reference (%d vs %d bytes)", i, len(got[i]), len(want[i]))
		}
	}
}

func TestPacketsMatchOggRemux(t *testing.T) {
	for _, tc := range []struct {
		name, format, container string
		extra                   []string
		ch                      int
	}{
		{"webm stereo", "webm", "webm", nil, 2},
		{"webm mono", "webm", "webm", []string{"-ac", "1"}, 1},
		{"matroska 60ms", "matroska", "matroska", []string{"-frame_duration", "60"}, 2},
		{"webm small clusters", "webm", "webm", []string{"-cluster_time_limit", "300"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := opusWebM(t, "3", tc.format, tc.extra...)
			r, err := NewOpusReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if r.Container() != tc.container || r.Channels() != tc.ch || r.PreSkip() != 312 {
				t.Errorf("container %q channels %d pre-skip %d", r.Container(), r.Channels(), r.PreSkip())
			}
			if d := r.Duration(); math.Abs(float64(d-144000)) > 960 {
				t.Errorf("Duration %d, want 144000 within a frame", d)
			}
			samePackets(t, audiotest.ReadPackets(t, r), oggPackets(t, path))
		})
	}
}

// TestLiveStream: ffmpeg writing to a pipe makes an unknown-size Segment
// without Cues, read here through a non-seekable reader.
func TestLiveStream(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", chirp+"2",
		"-c:a", "libopus", "-f", "webm", "-live", "1", "pipe:1")
	data, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "live.webm")
	os.WriteFile(path, data, 0o644)
	r, err := NewOpusReader(io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Duration() != -1 {
		t.Errorf("Duration %d for a live stream, want -1", r.Duration())
	}
	if _, err := r.SeekSample(48000); err == nil {
		t.Error("SeekSample on a non-seekable stream succeeded")
	}
	samePackets(t, audiotest.ReadPackets(t, r), oggPackets(t, path))

	// The same bytes seekable: no Cues, so seeking hops clusters.
	r, err = NewOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	checkSeeks(t, r, ffprobeStarts(t, path), []int64{0, 30000, 60000, 95000})
}

// ffprobeStarts returns each packet's start in 48 kHz samples after pre-skip,
// as ffmpeg's demuxer reports it (millisecond timestamps).
func ffprobeStarts(t testing.TB, path string) []int64 {
	t.Helper()
	fp := testenv.Tool(t, "ffprobe")
	out, err := exec.Command(fp, "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var starts []int64
	for _, l := range strings.Fields(string(out)) {
		f, err := strconv.ParseFloat(strings.Trim(l, ","), 64)
		if err != nil {
			continue
		}
		starts = append(starts, int64(math.Round(f*48000)))
	}
	return starts
}

// checkSeeks seeks to each target and checks the packet returned is the one
// ffprobe places there (within the 1 ms rounding of Matroska timestamps) and
// that the reported start is within a millisecond of ffprobe's.
func checkSeeks(t *testing.T, r *OpusReader, starts []int64, targets []int64) {
	t.Helper()
	all := audiotest.ReadPackets(t, r)
	if len(all) != len(starts) {
		t.Fatalf("%d packets, ffprobe %d", len(all), len(starts))
	}
	for _, s := range targets {
		start, err := r.SeekSample(s)
		if err != nil {
			t.Fatalf("SeekSample(%d): %v", s, err)
		}
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("ReadPacket after SeekSample(%d): %v", s, err)
		}
		i := -1
		for j := range all {
			if bytes.Equal(all[j], p) {
				i = j
				break
			}
		}
		if i < 0 {
			t.Fatalf("SeekSample(%d): packet not in the stream", s)
		}
		end := int64(math.MaxInt64)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		if s < starts[i]-48 || s >= end+48 {
			t.Errorf("SeekSample(%d) gave packet %d spanning [%d, %d)", s, i, starts[i], end)
		}
		if d := start - starts[i]; d < -48 || d > 48 {
			t.Errorf("SeekSample(%d) = %d, ffprobe's start %d", s, start, starts[i])
		}
		if q, err := r.ReadPacket(); i+1 < len(all) && (err != nil || !bytes.Equal(q, all[i+1])) {
			t.Errorf("SeekSample(%d): the packet after is not packet %d", s, i+1)
		}
	}
}

func TestSeekWithCues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"cues at end", nil},
		{"cues before clusters", []string{"-cues_to_front", "1"}}, // like YouTube's DASH files
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := opusWebM(t, "8", "webm", append([]string{"-cluster_time_limit", "500"}, tc.extra...)...)
			r, err := NewOpusReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			// Open reads the Cues wherever they are: the last cue point leads
			// to the last Cluster, whose DiscardPadding gives the exact end.
			if !r.cuesLoaded {
				t.Error("cues not read at open")
			}
			checkSeeks(t, r, ffprobeStarts(t, path), []int64{0, 1, 311, 960, 47999, 48000, 123456, 200000, 300001, 383000, 5})
			if len(r.cues) < 10 {
				t.Errorf("%d cue points loaded, want about 16", len(r.cues))
			}
			if _, err := r.SeekSample(1 << 40); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReadPacket(); err != io.EOF {
				t.Errorf("ReadPacket after seeking past the end: %v", err)
			}
		})
	}
}

func TestUnsupportedCodecs(t *testing.T) {
	for _, tc := range []struct{ codec, name string }{
		{"libvorbis", "Vorbis"}, {"aac", "AAC"}, {"libmp3lame", "MP3"}, {"flac", "FLAC"}, {"pcm_s16le", "PCM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, data := audiotest.FfmpegFile(t, "x.mka", "-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", tc.codec, "-f", "matroska")
			_, err := NewOpusReader(bytes.NewReader(data))
			audiotest.UnsupportedCodec[*UnsupportedCodecError](t, err, tc.name)
		})
	}
}

func TestDamagedFiles(t *testing.T) {
	path, data := opusWebM(t, "3", "webm", "-cluster_time_limit", "500")
	want := oggPackets(t, path)
	t.Run("truncated", func(t *testing.T) {
		for _, cut := range []int{len(data) - 1, len(data) * 3 / 4, len(data) / 2, 700} {
			r, err := NewOpusReader(bytes.NewReader(data[:cut]))
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			got := audiotest.ReadPackets(t, r)
			if len(got) >= len(want) && cut < len(data)-100 || len(got) > len(want) {
				t.Errorf("cut at %d of %d: %d packets of %d", cut, len(data), len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("cut at %d: packet %d differs", cut, i)
				}
			}
		}
	})
	t.Run("garbage inside", func(t *testing.T) {
		bad := bytes.Clone(data)
		mid := len(bad) / 3
		for i := mid; i < mid+2000; i++ {
			bad[i] = 0 // invalid EBML IDs: the reader must resync at the next Cluster
		}
		r, err := NewOpusReader(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		got := audiotest.ReadPackets(t, r)
		if len(got) < len(want)/2 || len(got) >= len(want) {
			t.Errorf("%d packets with damage, %d without", len(got), len(want))
		}
		// The tail after the damage is intact.
		if !bytes.Equal(got[len(got)-1], want[len(want)-1]) {
			t.Error("last packet after resync differs")
		}
	})
	t.Run("headers", func(t *testing.T) {
		for _, cut := range []int{0, 3, 30, 200} {
			if _, err := NewOpusReader(bytes.NewReader(data[:cut])); err == nil {
				t.Errorf("cut at %d: no error", cut)
			}
		}
		if _, err := NewOpusReader(bytes.NewReader(bytes.Repeat([]byte("garbage!"), 1000))); err == nil || !strings.Contains(err.Error(), "not an EBML file") {
			t.Errorf("garbage: %v", err)
		}
	})
}

// A tiny EBML writer for hand-made files (independent of the reader).
func elem(id uint32, body ...[]byte) []byte {
	var b []byte
	for s := id; s > 0; s >>= 8 {
		b = append([]byte{byte(s)}, b...)
	}
	n := 0
	for _, p := range body {
		n += len(p)
	}
	b = append(b, 0x08, 0, 0, 0, 0, 0, 0, 0) // 8-byte size
	binary.BigEndian.PutUint64(b[len(b)-8:], uint64(n)|1<<56)
	for _, p := range body {
		b = append(b, p...)
	}
	return b
}

func unknownElem(id uint32, body ...[]byte) []byte {
	b := elem(id, body...)
	i := len(b) - 8
	for _, p := range body {
		i -= len(p)
	}
	copy(b[i:], []byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return b
}

func uintElem(id uint32, v uint64) []byte {
	return elem(id, binary.BigEndian.AppendUint64(nil, v))
}

// pkt is a fake 20 ms Opus packet (valid TOC) of n bytes tagged with tag.
func pkt(tag byte, n int) []byte {
	p := bytes.Repeat([]byte{tag}, n)
	p[0] = 0xfc
	return p
}

func simpleBlock(track byte, rel int16, flags byte, payload ...byte) []byte {
	b := []byte{0x80 | track, byte(uint16(rel) >> 8), byte(rel), flags}
	return elem(idSimpleBlock, append(b, payload...))
}

func TestLacingAndLiveClusters(t *testing.T) {
	p := [][]byte{pkt(1, 10), pkt(2, 300), pkt(3, 7), pkt(4, 255), pkt(5, 40), pkt(6, 40), pkt(7, 40), pkt(8, 510), pkt(9, 3)}
	// Xiph lacing of p[0..2]: count-1, then sizes of all but the last.
	xiph := []byte{2, 10, 255, 45}
	xiph = append(append(append(xiph, p[0]...), p[1]...), p[2]...)
	// EBML lacing of p[3..4]... p[3], p[4] with 2 frames: first size as vint.
	ebml := []byte{1, 0x40 | byte(255>>8), 255}
	ebml = append(append(ebml, p[3]...), p[4]...)
	// Fixed lacing of p[5], p[6]: equal sizes.
	fixed := append(append([]byte{1}, p[5]...), p[6]...)
	// EBML lacing with three frames: p[7] (510), p[2] (7), p[8] (3); the
	// second size is a signed difference: 7-510 = -503, 2-byte vint with bias 8191.
	diff := uint16(-503 + 8191)
	ebml3 := []byte{2, 0x40 | byte(510>>8), byte(510 & 0xff), 0x40 | byte(diff>>8), byte(diff)}
	ebml3 = append(append(append(ebml3, p[7]...), p[2]...), p[8]...)

	cluster1 := unknownElem(idCluster, uintElem(idTimecode, 0),
		simpleBlock(1, 0, 0x80|0x02, xiph...),
		simpleBlock(2, 0, 0x80, []byte("other track")...),
		simpleBlock(1, 60, 0x80|0x06, ebml...),
		elem(idBlockGroup, elem(idBlock, append([]byte{0x81, 0, 100, 0x04}, fixed...)), uintElem(0x9B, 40)),
	)
	cluster2 := unknownElem(idCluster, uintElem(idTimecode, 140), simpleBlock(1, 0, 0x86, ebml3...))
	file := append(elem(idEBML, elem(idDocType, []byte("webm"))), unknownElem(idSegment, append(tracksOnly(), append(cluster1, cluster2...)...))...)

	r, err := NewOpusReader(io.MultiReader(bytes.NewReader(file)))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[2], p[8]}
	samePackets(t, audiotest.ReadPackets(t, r), want)

	r, err = NewOpusReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	// 8 packets of 960 precede p[7], which starts at 140 ms = 6720 samples raw.
	start, err := r.SeekSample(6720 - 312 + 100)
	if err != nil {
		t.Fatal(err)
	}
	if start != 6720-312 {
		t.Errorf("SeekSample start %d, want %d", start, 6720-312)
	}
	if got, _ := r.ReadPacket(); !bytes.Equal(got, p[7]) {
		t.Errorf("after SeekSample: wrong packet")
	}
}

func tracksOnly() []byte {
	head := (&ogg.OpusHead{Channels: 2, PreSkip: 312, InputSampleRate: 48000}).AppendBinary(nil)
	return elem(idTracks, elem(idTrackEntry, uintElem(idTrackNumber, 1), uintElem(idTrackType, 2),
		elem(idCodecID, []byte("A_OPUS")), elem(idCodecPrivate, head)))
}

func TestHostileSizes(t *testing.T) {
	ebmlHdr := elem(idEBML, elem(idDocType, []byte("webm")))
	huge := []byte{0x16, 0x54, 0xAE, 0x6B, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0} // Tracks of ~2^56 bytes
	for name, file := range map[string][]byte{
		"huge tracks":      append(append(bytes.Clone(ebmlHdr), 0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), huge...),
		"huge ebml header": {0x1A, 0x45, 0xDF, 0xA3, 0x01, 0x00, 0, 0, 0, 0, 0, 0},
		"bad doctype":      elem(idEBML, elem(idDocType, []byte("mp4"))),
		"no audio":         append(bytes.Clone(ebmlHdr), elem(idSegment, elem(idTracks, elem(idTrackEntry, uintElem(idTrackNumber, 1), uintElem(idTrackType, 1))), elem(idCluster))...),
		"no cluster":       append(bytes.Clone(ebmlHdr), elem(idSegment, tracksOnly())...),
	} {
		var ms runtimeMem
		ms.start()
		_, err := NewOpusReader(bytes.NewReader(file))
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if a := ms.allocated(); a > 4<<20 {
			t.Errorf("%s: allocated %d bytes", name, a)
		}
	}
	// A huge block inside a cluster is skipped as damage, not allocated.
	file := append(bytes.Clone(ebmlHdr), elem(idSegment, tracksOnly(), elem(idCluster, uintElem(idTimecode, 0),
		[]byte{0xA3, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0}, simpleBlock(1, 0, 0x80, pkt(1, 20)...)))...)
	r, err := NewOpusReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var ms runtimeMem
	ms.start()
	audiotest.ReadPackets(t, r)
	if a := ms.allocated(); a > 4<<20 {
		t.Errorf("huge block: allocated %d bytes", a)
	}
}

func TestZeroAllocs(t *testing.T) {
	_, data := opusWebM(t, "12", "webm")
	r, err := NewOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if a := audiotest.PacketAllocs(t, r); a != 0 {
		t.Errorf("ReadPacket: %v allocs per packet", a)
	}
}

func BenchmarkReadPacket(b *testing.B) {
	_, data := opusWebM(b, "30", "webm")
	r, err := NewOpusReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadPacket(); err == io.EOF {
			r.SeekSample(0)
		}
	}
}

func FuzzOpusReader(f *testing.F) {
	ebmlHdr := elem(idEBML, elem(idDocType, []byte("webm")))
	f.Add(append(bytes.Clone(ebmlHdr), elem(idSegment, tracksOnly(), elem(idCluster, uintElem(idTimecode, 0),
		simpleBlock(1, 0, 0x80, pkt(1, 20)...), simpleBlock(1, 20, 0x82, 1, 3, pkt(2, 3)[0], 2, 2, 2, 2)))...))
	f.Add(append(bytes.Clone(ebmlHdr), unknownElem(idSegment, tracksOnly(), unknownElem(idCluster, uintElem(idTimecode, 7),
		simpleBlock(1, 0, 0x86, 1, 0x82, pkt(1, 5)[0], 1, 1, 1, 0xfc, 9)))...))
	// A BlockGroup whose DiscardPadding (2 ms, after the Block) trims its last frame.
	f.Add(append(bytes.Clone(ebmlHdr), elem(idSegment, tracksOnly(), elem(idCluster, uintElem(idTimecode, 0),
		simpleBlock(1, 0, 0x80, pkt(1, 20)...),
		elem(idBlockGroup, elem(idBlock, append([]byte{0x81, 0, 20, 0}, pkt(2, 9)...)), elem(idDiscardPadding, []byte{0x1e, 0x84, 0x80}))))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewOpusReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 500 {
			p, err := r.ReadPacket()
			if err != nil {
				break
			}
			if n, _ := ogg.PacketSamples(p); r.DiscardPadding() < 0 || r.DiscardPadding() > n {
				t.Fatalf("DiscardPadding %d for a packet of %d samples", r.DiscardPadding(), n)
			}
		}
		r.SeekSample(1000)
		r.ReadPacket()
	})
}

// TestDiscardPadding: ffmpeg marks the padding of the last Opus packet with
// DiscardPadding when the length is not a whole number of packets; the
// reader reports it for that packet only, and Duration ends where ffmpeg's
// own decoding of the file ends.
func TestDiscardPadding(t *testing.T) {
	for _, tc := range []struct {
		name, seconds, format string
		extra                 []string
	}{
		{"webm 1.013 s", "1.013", "webm", nil},
		{"webm 2.517 s small clusters", "2.517", "webm", []string{"-cluster_time_limit", "300"}},
		{"matroska 1.013 s 60ms", "1.013", "matroska", []string{"-frame_duration", "60"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := opusWebM(t, tc.seconds, tc.format, tc.extra...)
			want := int64(audiotest.Decode(t, path, 48000, 2).Frames())
			r, err := NewOpusReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var total, pad int64
			for i := 0; ; i++ {
				p, err := r.ReadPacket()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n, _ := ogg.PacketSamples(p)
				total += int64(n)
				if pad != 0 {
					t.Fatalf("packet %d follows the padded packet", i)
				}
				pad = int64(r.DiscardPadding())
			}
			if pad <= 0 {
				t.Fatal("the last packet has no DiscardPadding: ffmpeg did not write it")
			}
			if got := total - int64(r.PreSkip()) - pad; got != want {
				t.Errorf("packets minus pre-skip and padding: %d samples, ffmpeg decodes %d", got, want)
			}
			// Block timestamps are whole milliseconds: Duration is exact to 1 ms.
			if d := r.Duration(); d < want-48 || d > want+48 {
				t.Errorf("Duration %d samples, ffmpeg decodes %d", d, want)
			}
		})
	}
}
