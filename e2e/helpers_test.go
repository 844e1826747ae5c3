package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/voicetest"
)

const errorColor = 0xED4245

// child is a bot running as a separate OS process.
type child struct {
	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	log     string
	started time.Time
	ready   time.Time
}

// startChild re-executes the test binary as a bot against d and v, keeping
// its store in dir.
func startChild(t *testing.T, ctx context.Context, d *discordtest.Server, v *voicetest.Server, dir, redisURL, name string) *child {
	t.Helper()
	c := &child{log: filepath.Join(t.TempDir(), name+".log")}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(),
		envChild+"=1", envAddr+"="+d.Addr(), envToken+"="+d.Token(),
		envDiscordCA+"="+string(d.CACertPEM()), envVoiceCA+"="+string(v.CA().PEM()),
		envDataDir+"="+dir, envRedisURL+"="+redisURL)
	c.cmd.Stderr = logf
	in, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = in
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		_ = logf.Close()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == childReadyTag && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = c.cmd.Wait()
			t.Fatalf("bot process %s exited before it was ready:\n%s", name, tail(c.log, 30))
		}
	case <-ctx.Done():
		t.Fatalf("bot process %s not ready: %v\n%s", name, ctx.Err(), tail(c.log, 30))
	}
	c.ready = time.Now()
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// redisServer is a redis-server process this test started on its own port.
type redisServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis starts a redis-server without persistence: a restart after
// SIGKILL comes back empty, the harshest case for re-syncing.
func startRedis(t *testing.T, ctx context.Context) *redisServer {
	t.Helper()
	r := &redisServer{bin: testenv.Tool(t, "redis-server"), dir: t.TempDir(), port: freePort(t)}
	r.start(t, ctx)
	t.Cleanup(func() {
		if r.cmd != nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start(t *testing.T, ctx context.Context) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", r.dir, "--protected-mode", "no")
	var out bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			_ = c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("redis-server on port %d did not answer PING: %v\n%s", r.port, ctx.Err(), out.String())
		}
	}
}

func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = r.cmd.Wait()
	r.cmd = nil
}

// decodePackets writes packets to Ogg and has ffmpeg decode them at 48 kHz mono.
func decodePackets(t *testing.T, pkts []voicetest.Packet) []float32 {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("heard-%d.ogg", time.Now().UnixNano()))
	if err := sandbox.WriteHeard(path, pkts); err != nil {
		t.Fatal(err)
	}
	return audiotest.Decode(t, path, 48000, 1).Samples
}

// locate finds where excerpt lies in src (48 kHz mono), searching
// [from, to) seconds: a coarse search on 8× block-averaged signals, refined
// at full rate with audiotest.NCC. It returns the start in seconds and the
// full-rate normalized cross-correlation there.
func locate(src, excerpt []float32, from, to float64) (float64, float64) {
	const dec = 8
	down := func(x []float32) []float64 {
		out := make([]float64, len(x)/dec)
		for i := range out {
			var s float64
			for _, v := range x[i*dec : i*dec+dec] {
				s += float64(v)
			}
			out[i] = s
		}
		return out
	}
	s, e := down(src), down(excerpt)
	var ee float64
	for _, v := range e {
		ee += v * v
	}
	lo := max(0, int(from*48000/dec))
	hi := min(len(s)-len(e), int(to*48000/dec))
	best, at := -2.0, lo
	for off := lo; off <= hi; off++ {
		var sab, sss float64
		w := s[off : off+len(e)]
		for i, v := range e {
			sab += v * w[i]
			sss += w[i] * w[i]
		}
		if sss == 0 || ee == 0 {
			continue
		}
		if c := sab / math.Sqrt(ee*sss); c > best {
			best, at = c, off
		}
	}
	// Refine: a is the excerpt, b the source from just before the coarse spot.
	// excerpt[i] lines up with src[start+lag+i]; lags ±2·margin cover the
	// coarse spot ±margin.
	const margin = 2 * dec
	start := max(0, at*dec-margin)
	end := min(len(src), start+len(excerpt)+4*margin)
	ncc, lag := audiotest.NCC(excerpt, src[start:end], 2*margin)
	return float64(start+lag) / 48000, ncc
}
