package source

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/webm"
	"github.com/quaverbot/quaver/internal/testenv"
)

// TestDemuxersOverHTTP: the Ogg and WebM readers get their duration and seek
// through an HTTP source with range requests, reading far less than the file.
func TestDemuxersOverHTTP(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	for _, format := range []string{"ogg", "webm"} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(dir, "x."+format)
			out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
				"sine=frequency=440:sample_rate=48000:duration=60", "-c:a", "libopus", "-b:a", "128k",
				"-f", format, "-y", path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			data, _ := os.ReadFile(path)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(data))
			}))
			defer ts.Close()
			tr := &countingTransport{rt: http.DefaultTransport}
			defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			s, err := Open(context.Background(), ts.URL, Options{HTTPClient: &http.Client{Transport: tr}, BufferSize: 16 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			type reader interface {
				ReadPacket() ([]byte, error)
				Duration() int64
				SeekSample(int64) (int64, error)
			}
			var r reader
			if format == "ogg" {
				r, err = ogg.NewOpusReader(s)
			} else {
				r, err = webm.NewOpusReader(s)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := r.Duration(); d < 60*48000-960 || d > 60*48000+960 {
				t.Errorf("Duration %d over HTTP", d)
			}
			start, err := r.SeekSample(50 * 48000)
			if err != nil || start > 50*48000 || start < 50*48000-960 {
				t.Fatalf("SeekSample over HTTP = %d, %v", start, err)
			}
			if _, err := r.ReadPacket(); err != nil {
				t.Fatal(err)
			}
			t.Logf("read %d of %d bytes (%d requests) to open and seek", tr.bytes.Load(), len(data), tr.n.Load())
			if got := tr.bytes.Load(); got > int64(len(data))/2 {
				t.Errorf("read %d of %d bytes to seek", got, len(data))
			}
			n := 0
			for {
				if _, err := r.ReadPacket(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n < 490 || n > 510 {
				t.Errorf("%d packets in the last 10 s", n)
			}
		})
	}
}
