package flac

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// blockSamples is the per-channel size of one ReadPCM call in the allocation
// test and the benchmark.
const blockSamples = 4096

// TestReadPCMAllocs proves ReadPCM and ReadSamples allocate nothing per call
// in steady state, including across frame boundaries and after a seek.
func TestReadPCMAllocs(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 44100, channels: 2, seconds: 5}, 16, 5)
	d, err := NewDecoder(bytes.NewReader(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, blockSamples*2)
	ibuf := make([]int32, 1000)
	if _, err := d.ReadPCM(buf); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(30, func() {
		if _, err := d.ReadPCM(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadSamples(ibuf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per ReadPCM call, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() {
		if _, err := d.SeekSample(44100 * 2); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadPCM(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per seek and read, want 0", allocs)
	}
}

// BenchmarkDecode decodes 16-bit stereo 44.1 kHz music-like audio (ffmpeg,
// compression level 5) in blocks of 4096 samples per channel and reports the
// realtime factor for one core.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		make func(b *testing.B) string
	}{
		{"ffmpeg_16bit_stereo_44k_level5", func(b *testing.B) string {
			return ffmpegFLAC(b, source{rate: 44100, channels: 2, seconds: 20}, 16, 5)
		}},
		{"flac_16bit_stereo_44k_level8", func(b *testing.B) string {
			return flacCLI(b, source{rate: 44100, channels: 2, seconds: 20}, 16, "-8")
		}},
		{"flac_24bit_stereo_96k_level8", func(b *testing.B) string {
			return flacCLI(b, source{rate: 96000, channels: 2, seconds: 10}, 24, "-8")
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := readFile(b, c.make(b))
			d, err := NewDecoder(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]float32, blockSamples*d.Channels())
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				n, err := d.ReadPCM(buf)
				if errors.Is(err, io.EOF) || n < len(buf) {
					if _, err := d.SeekSample(0); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			// On a shared machine wall time overstates the cost: report the
			// process CPU time too, and the realtime factor from it.
			cpu := (cpuTime() - cpu0).Seconds() / float64(b.N)
			b.ReportMetric(cpu*1e9, "cpu-ns/op")
			b.ReportMetric(float64(blockSamples)/float64(d.SampleRate())/cpu, "x-realtime-cpu")
			wall := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(blockSamples)/float64(d.SampleRate())/wall, "x-realtime-wall")
		})
	}
}
