// Command audiocmp compares Quaver's audio engine with the pipeline most Go
// and JavaScript bots use today, an ffmpeg subprocess per stream, side by side
// in one run: the same inputs transcoded to Opus at the same bitrate and
// complexity, reporting CPU seconds per audio second and memory per stream.
//
//	go run ./bench/audiocmp [-seconds 60] [-streams 20] [-json]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quaverbot/quaver/audio"
	"github.com/quaverbot/quaver/audio/synth"
)

// result is one row of the comparison.
type result struct {
	Input              string  `json:"input"`
	Engine             string  `json:"engine"`
	CPUPerAudioSecond  float64 `json:"cpu_seconds_per_audio_second"`
	MemoryPerStreamKB  float64 `json:"memory_per_stream_kb"`
	PeakRSSPerStreamKB float64 `json:"peak_rss_per_stream_kb,omitempty"`
	PassThrough        bool    `json:"passthrough,omitempty"`
	MicrosPerFrame     float64 `json:"cpu_us_per_frame"`
}

func main() {
	seconds := flag.Float64("seconds", 60, "length of the generated test audio")
	streams := flag.Int("streams", 20, "concurrent streams for the memory measurement")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	runs := flag.Int("runs", 3, "CPU measurements per engine and input, interleaved; the median is reported (a loaded machine makes single runs noisy)")
	only := flag.String("only", "", "measure only the inputs whose name contains this")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of quaver's transcodes to this file")
	flag.Parse()
	log.SetFlags(0)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		log.Fatal("audiocmp: ffmpeg is not installed (make test-deps installs it)")
	}
	dir, err := os.MkdirTemp("", "audiocmp")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	src := synth.Music(44100, 2, *seconds)
	wav := filepath.Join(dir, "src.wav")
	if err := os.WriteFile(wav, synth.WAV(src), 0o644); err != nil {
		log.Fatal(err)
	}
	src48 := synth.Music(48000, 2, *seconds)
	wav48 := filepath.Join(dir, "src48.wav")
	if err := os.WriteFile(wav48, synth.WAV(src48), 0o644); err != nil {
		log.Fatal(err)
	}
	inputs := []struct {
		name, file, from string
		args             []string
		volume           int
	}{
		{"mp3 44.1k", "in.mp3", wav, []string{"-c:a", "libmp3lame", "-b:a", "192k"}, 100},
		{"flac 44.1k", "in.flac", wav, []string{"-c:a", "flac"}, 100},
		{"webm/opus + volume", "in.webm", wav48, []string{"-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20"}, 80},
		{"webm/opus pass-through", "in2.webm", wav48, []string{"-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20"}, 100},
		// 48 kHz PCM: no decode or resampling, so this row compares the two Opus encoders alone.
		{"wav 48k (encode only)", "in48.wav", wav48, []string{"-c:a", "pcm_s16le"}, 100},
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer pf.Close()
		profile = pf
	}
	var rows []result
	for _, in := range inputs {
		if !strings.Contains(in.name, *only) {
			continue
		}
		path := filepath.Join(dir, in.file)
		if out, err := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-loglevel", "error", "-y", "-i", in.from}, in.args...), path)...).CombinedOutput(); err != nil {
			log.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		// Interleave the engines' CPU runs so load changes on a shared machine hit both alike.
		var qcpu, fcpu []float64
		var q, f result // memory figures come from the first run
		for r := 0; r < max(*runs, 1); r++ {
			qr, err := measureQuaver(path, in.volume, *seconds, *streams, r == 0)
			if err != nil {
				log.Fatal(err)
			}
			fr, err := measureFfmpeg(path, in.volume, *seconds, *streams, r == 0)
			if err != nil {
				log.Fatal(err)
			}
			if r == 0 {
				q, f = qr, fr
			}
			qcpu = append(qcpu, qr.CPUPerAudioSecond)
			fcpu = append(fcpu, fr.CPUPerAudioSecond)
		}
		q = withCPU(q, median(qcpu), *seconds)
		f = withCPU(f, median(fcpu), *seconds)
		q.Input, f.Input = in.name, in.name
		rows = append(rows, q, f)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return
	}
	fmt.Printf("%d s of audio per stream, median CPU of %d runs, %d concurrent streams for memory, GOMAXPROCS=%d\n\n", int(*seconds), max(*runs, 1), *streams, runtime.GOMAXPROCS(0))
	fmt.Printf("%-24s %-8s %14s %12s %14s %14s\n", "input", "engine", "cpu s/audio s", "cpu µs/frame", "mem/stream KB", "peak RSS KB")
	for i, r := range rows {
		fmt.Printf("%-24s %-8s %14.5f %12.1f %14.0f %14.0f\n", r.Input, r.Engine, r.CPUPerAudioSecond, r.MicrosPerFrame, r.MemoryPerStreamKB, r.PeakRSSPerStreamKB)
		if i%2 == 1 {
			q, f := rows[i-1], r
			fmt.Printf("%-24s ratio quaver/ffmpeg: cpu %.3f, memory %.3f\n", "", q.CPUPerAudioSecond/f.CPUPerAudioSecond, q.MemoryPerStreamKB/f.MemoryPerStreamKB)
		}
	}
}

