package mp3

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchFile encodes 10 s of the music-like stereo mix at 128 kbps CBR.
func benchFile(b testing.TB) []byte {
	dir := b.TempDir()
	src := genSource(b, dir, "bench", exprMusic, 44100, 2, 10)
	p := encode(b, src, filepath.Join(dir, "bench.mp3"), "-b:a", "128k")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkDecode reports the cost of decoding one 1152-sample stereo frame
// and the realtime factor on one core.
func BenchmarkDecode(b *testing.B) {
	data := benchFile(b)
	buf := make([]float32, 1152*2)
	r := bytes.NewReader(data)
	d, err := NewDecoder(r)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	frames := 0
	for i := 0; i < b.N; i++ {
		n, err := d.ReadPCM(buf)
		if errors.Is(err, io.EOF) {
			b.StopTimer()
			if _, err := d.SeekSample(0); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		frames += n / 2
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if frames > 0 {
		nf := float64(frames) / 1152
		nsPerFrame := float64(b.Elapsed().Nanoseconds()) / nf
		b.ReportMetric(nsPerFrame, "ns/frame")
		b.ReportMetric(1152.0/44100*1e9/nsPerFrame, "x-realtime")
		// CPU time is what the shared 2-core machine cannot distort.
		cpuPerFrame := float64(cpu.Nanoseconds()) / nf
		b.ReportMetric(cpuPerFrame, "cpu-ns/frame")
		b.ReportMetric(1152.0/44100*1e9/cpuPerFrame, "x-realtime-cpu")
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
