package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Page header layout (RFC 3533 §6).
const (
	headerSize   = 27    // fixed part of a page header
	maxSegments  = 255   // lacing values per page
	maxPageBody  = 65025 // 255 segments of 255 bytes
	maxPageSize  = headerSize + maxSegments + maxPageBody
	flagContinue = 0x01 // first packet on the page continues one from the previous page
	flagBOS      = 0x02 // first page of a logical bitstream
	flagEOS      = 0x04 // last page of a logical bitstream
	noGranule    = -1   // granule position of a page on which no packet ends
)

// OpusWriterConfig configures an OpusWriter. Start from DefaultOpusWriterConfig.
type OpusWriterConfig struct {
	Channels        int      // 1 or 2
	PreSkip         int      // encoder delay in 48 kHz samples, written to OpusHead (RFC 7845 §4.2)
	InputSampleRate int      // original input rate, informational, written to OpusHead
	OutputGain      int16    // Q7.8 dB gain players apply on output; normally 0
	Serial          uint32   // logical bitstream serial number
	Vendor          string   // OpusTags vendor string
	Comments        []string // OpusTags user comments, "NAME=value"
	// MaxPageSamples is how much audio (48 kHz samples) a page holds before it is
	// written out; 0 means 48000 (one second, like common muxers).
	MaxPageSamples int
}

// DefaultOpusWriterConfig returns the configuration for Quaver's own encoder:
// stereo, pre-skip 312 (libopus's delay at 48 kHz), 48 kHz input.
func DefaultOpusWriterConfig() OpusWriterConfig {
	return OpusWriterConfig{
		Channels:        2,
		PreSkip:         312,
		InputSampleRate: 48000,
		Serial:          0x51756176, // "Quav"
		Vendor:          "quaver",
		MaxPageSamples:  48000,
	}
}

var (
	errWriterClosed = errors.New("ogg: write to closed OpusWriter")
	errBadSamples   = errors.New("ogg: packet duration must be 1..5760 samples at 48 kHz")
	errBadFinal     = errors.New("ogg: final granule position outside the last packet")
)

// OpusWriter writes one Ogg Opus logical stream (RFC 7845 over RFC 3533).
// It is not safe for concurrent use.
type OpusWriter struct {
	w         io.Writer
	serial    uint32
	seq       uint32
	maxPage   int64
	granule   int64 // sum of the durations of all packets written so far
	lastStart int64 // granule at the start of the last packet
	final     int64 // end-trim granule set by SetFinalGranule, or -1

	// the page being built
	segs      []byte
	body      []byte
	pageStart int64 // granule at the start of the page's first packet
	pagePkts  int   // packets that end on this page
	continued bool  // the page starts with the rest of a packet
	out       []byte
	err       error
	closed    bool
}

// NewOpusWriter writes the OpusHead and OpusTags pages to w and returns a
// writer for the audio packets that follow.
func NewOpusWriter(w io.Writer, cfg OpusWriterConfig) (*OpusWriter, error) {
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, fmt.Errorf("ogg: OpusWriter supports 1 or 2 channels, not %d", cfg.Channels)
	}
	if cfg.PreSkip < 0 || cfg.PreSkip > 0xffff {
		return nil, fmt.Errorf("ogg: pre-skip %d out of range", cfg.PreSkip)
	}
	if cfg.InputSampleRate < 0 {
		return nil, fmt.Errorf("ogg: input sample rate %d out of range", cfg.InputSampleRate)
	}
	if cfg.MaxPageSamples <= 0 {
		cfg.MaxPageSamples = 48000
	}
	ow := &OpusWriter{
		w:       w,
		serial:  cfg.Serial,
		maxPage: int64(cfg.MaxPageSamples),
		final:   -1,
		segs:    make([]byte, 0, maxSegments),
		body:    make([]byte, 0, 8192),
		out:     make([]byte, 0, headerSize+maxSegments+8192),
	}
	head := OpusHead{Channels: cfg.Channels, PreSkip: cfg.PreSkip, InputSampleRate: cfg.InputSampleRate, OutputGain: cfg.OutputGain}
	// RFC 7845 §3: the OpusHead packet alone on the first (BOS) page, granule 0.
	if err := ow.writeHeaderPacket(head.AppendBinary(nil), flagBOS); err != nil {
		return nil, err
	}
	tags := OpusTags{Vendor: cfg.Vendor, Comments: cfg.Comments}
	// The OpusTags packet ends its own page(s); audio starts on a fresh page.
	if err := ow.writeHeaderPacket(tags.AppendBinary(nil), 0); err != nil {
		return nil, err
	}
	return ow, nil
}

// writeHeaderPacket writes pkt on its own page(s) with granule 0.
func (ow *OpusWriter) writeHeaderPacket(pkt []byte, flags byte) error {
	ow.pagePkts = 1 // makes pages a long header spills over carry granule 0, not -1
	if err := ow.appendPacket(pkt, flags); err != nil {
		return err
	}
	ow.pagePkts = 1
	return ow.flush(flags, 0)
}

