package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestProbeJSON(t *testing.T) {
	src := audiotest.Music(44100, 2, 2)
	for _, tc := range []struct {
		file      string
		opts      []string
		codec     string
		container string
		rate      int
		pass      bool
	}{
		{"a.mp3", []string{"-c:a", "libmp3lame"}, "mp3", "mp3", 44100, false},
		{"a.flac", []string{"-c:a", "flac"}, "flac", "flac", 44100, false},
		{"a.webm", []string{"-c:a", "libopus", "-frame_duration", "20"}, "opus", "webm", 48000, true},
	} {
		in := audiotest.Convert(t, src, tc.file, tc.opts...)
		code, out, errOut := runCmd("probe", in)
		if code != 0 {
			t.Fatalf("probe %s: exit %d: %s", tc.file, code, errOut)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("probe output %q: %v", out, err)
		}
		for _, k := range []string{"codec", "container", "sample_rate", "channels", "duration_ms", "passthrough"} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: key %q missing in %s", tc.file, k, out)
			}
		}
		if got["codec"] != tc.codec || got["container"] != tc.container || got["sample_rate"] != float64(tc.rate) ||
			got["channels"] != float64(2) || got["passthrough"] != tc.pass {
			t.Errorf("%s: probe %s", tc.file, out)
		}
		if d, _ := got["duration_ms"].(float64); d < 1970 || d > 2030 {
			t.Errorf("%s: duration_ms %v", tc.file, got["duration_ms"])
		}
	}
}

func TestTranscodeContract(t *testing.T) {
	in := audiotest.Convert(t, audiotest.Music(44100, 2, 3), "a.mp3", "-c:a", "libmp3lame")
	out := filepath.Join(t.TempDir(), "o.ogg")
	code, _, errOut := runCmd("transcode", in, "-o", out, "--bitrate", "96000", "--volume", "80", "--seek", "500", "--eq", "0:0.2,14:-0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := audiotest.Decode(t, out, 48000, 2)
	if d := got.Duration(); d < 2.48 || d > 2.52 {
		t.Fatalf("output lasts %.3f s, want 2.5", d)
	}
	if opusinfo, err := exec.LookPath("opusinfo"); err == nil {
		if b, err := exec.Command(opusinfo, out).CombinedOutput(); err != nil || bytes.Contains(b, []byte("WARNING")) {
			t.Fatalf("opusinfo: %v\n%s", err, b)
		}
	}
}

// TestBadInputExit: bad input gets a non-zero exit and one line on stderr, no stack trace.
func TestBadInputExit(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "page.mp3")
	_ = os.WriteFile(html, []byte("<!DOCTYPE html><html>nope</html>"), 0o644)
	for _, args := range [][]string{
		{"probe", html},
		{"probe", filepath.Join(dir, "missing.flac")},
		{"transcode", html, "-o", filepath.Join(dir, "x.ogg")},
		{"transcode", "ftp://example.invalid/a.mp3", "-o", filepath.Join(dir, "x.ogg")},
		{"transcode", html, "-o", filepath.Join(dir, "x.ogg"), "--eq", "99:1"},
		{"nosuchcommand"},
	} {
		code, _, errOut := runCmd(args...)
		if code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Errorf("%v: stderr %q", args, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.ogg")); err == nil {
			t.Errorf("%v left an output file behind", args)
		}
	}
}

func TestHelpListsEnv(t *testing.T) {
	code, out, _ := runCmd("help", "transcode")
	if code != 0 || !strings.Contains(out, "QUAVER_BITRATE") {
		t.Fatalf("help transcode: %d %q", code, out)
	}
	t.Setenv("QUAVER_VOLUME", "5000")
	in := audiotest.Convert(t, audiotest.Tone(48000, 2, 0.2, 440, 0.3), "a.wav", "-c:a", "pcm_s16le")
	if code, _, e := runCmd("transcode", in, "-o", filepath.Join(t.TempDir(), "o.ogg")); code == 0 {
		t.Fatalf("QUAVER_VOLUME=5000 accepted: %s", e)
	}
}
