// Package voiceload owns the voice load benchmark: N voice connections
// against an in-process local voice server (voice/voicetest) over real UDP
// loopback with transport encryption, all driven by one shared pacer, and
// the figures an operator compares: CPU and memory per connection, send
// lateness percentiles, packets sent and lost. `quaver bench voice` runs it.
package voiceload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quaverbot/quaver/audio/opus"
	"github.com/quaverbot/quaver/voice"
	"github.com/quaverbot/quaver/voice/pacer"
	"github.com/quaverbot/quaver/voice/voicetest"
)

// Modes of the load.
const (
	// ModePassthrough sends pre-encoded Opus packets (no audio work).
	ModePassthrough = "passthrough"
	// ModeTranscode decodes and re-encodes every frame with libopus (the
	// engine's default encoder settings) on per-connection goroutines, ahead
	// of the pacer, as a player that transcodes would.
	ModeTranscode = "transcode"
)

// Config configures a run.
type Config struct {
	// N is the number of concurrent connections.
	N int
	// Duration is how long all N connections stream once connected.
	Duration time.Duration
	// Mode is ModePassthrough or ModeTranscode.
	Mode string
	// ConnectParallel bounds concurrent handshakes (default 32).
	ConnectParallel int
	// HandshakeTimeout bounds one connection attempt (default 60 s: a busy
	// machine connecting thousands of sessions is slow); each connection gets
	// three attempts.
	HandshakeTimeout time.Duration
	// Logger receives progress (nil: discard).
	Logger *slog.Logger
	// Nice is the thread priority of the pacer's workers (0: leave them at
	// the process's priority; the command's default is the pacer's, -10).
	// The local server's readers stay at normal priority: wiring them to
	// raised threads as well made the pacer later, not earlier (p99 8–10 ms
	// against 3–4 ms at 3,000 connections), because every wake-up of a
	// goroutine locked to a thread costs a hand-off between threads.
	Nice int
	// CPUProfile, when set, receives a pprof CPU profile of the measured
	// window (not of the handshakes).
	CPUProfile io.Writer
}

// Result holds the figures of one run. CPU and RSS include the in-process
// voice server's share (receiving, decrypting and recording every packet).
type Result struct {
	Connections             int     `json:"connections"`
	CPUPercentPerConnection float64 `json:"cpu_percent_per_connection"`
	RSSKBPerConnection      float64 `json:"rss_kb_per_connection"`
	LatenessMsP50           float64 `json:"lateness_ms_p50"`
	LatenessMsP99           float64 `json:"lateness_ms_p99"`
	LatenessMsMax           float64 `json:"lateness_ms_max"`
	PacketsSent             uint64  `json:"packets_sent"`
	PacketsLost             uint64  `json:"packets_lost"`
	// PacerNice is the thread priority the pacer's workers asked for and
	// PacerWorkersRaised how many got it (0: the system refused; see
	// pacer.Config.Nice), out of PacerWorkers.
	PacerNice          int `json:"pacer_nice"`
	PacerWorkersRaised int `json:"pacer_workers_raised"`
	PacerWorkers       int `json:"pacer_workers"`
}

var (
	errN    = errors.New("voiceload: N must be at least 1")
	errDur  = errors.New("voiceload: Duration must be positive")
	errMode = errors.New("voiceload: Mode must be passthrough or transcode")
)

// frameSet is a loop of Opus packets made once: 1 s of a 440 Hz tone.
func frameSet() ([][]byte, error) {
	enc, err := opus.NewEncoder(opus.DefaultEncoderConfig())
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	pcm := make([]float32, 960*2)
	out := make([]byte, 4000)
	var frames [][]byte
	for f := range 50 {
		for i := 0; i < 960; i++ {
			v := float32(0.3 * math.Sin(2*math.Pi*440*float64(f*960+i)/48000))
			pcm[2*i], pcm[2*i+1] = v, v
		}
		n, err := enc.Encode(pcm, out)
		if err != nil {
			return nil, err
		}
		frames = append(frames, append([]byte(nil), out[:n]...))
	}
	return frames, nil
}

// loopSource plays a packet loop forever (pass-through).
type loopSource struct {
	frames [][]byte
	i      int
}

func (s *loopSource) NextFrame() ([]byte, bool) {
	f := s.frames[s.i%len(s.frames)]
	s.i++
	return f, true
}

// transcoder decodes and re-encodes the loop on its own goroutine, keeping a
// few frames ready for the pacer.
type transcoder struct {
	ring chan []byte
}

func (t *transcoder) NextFrame() ([]byte, bool) {
	select {
	case f := <-t.ring:
		return f, true
	default:
		return nil, false
	}
}

func (t *transcoder) run(stop <-chan struct{}, frames [][]byte) error {
	dec, err := opus.NewDecoder(2)
	if err != nil {
		return err
	}
	defer dec.Close()
	enc, err := opus.NewEncoder(opus.DefaultEncoderConfig())
	if err != nil {
		return err
	}
	defer enc.Close()
	pcm := make([]float32, 5760*2)
	var bufs [12][4000]byte
	for i := 0; ; i++ {
		n, err := dec.Decode(frames[i%len(frames)], pcm)
		if err != nil {
			return err
		}
		buf := bufs[i%len(bufs)][:]
		m, err := enc.Encode(pcm[:n*2], buf)
		if err != nil {
			return err
		}
		select {
		case t.ring <- buf[:m]:
		case <-stop:
			return nil
		}
		// Yield after each frame, as audio.Track's producer does, so a
		// transcoder filling its ring never keeps the pacer's timer waiting.
		runtime.Gosched()
	}
}

