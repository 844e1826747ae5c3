package audio

import (
	"bytes"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/ogg"
)

// FuzzDetect: format detection never panics and either names a format or explains why not.
func FuzzDetect(f *testing.F) {
	f.Add([]byte("OggS\x00\x02"))
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x10"))
	f.Add([]byte{0xff, 0xfb, 0x90, 0x64})
	f.Add([]byte{0xff, 0xf1, 0x50, 0x80})
	f.Add([]byte("<!doctype html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		format, err := Detect(b)
		if (format == FormatUnknown) == (err == nil) {
			t.Fatalf("Detect = %v, %v", format, err)
		}
	})
}

// FuzzPipeline: any bytes fed as a live stream give an error or frames, never a panic or a hang.
func FuzzPipeline(f *testing.F) {
	f.Add(audiotest.WAV(audiotest.Tone(8000, 1, 0.05, 440, 0.5)))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Add([]byte("fLaC\x00\x00\x00\x22"))
	f.Add([]byte("OggS"))
	// An Ogg Opus stream whose end-of-stream page trims its last packet.
	var trimmed bytes.Buffer
	w, _ := ogg.NewOpusWriter(&trimmed, ogg.DefaultOpusWriterConfig())
	for range 3 {
		w.WritePacket([]byte{0xfc, 0xff, 0xfe}, 960)
	}
	w.SetFinalGranule(w.Granule() - 500)
	w.Close()
	f.Add(trimmed.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReaderPipeline(bytes.NewReader(b), DefaultConfig())
		if err != nil {
			return
		}
		defer p.Close()
		frame := make([]byte, MaxFrameBytes)
		for i := 0; i < 2000; i++ {
			if _, err := p.Next(frame); err != nil {
				return // io.EOF or a clear error: both fine
			}
		}
		t.Fatal("2000 frames from a fuzz input: runaway")
	})
}
