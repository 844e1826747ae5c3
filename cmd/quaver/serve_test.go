package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/internal/testenv"
)

// TestServeSandboxPlay runs `quaver serve --sandbox --play FILE`: it must
// exit 0 once the track has ended, print its steps, and leave an Ogg file
// that ffmpeg decodes to the track's length.
func TestServeSandboxPlay(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, synth.WAV(synth.Music(44100, 2, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	heard := filepath.Join(dir, "heard.ogg")
	code, out, errOut := runCmd("serve", "--sandbox", "--play", in, "--heard", heard)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, step := range []string{"listener joined voice", "/play file:in.wav", "bot joined the voice channel", "track ended", heard} {
		if !strings.Contains(out, step) {
			t.Errorf("console output lacks %q:\n%s", step, out)
		}
	}
	got := audiotest.Decode(t, heard, 48000, 1).Duration()
	if got < 1.9 || got > 2.2 {
		t.Errorf("heard file holds %.2f s, want about 2 s", got)
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--play", "x.wav"}, "--play needs --sandbox"},
		{[]string{"serve", "--shard-range", "3-1"}, "FIRST-LAST"},
		{[]string{"serve", "--shard-range", "a-b"}, "FIRST-LAST"},
		{[]string{"serve", "--sandbox", "--play", "/nonexistent/x.wav"}, "not a file"},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestParseShardRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		first, last int
		ok          bool
	}{
		{"", 0, -1, true},
		{"0-3", 0, 3, true},
		{"2", 2, 2, true},
		{"4-2", 0, 0, false},
		{"-1", 0, 0, false},
		{"x", 0, 0, false},
	} {
		f, l, err := parseShardRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (f != tc.first || l != tc.last)) {
			t.Errorf("parseShardRange(%q) = %d, %d, %v", tc.in, f, l, err)
		}
	}
}

// TestServeMetrics scrapes --metrics-addr while the sandbox plays: the
// pacer's send-lateness histogram must be there with observations.
func TestServeMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, synth.WAV(synth.Tone(48000, 2, 3, 440, 0.5)), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		code, _, _ := runCmd("serve", "--sandbox", "--play", in, "--heard", filepath.Join(dir, "h.ogg"), "--metrics-addr", addr)
		done <- code
	}()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	found := false
	for !found {
		select {
		case code := <-done:
			t.Fatalf("serve exited (%d) before the metrics showed send lateness", code)
		case <-poll.C:
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "quaver_voice_send_lateness_seconds_count") && !strings.HasSuffix(line, " 0") {
				found = true
			}
		}
	}
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d", code)
	}
}

// TestServeSandboxPlayURL plays an http URL in the sandbox and exits 0 at its end.
func TestServeSandboxPlayURL(t *testing.T) {
	wav := synth.WAV(synth.Tone(44100, 2, 1.5, 440, 0.5))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "tone.wav", time.Time{}, bytes.NewReader(wav))
	}))
	defer srv.Close()
	heard := filepath.Join(t.TempDir(), "heard.ogg")
	code, out, errOut := runCmd("serve", "--sandbox", "--play", srv.URL+"/tone.wav", "--heard", heard)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if st, err := os.Stat(heard); err != nil || st.Size() < 1000 {
		t.Errorf("heard file: %v", err)
	}
}