// Run performs one load run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	switch {
	case cfg.N < 1:
		return Result{}, errN
	case cfg.Duration <= 0:
		return Result{}, errDur
	case cfg.Mode != ModePassthrough && cfg.Mode != ModeTranscode:
		return Result{}, errMode
	}
	if cfg.ConnectParallel <= 0 {
		cfg.ConnectParallel = 32
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	frames, err := frameSet()
	if err != nil {
		return Result{}, err
	}
	runtime.GC()
	rss0 := rssKB()

	pcfg := pacer.DefaultConfig()
	pcfg.Nice = cfg.Nice
	srv, err := voicetest.New(voicetest.Config{DiscardPayloads: true, UDPReaders: runtime.GOMAXPROCS(0)})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	p, err := pacer.New(pcfg)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()

	conns := make([]*voice.Conn, cfg.N)
	defer func() {
		var wg sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); c.Close() }()
			}
		}
		wg.Wait()
	}()
	connectStart := time.Now()
	sem := make(chan struct{}, cfg.ConnectParallel)
	errc := make(chan error, cfg.N)
	var wg sync.WaitGroup
	for i := range cfg.N {
		id := strconv.Itoa(i + 1)
		// One connection per guild, as a bot has: no call has other members.
		srv.AllowSession("guild-"+id, "user", "session-"+id, "token-"+id)
		vc := voice.DefaultConfig()
		vc.Endpoint, vc.GuildID, vc.UserID, vc.SessionID, vc.Token = srv.Endpoint(), "guild-"+id, "user", "session-"+id, "token-"+id
		vc.ChannelID = "channel"
		vc.RootCAs = srv.CA().Pool()
		vc.Pacer = p
		vc.Logger = log
		vc.HandshakeTimeout = cfg.HandshakeTimeout
		conns[i] = voice.New(vc)
		wg.Add(1)
		go func(c *voice.Conn) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
			defer func() { <-sem }()
			var err error
			for range 3 {
				if err = c.Connect(ctx); err == nil || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				errc <- err
			}
		}(conns[i])
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return Result{}, fmt.Errorf("voiceload: connecting: %w", err)
	}
	log.Info("voiceload: connected", "n", cfg.N, "took", time.Since(connectStart))

	stop := make(chan struct{})
	var tw sync.WaitGroup
	var terr error
	var terrOnce sync.Once
	for _, c := range conns {
		if cfg.Mode == ModeTranscode {
			t := &transcoder{ring: make(chan []byte, 8)}
			tw.Add(1)
			go func() {
				defer tw.Done()
				if err := t.run(stop, frames); err != nil {
					terrOnce.Do(func() { terr = err })
				}
			}()
			c.SetSource(t)
		}
	}
	// Collect what thousands of handshakes left behind (TLS, JSON) now, so
	// that a collection of that heap does not run inside the measured
	// window: the figures are of steady-state streaming, whose send path
	// allocates nothing.
	runtime.GC()
	// Measure from the moment every connection has a source.
	p.ResetLateness()
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return Result{}, fmt.Errorf("voiceload: cpu profile: %w", err)
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	for _, c := range conns {
		if cfg.Mode == ModePassthrough {
			c.SetSource(&loopSource{frames: frames})
		}
	}
	timer := time.NewTimer(cfg.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		close(stop)
		tw.Wait()
		return Result{}, ctx.Err()
	}
	cpu := cpuTime() - cpu0
	wall := time.Since(start)
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	lat := p.Lateness()
	rss1 := rssKB()
	for _, c := range conns {
		c.SetSource(nil)
	}
	close(stop)
	tw.Wait()
	if terr != nil {
		return Result{}, fmt.Errorf("voiceload: transcoding: %w", terr)
	}

	// Let in-flight packets land: wait (bounded) until every session has
	// received what its connection sent; the rest counts as lost.
	var sent uint64
	for _, c := range conns {
		sent += c.PacketsSent()
	}
	settle, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var received uint64
	bySSRC := map[uint32]*voice.Conn{}
	for _, c := range conns {
		bySSRC[c.SSRC()] = c
	}
	for _, ss := range srv.Sessions() {
		c := bySSRC[ss.SSRC]
		if c == nil {
			continue
		}
		_ = ss.Recorder().WaitPackets(settle, int(c.PacketsSent()))
		received += ss.Recorder().Received()
	}
	lost := uint64(0)
	if sent > received {
		lost = sent - received
	}
	n := float64(cfg.N)
	raised, workers := p.Priority()
	return Result{
		Connections:             cfg.N,
		CPUPercentPerConnection: 100 * cpu.Seconds() / wall.Seconds() / n,
		RSSKBPerConnection:      float64(rss1-rss0) / n,
		LatenessMsP50:           ms(lat.P50),
		LatenessMsP99:           ms(lat.P99),
		LatenessMsMax:           ms(lat.Max),
		PacketsSent:             sent,
		PacketsLost:             lost,
		PacerNice:               pcfg.Nice,
		PacerWorkersRaised:      raised,
		PacerWorkers:            workers,
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKB returns the resident set size from /proc/self/status (0 if unknown).
func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}