// profile, when set, receives a CPU profile of every quaver transcode.
var profile io.Writer

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// withCPU sets r's CPU figures from cpu seconds per audio second.
func withCPU(r result, cpu, seconds float64) result {
	r.CPUPerAudioSecond = cpu
	r.MicrosPerFrame = cpu * 1e6 / 50
	return r
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureQuaver transcodes path once for CPU, then (if withMemory) holds streams
// Tracks open and playing for memory (RSS growth per stream, the whole process counted).
func measureQuaver(path string, volume int, seconds float64, streams int, withMemory bool) (result, error) {
	cfg := audio.DefaultConfig()
	cfg.Volume = volume
	p, err := audio.OpenPipeline(context.Background(), path, cfg)
	if err != nil {
		return result{}, err
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			profile = nil
		}
	}
	start := cpuSelf()
	frames, err := audio.WriteOgg(p, io.Discard)
	cpu := cpuSelf() - start
	if profile != nil {
		pprof.StopCPUProfile()
		profile = nil // one profile per process: the first transcode measured
	}
	pass := p.Passing()
	p.Close()
	if err != nil {
		return result{}, err
	}
	res := result{
		Engine:            "quaver",
		CPUPerAudioSecond: cpu.Seconds() / seconds,
		MicrosPerFrame:    float64(cpu.Microseconds()) / float64(frames),
		PassThrough:       pass,
	}
	if !withMemory {
		return res, nil
	}

	runtime.GC()
	debug.FreeOSMemory()
	before := rssKB()
	tracks := make([]*audio.Track, streams)
	for i := range tracks {
		if tracks[i], err = audio.Open(context.Background(), path, cfg); err != nil {
			return result{}, err
		}
	}
	// Pull half a second from each so every pipeline is warm and its read-ahead full.
	var wg sync.WaitGroup
	for _, tr := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			for got < 25 {
				if _, ok := tr.NextFrame(); ok {
					got++
				} else {
					time.Sleep(time.Millisecond)
				}
			}
			for tr.Buffered() < 900*time.Millisecond {
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	after := rssKB()
	for _, tr := range tracks {
		tr.Close()
	}
	res.MemoryPerStreamKB = math.Max(float64(after-before), 0) / float64(streams)
	return res, nil
}

// measureFfmpeg runs the ffmpeg subprocess pipeline: once alone for CPU and
// peak RSS, then (if withMemory) streams at once, real-time paced (-re) as a bot
// runs them, sampling each process's private memory.
func measureFfmpeg(path string, volume int, seconds float64, streams int, withMemory bool) (result, error) {
	args := []string{"-hide_banner", "-loglevel", "error", "-i", path}
	if volume != 100 {
		args = append(args, "-af", fmt.Sprintf("volume=%.2f", float64(volume)/100))
	}
	args = append(args, "-c:a", "libopus", "-b:a", "128k", "-compression_level", "10", "-frame_duration", "20", "-f", "ogg", "-")
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("ffmpeg: %v: %s", err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	peak := ru.Maxrss
	res := result{
		Engine:             "ffmpeg",
		CPUPerAudioSecond:  cpu.Seconds() / seconds,
		MicrosPerFrame:     float64(cpu.Microseconds()) / (seconds * 50),
		PeakRSSPerStreamKB: float64(peak),
	}
	if !withMemory {
		return res, nil
	}

	// Memory while playing: several real-time ffmpeg processes, sampled after 2 s.
	n := min(streams, 8)
	var private int64
	var procs []*exec.Cmd
	for i := 0; i < n; i++ {
		c := exec.Command("ffmpeg", append([]string{"-re"}, args...)...)
		c.Stdout = io.Discard
		if err := c.Start(); err != nil {
			return result{}, err
		}
		procs = append(procs, c)
	}
	time.Sleep(2 * time.Second)
	for _, c := range procs {
		private += privateKB(c.Process.Pid)
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	res.MemoryPerStreamKB = float64(private) / float64(n)
	return res, nil
}

func rssKB() int64 { return statusField("/proc/self/status", "VmRSS:") }

// privateKB is a process's private memory: what it costs beyond shared libraries.
func privateKB(pid int) int64 {
	f := "/proc/" + strconv.Itoa(pid) + "/smaps_rollup"
	return statusField(f, "Private_Clean:") + statusField(f, "Private_Dirty:")
}

func statusField(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}
