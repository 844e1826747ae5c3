// Package audio is Quaver's audio engine: it opens an input (file, HTTP(S) URL
// or live reader), recognises its format from the bytes, and turns it into 20
// ms Opus frames — passing Opus packets through untouched when it can, else
// decoding, resampling to 48 kHz stereo, applying effects and encoding. Track
// adds bounded read-ahead so that a slow disk or network never stalls the
// voice pacer that pulls the frames.
//
// Containers and codecs live in subpackages (ogg, webm, wav, mp3, flac, opus),
// signal processing in resample and effects, byte sources in source.
package audio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quaverbot/quaver/audio/effects"
	"github.com/quaverbot/quaver/audio/flac"
	"github.com/quaverbot/quaver/audio/mp3"
	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/opus"
	"github.com/quaverbot/quaver/audio/source"
	"github.com/quaverbot/quaver/audio/wav"
	"github.com/quaverbot/quaver/audio/webm"
)

// Config sets how inputs are opened and encoded.
type Config struct {
	// Bitrate of re-encoded Opus in bits per second; default 128000.
	Bitrate int
	// Complexity of the Opus encoder, 0–10; default 10.
	Complexity int
	// Volume in percent, 0–1000; default 100.
	Volume int
	// Equalizer gains for the 15 bands; all zero (flat) by default.
	Equalizer [15]float64
	// Seek is where playback starts.
	Seek time.Duration
	// ReadAhead is how much audio a Track decodes ahead of playback; default 1 s.
	ReadAhead time.Duration
	// Source configures how files and URLs are read.
	Source source.Options
}

// DefaultConfig returns 128 kbps, complexity 10, volume 100 %, flat EQ, 1 s read-ahead.
func DefaultConfig() Config {
	return Config{Bitrate: 128000, Complexity: 10, Volume: 100, ReadAhead: time.Second, Source: source.DefaultOptions()}
}

func (c *Config) validate() error {
	if c.Bitrate == 0 {
		c.Bitrate = 128000
	}
	if c.Bitrate < 6000 || c.Bitrate > 510000 {
		return fmt.Errorf("audio: bitrate %d outside 6000–510000", c.Bitrate)
	}
	if c.Complexity < 0 || c.Complexity > 10 {
		return fmt.Errorf("audio: complexity %d outside 0–10", c.Complexity)
	}
	if err := effects.ParseVolume(c.Volume); err != nil {
		return err
	}
	if err := effects.ValidateGains(c.Equalizer); err != nil {
		return err
	}
	if c.ReadAhead <= 0 {
		c.ReadAhead = time.Second
	}
	if c.Seek < 0 {
		return errors.New("audio: negative seek")
	}
	return nil
}

// OpenPipeline opens a file path or http(s) URL and returns its frame pipeline.
func OpenPipeline(ctx context.Context, input string, cfg Config) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	src, err := source.Open(ctx, input, cfg.Source)
	if err != nil {
		return nil, err
	}
	p, err := pipelineFrom(src, cfg)
	if err != nil {
		src.Close()
		return nil, err
	}
	return p, nil
}

// ReaderPipeline returns the frame pipeline of a live stream read from r (no
// seeking, maybe no end). r is closed with the pipeline if it is an io.Closer.
func ReaderPipeline(r io.Reader, cfg Config) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return pipelineFrom(source.FromReader(r), cfg)
}

// byteSource is what the engine needs from a source.
type byteSource interface {
	io.Reader
	io.Closer
	Seekable() bool
}

// pipelineFrom detects the format and opens the matching demuxer or decoder.
func pipelineFrom(src byteSource, cfg Config) (*Pipeline, error) {
	var r io.Reader = src
	var head []byte
	if sk, ok := src.(io.ReadSeeker); ok && src.Seekable() {
		buf := make([]byte, sniffLen)
		n, err := io.ReadFull(sk, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, err
		}
		head = buf[:n]
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	} else {
		br := bufio.NewReaderSize(src, 4096)
		head, _ = br.Peek(sniffLen)
		r = br
	}
	format, err := Detect(head)
	if err != nil {
		return nil, err
	}
	if format == FormatID3 {
		format = FormatMP3
		if sk, ok := src.(io.ReadSeeker); ok && src.Seekable() {
			if size := id3Size(head); size > 0 {
				var magic [4]byte
				if _, err := sk.Seek(size, io.SeekStart); err == nil {
					if _, err := io.ReadFull(sk, magic[:]); err == nil && string(magic[:]) == "fLaC" {
						format = FormatFLAC
					}
				}
				if _, err := sk.Seek(0, io.SeekStart); err != nil {
					return nil, err
				}
			}
		}
	}
	info := Info{Seekable: src.Seekable(), SampleRate: opus.SampleRate}
	var pkt packetDemuxer
	var pcm pcmDecoder
	switch format {
	case FormatOgg:
		d, err := ogg.NewOpusReader(r)
		if err != nil {
			return nil, err
		}
		info.Codec, info.Container, info.Channels = "opus", "ogg", d.Channels()
		pkt = d
	case FormatMatroska:
		d, err := webm.NewOpusReader(r)
		if err != nil {
			return nil, err
		}
		info.Codec, info.Container, info.Channels = "opus", d.Container(), d.Channels()
		pkt = d
	case FormatWAV:
		d, err := wav.NewDecoder(r)
		if err != nil {
			return nil, err
		}
		info.Codec, info.Container = fmt.Sprintf("pcm_%d", d.BitDepth()), "wav"
		pcm = d
	case FormatFLAC:
		d, err := flac.NewDecoder(r)
		if err != nil {
			return nil, err
		}
		info.Codec, info.Container = "flac", "flac"
		pcm = d
	case FormatMP3:
		d, err := mp3.NewDecoder(r)
		if err != nil {
			return nil, err
		}
		info.Codec, info.Container = "mp3", "mp3"
		pcm = d
	}
	if pcm != nil {
		info.SampleRate, info.Channels = pcm.SampleRate(), pcm.Channels()
		if d := pcm.Duration(); d >= 0 && info.Seekable {
			ms := d * 1000 / int64(pcm.SampleRate())
			info.DurationMS = &ms
		}
	} else if d := pkt.Duration(); d >= 0 && info.Seekable {
		ms := d * 1000 / opus.SampleRate
		info.DurationMS = &ms
	}
	return newPipeline(info, src, pkt, pcm, cfg)
}
