package opus

import (
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/internal/testenv"
)

func TestPacketSamples(t *testing.T) {
	tests := []struct {
		name   string
		packet []byte
		want   int
		err    bool
	}{
		{"celt fb 20ms one frame", []byte{31 << 3, 0}, 960, false},
		{"celt fb 20ms two frames", []byte{31<<3 | 1}, 1920, false},
		{"silk nb 60ms", []byte{3 << 3}, 2880, false},
		{"hybrid fb 10ms", []byte{14 << 3}, 480, false},
		{"celt 2.5ms code 3 x4", []byte{16<<3 | 3, 4}, 480, false},
		{"hybrid fb 20ms code 3 x2", []byte{15<<3 | 3, 2}, 1920, false},
		{"silk nb 40ms code 3 x3 is 120 ms", []byte{2<<3 | 3, 3}, 5760, false},
		{"code 3 too long", []byte{3<<3 | 3, 3}, 0, true},
		{"code 3 zero frames", []byte{31<<3 | 3, 0}, 0, true},
		{"code 3 truncated", []byte{31<<3 | 3}, 0, true},
		{"empty", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PacketSamples(tt.packet)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("PacketSamples = %d, %v; want %d, err=%v", got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzPacketSamples(f *testing.F) {
	f.Add([]byte{0xf8, 0xff, 0xfe})
	f.Add([]byte{0x03, 0x3f})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, err := PacketSamples(p)
		if err == nil && (n <= 0 || n > MaxFrameSamples) {
			t.Fatalf("bad duration %d", n)
		}
	})
}

// TestRoundTrip encodes a tone and decodes it again: the decoded audio must
// correlate with the source once the encoder's lookahead is accounted for.
func TestRoundTrip(t *testing.T) {
	src := audiotest.Music(SampleRate, 2, 2)
	enc, err := NewEncoder(DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder(2)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var out []float32
	pkt := make([]byte, MaxPacket)
	pcm := make([]float32, MaxFrameSamples*2)
	for off := 0; off+FrameSamples*2 <= len(src.Samples); off += FrameSamples * 2 {
		n, err := enc.Encode(src.Samples[off:off+FrameSamples*2], pkt)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := PacketSamples(pkt[:n]); got != FrameSamples {
			t.Fatalf("packet duration %d", got)
		}
		m, err := dec.Decode(pkt[:n], pcm)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pcm[:m*2]...)
	}
	got := audiotest.Signal{Rate: SampleRate, Channels: 2, Samples: out}
	ncc, lag := audiotest.NCC(src.Channel(0), got.Channel(0), 1000)
	if ncc < 0.98 {
		t.Fatalf("ncc %.4f at lag %d", ncc, lag)
	}
	if la := enc.Lookahead(); lag != la {
		t.Errorf("decoded audio is %d samples late, encoder lookahead says %d", lag, la)
	}
}

func TestEncodeNoAllocs(t *testing.T) {
	enc, _ := NewEncoder(DefaultEncoderConfig())
	defer enc.Close()
	dec, _ := NewDecoder(2)
	defer dec.Close()
	src := audiotest.Tone(SampleRate, 2, 0.02, 440, 0.5).Samples
	pkt := make([]byte, MaxPacket)
	pcm := make([]float32, MaxFrameSamples*2)
	allocs := testing.AllocsPerRun(50, func() {
		_ = enc.Lookahead()
		n, err := enc.Encode(src, pkt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Decode(pkt[:n], pcm); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per encode+decode", allocs)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewEncoder(EncoderConfig{Channels: 3}); err == nil {
		t.Error("3 channels accepted")
	}
	if _, err := NewEncoder(EncoderConfig{Channels: 2, Bitrate: 1}); err == nil {
		t.Error("bitrate 1 accepted")
	}
	enc, _ := NewEncoder(DefaultEncoderConfig())
	defer enc.Close()
	if _, err := enc.Encode(make([]float32, 1000), make([]byte, MaxPacket)); err == nil {
		t.Error("odd frame size accepted")
	}
	dec, _ := NewDecoder(2)
	defer dec.Close()
	pcm := make([]float32, MaxFrameSamples*2)
	for _, p := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0xff}, {0x03, 0x3f, 1, 2}} {
		if _, err := dec.Decode(p, pcm); err == nil {
			t.Errorf("garbage packet %x decoded", p)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	enc, _ := NewEncoder(DefaultEncoderConfig())
	defer enc.Close()
	src := audiotest.Music(SampleRate, 2, 1).Samples
	pkt := make([]byte, MaxPacket)
	b.ReportAllocs()
	start := testenv.CPUTime()
	for i := 0; b.Loop(); i++ {
		off := (i % 50) * FrameSamples * 2
		if _, err := enc.Encode(src[off:off+FrameSamples*2], pkt); err != nil {
			b.Fatal(err)
		}
	}
	testenv.ReportCPU(b, start)
}
