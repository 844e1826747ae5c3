package audio

import (
	"errors"
	"io"

	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/opus"
)

// WriteOgg runs p to its end and writes every frame to w as a standard Ogg Opus
// file (RFC 7845): OpusHead with the right pre-skip, granule positions, and the
// end trimmed to the input's exact length. It returns the number of frames.
func WriteOgg(p *Pipeline, w io.Writer) (int64, error) {
	var buf [MaxFrameBytes]byte
	n, err := p.Next(buf[:])
	if errors.Is(err, io.EOF) {
		return 0, errors.New("audio: the input has no audio")
	}
	if err != nil {
		return 0, err
	}
	preSkip, _ := p.OggLayout()
	cfg := ogg.DefaultOpusWriterConfig()
	cfg.PreSkip = preSkip
	cfg.InputSampleRate = p.Info().SampleRate
	ow, err := ogg.NewOpusWriter(w, cfg)
	if err != nil {
		return 0, err
	}
	frames := int64(0)
	for {
		if err := ow.WritePacket(buf[:n], opus.FrameSamples); err != nil {
			return frames, err
		}
		frames++
		n, err = p.Next(buf[:])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return frames, err
		}
	}
	if _, end := p.OggLayout(); end > ow.Granule()-opus.FrameSamples && end < ow.Granule() {
		if err := ow.SetFinalGranule(end); err != nil {
			return frames, err
		}
	}
	return frames, ow.Close()
}