// WritePacket adds one Opus packet whose decoded duration is samples (48 kHz
// samples per channel). In steady state it allocates nothing.
func (ow *OpusWriter) WritePacket(pkt []byte, samples int) error {
	if ow.err != nil {
		return ow.err
	}
	if ow.closed {
		return errWriterClosed
	}
	if samples <= 0 || samples > 5760 {
		return errBadSamples
	}
	if ow.final >= 0 {
		return errors.New("ogg: WritePacket after SetFinalGranule")
	}
	need := len(pkt)/255 + 1
	// Write the pending page out first if this packet would not fit or the page
	// already holds enough audio. A page is written only when the next packet
	// arrives, so Close always has a page to mark end-of-stream on.
	if ow.pagePkts > 0 && (len(ow.segs)+need > maxSegments || ow.granule-ow.pageStart >= ow.maxPage) {
		if err := ow.flush(0, ow.granule); err != nil {
			return err
		}
	}
	if len(ow.segs) == 0 && !ow.continued {
		ow.pageStart = ow.granule
	}
	ow.lastStart = ow.granule
	ow.granule += int64(samples)
	if err := ow.appendPacket(pkt, 0); err != nil {
		return err
	}
	ow.pagePkts++
	return nil
}

// appendPacket laces pkt into the page being built, writing out full pages of
// a packet longer than one page (with granule -1, as no packet ends on them).
func (ow *OpusWriter) appendPacket(pkt []byte, flags byte) error {
	for {
		room := maxSegments - len(ow.segs)
		n := len(pkt) / 255
		if n < room {
			for range n {
				ow.segs = append(ow.segs, 255)
			}
			ow.segs = append(ow.segs, byte(len(pkt)%255))
			ow.body = append(ow.body, pkt...)
			return nil
		}
		// Fill the page with full segments and continue on the next page.
		ow.body = append(ow.body, pkt[:room*255]...)
		pkt = pkt[room*255:]
		for range room {
			ow.segs = append(ow.segs, 255)
		}
		g := int64(noGranule)
		if ow.pagePkts > 0 {
			g = ow.lastStart // packets before this one ended here
		}
		if err := ow.flush(flags, g); err != nil {
			return err
		}
		flags &^= flagBOS
		ow.continued = true
	}
}

// Flush writes the page being built now, for live output that must not wait
// for a full page. Nothing happens when no complete packet is pending.
func (ow *OpusWriter) Flush() error {
	if ow.err != nil {
		return ow.err
	}
	if ow.pagePkts == 0 {
		return nil
	}
	return ow.flush(0, ow.granule)
}

// SetFinalGranule trims the end of the stream (RFC 7845 §4.5): granule is the
// final page's granule position, that is PreSkip plus the number of real
// audio samples, and must fall inside the last packet written. Close writes it.
func (ow *OpusWriter) SetFinalGranule(granule int64) error {
	if ow.closed {
		return errWriterClosed
	}
	if ow.pagePkts == 0 || granule <= ow.lastStart || granule > ow.granule || granule < ow.pageStart {
		return errBadFinal
	}
	ow.final = granule
	return nil
}

// Granule returns the granule position after the last packet written: the
// total decoded duration in 48 kHz samples, pre-skip included.
func (ow *OpusWriter) Granule() int64 { return ow.granule }

// Close writes the last page with the end-of-stream flag (and the end trim
// set by SetFinalGranule). It does not close the underlying writer.
func (ow *OpusWriter) Close() error {
	if ow.closed {
		return ow.err
	}
	ow.closed = true
	if ow.err != nil {
		return ow.err
	}
	g := ow.granule
	if ow.final >= 0 {
		g = ow.final
	}
	// With no audio at all this writes an empty EOS page, which still ends the stream.
	return ow.flush(flagEOS, g)
}

// flush writes the page being built with the given flags and granule position.
func (ow *OpusWriter) flush(flags byte, granule int64) error {
	if ow.continued {
		flags |= flagContinue
	}
	h := ow.out[:0]
	h = append(h, "OggS"...)
	h = append(h, 0, flags)
	h = binary.LittleEndian.AppendUint64(h, uint64(granule))
	h = binary.LittleEndian.AppendUint32(h, ow.serial)
	h = binary.LittleEndian.AppendUint32(h, ow.seq)
	h = append(h, 0, 0, 0, 0, byte(len(ow.segs)))
	h = append(h, ow.segs...)
	h = append(h, ow.body...)
	binary.LittleEndian.PutUint32(h[22:], crcUpdate(0, h))
	ow.out = h
	ow.seq++
	ow.segs = ow.segs[:0]
	ow.body = ow.body[:0]
	ow.pagePkts = 0
	ow.continued = false
	ow.pageStart = ow.granule
	if _, err := ow.w.Write(h); err != nil {
		ow.err = fmt.Errorf("ogg: writing page: %w", err)
		return ow.err
	}
	return nil
}
