package audio

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quaverbot/quaver/audio/effects"
	"github.com/quaverbot/quaver/audio/opus"
	"github.com/quaverbot/quaver/audio/resample"
)

// packetDemuxer is what the Opus container readers (Ogg, WebM) offer.
type packetDemuxer interface {
	// ReadPacket returns the next Opus packet, valid until the next call; io.EOF at the end.
	ReadPacket() ([]byte, error)
	// PreSkip is the number of 48 kHz samples to drop at the start of the stream.
	PreSkip() int
	// Duration is the stream length in 48 kHz samples after pre-skip, or -1.
	Duration() int64
	// SeekSample positions before the packet holding sample s (after pre-skip) and
	// returns that packet's first sample.
	SeekSample(s int64) (int64, error)
}

// paddedDemuxer is a packetDemuxer whose container declares padding at the
// end of a packet (WebM DiscardPadding, the end trim of an Ogg stream's last
// granule position). The padding is decoded but never
// played; pass-through still sends the packet whole, as clients decode whole
// packets.
type paddedDemuxer interface {
	// DiscardPadding is the number of 48 kHz samples to drop from the end of
	// the packet ReadPacket last returned.
	DiscardPadding() int
}

// pcmDecoder is what the PCM decoders (MP3, FLAC, WAV) offer.
type pcmDecoder interface {
	// ReadPCM fills dst with interleaved samples in [-1, 1]; io.EOF at the end.
	ReadPCM(dst []float32) (int, error)
	SampleRate() int
	Channels() int
	// Duration is the stream length in samples per channel, or -1.
	Duration() int64
	// SeekSample positions at or before sample s and returns where it landed.
	SeekSample(s int64) (int64, error)
}

var (
	errNotSeekable = errors.New("audio: this input cannot seek (live stream)")
	errClosed      = errors.New("audio: track closed")
	errPacketSize  = errors.New("audio: opus packet larger than 8 KiB")
)

const (
	frameSamples = opus.FrameSamples     // per channel, 20 ms at 48 kHz
	frameLen     = 2 * frameSamples      // interleaved stereo floats per frame
	maxRawPacket = 8192                  // largest container packet the pipeline accepts
	fifoCap      = 4*frameLen + 2*5760*2 // decoded PCM waiting for the encoder
	rawKeep      = 4                     // recent packets kept to prime a decoder or resume pass-through
)

// rawPacket is an Opus packet read from a container, kept in a fixed buffer.
type rawPacket struct {
	buf     [maxRawPacket]byte
	n       int
	start   int64 // first sample in the packet timeline (48 kHz, pre-skip included)
	samples int
	trim    int // samples at the end that are padding (decoded, then dropped)
}

// Pipeline turns one opened input into 20 ms Opus frames, synchronously: each
// Next call produces one frame. It passes Opus packets through untouched when
// it can and otherwise decodes, resamples, applies effects and encodes. Track
// wraps a Pipeline with read-ahead for playback; transcode uses it directly.
// A Pipeline is not safe for concurrent use, except for the effect setters.
type Pipeline struct {
	info   Info
	closer io.Closer

	pkt    packetDemuxer // Opus input, or nil
	padded paddedDemuxer // pkt, when its container declares end padding
	pcm    pcmDecoder    // PCM input, or nil

	vol   *effects.Volume
	eq    *effects.Equalizer
	chain effects.Chain

	enc *opus.Encoder
	dec *opus.Decoder
	// fill tops up the FIFO from the input; bound once so the frame path does not allocate a method value.
	fill func() (bool, error)
	rs   *resample.Resampler
	cfg  Config

	// Opus input state.
	raw      [rawKeep]rawPacket // ring of recent packets
	rawHead  int                // index of the oldest packet in the ring
	rawLen   int                // packets in the ring
	rawNext  int                // packets in the ring not yet consumed (newest rawNext ones)
	pktPos   int64              // packet-timeline sample after the last packet read
	passing  bool               // emitting packets untouched
	skipHead int                // decoded samples to drop before the FIFO (pre-skip, seek offset)

	// PCM path state.
	fifo       []float32 // 48 kHz stereo, interleaved, awaiting the encoder
	fifoStart  int64     // timeline sample of fifo[0]
	native     []float32 // decoder output at native rate
	mono       []float32 // resampled mono before duplication
	decoded    []float32 // opus decoder output / resampler output
	inFrames   int64     // native frames read since the last reset (for resampler flush)
	primed     bool      // the next encoded packet is a priming packet to drop
	inEOF      bool
	flushed    bool
	framesOut  int64 // frames emitted
	pos        int64 // timeline sample the listener hears at the start of the next frame
	audioStart int64 // timeline sample where the wanted audio starts (after pre-skip or a seek)
	firstOut   int64 // timeline sample at the start of the first frame emitted
	endPos     int64 // timeline sample where audio ends, known at EOF (-1 before)
	frameBuf   [frameLen]float32
}

// Info describes an opened input; `quaver probe` prints it.
type Info struct {
	Codec      string `json:"codec"`
	Container  string `json:"container"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
	// DurationMS is nil for live streams and inputs of unknown length.
	DurationMS *int64 `json:"duration_ms"`
	// Passthrough is true when the input's Opus packets can go out untouched.
	Passthrough bool `json:"passthrough"`
	// Seekable reports whether Seek works on this input.
	Seekable bool `json:"seekable"`
}

func newPipeline(info Info, closer io.Closer, pkt packetDemuxer, pcm pcmDecoder, cfg Config) (*Pipeline, error) {
	p := &Pipeline{
		info:   info,
		closer: closer,
		pkt:    pkt,
		pcm:    pcm,
		vol:    effects.NewVolume(cfg.Volume), // validated by Config; starts at that gain without a ramp
		eq:     effects.NewEqualizer(),
		cfg:    cfg,
		fifo:   make([]float32, 0, fifoCap),
		endPos: -1,
	}
	p.chain = effects.Chain{p.eq, p.vol}
	if pkt != nil {
		p.fill = p.fillFromPackets
		p.padded, _ = pkt.(paddedDemuxer)
	} else {
		p.fill = p.fillFromPCM
	}
	if err := p.vol.Set(cfg.Volume); err != nil {
		return nil, err
	}
	if err := p.eq.Set(cfg.Equalizer); err != nil {
		return nil, err
	}
	if pkt != nil {
		p.decoded = make([]float32, opus.MaxFrameSamples*2)
		// Read the first packet now: it tells whether pass-through is possible.
		if err := p.readPacket(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("audio: the stream has no audio packets")
			}
			return nil, err
		}
		p.rawNext = 1
		first := p.newest()
		p.info.Passthrough = first.samples == frameSamples
		p.passing = p.info.Passthrough && !p.chain.Active()
		p.audioStart = int64(pkt.PreSkip())
		if !p.passing {
			p.skipHead = pkt.PreSkip()
			p.pos = p.audioStart
		}
	} else {
		ch := pcm.Channels()
		chunk := max(pcm.SampleRate()/50, 64) // ~20 ms per read
		p.native = make([]float32, chunk*ch)
		if pcm.SampleRate() != opus.SampleRate {
			rs, err := resample.New(pcm.SampleRate(), opus.SampleRate, ch)
			if err != nil {
				return nil, err
			}
			p.rs = rs
			p.decoded = make([]float32, rs.MaxOut(len(p.native)))
		}
		if ch == 1 {
			p.mono = p.decoded
		}
	}
	if cfg.Seek > 0 {
		if err := p.Seek(cfg.Seek); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Info returns what the input is.
func (p *Pipeline) Info() Info { return p.info }

// SetVolume changes the volume in percent (0–1000); it is ramped over one frame.
func (p *Pipeline) SetVolume(pct int) error { return p.vol.Set(pct) }

// SetEqualizer changes the 15 band gains (−0.25…1.0 each).
func (p *Pipeline) SetEqualizer(g [15]float64) error { return p.eq.Set(g) }

// Volume returns the volume in percent.
func (p *Pipeline) Volume() int { return p.vol.Percent() }

// Equalizer returns the band gains.
func (p *Pipeline) Equalizer() [15]float64 { return p.eq.Gains() }

// Passing reports whether the last frame was passed through untouched.
func (p *Pipeline) Passing() bool { return p.passing }

// Position returns the playback position of the next frame.
func (p *Pipeline) Position() time.Duration {
	s := p.pos
	if p.pkt != nil {
		s -= int64(p.pkt.PreSkip())
	}
	return samplesToDuration(max(s, 0))
}

// Close releases the input and codec state.
func (p *Pipeline) Close() error {
	if p.enc != nil {
		p.enc.Close()
	}
	if p.dec != nil {
		p.dec.Close()
	}
	if p.closer != nil {
		return p.closer.Close()
	}
	return nil
}

func samplesToDuration(s int64) time.Duration {
	return time.Duration(s) * time.Second / opus.SampleRate
}

func durationToSamples(d time.Duration) int64 { return int64(d) * opus.SampleRate / int64(time.Second) }

// MaxFrameBytes is the largest frame Next produces: packets passed through are
// at most this long (longer ones are re-encoded), encoded ones at most opus.MaxPacket.
const MaxFrameBytes = 1500

// Next writes the next 20 ms Opus packet into dst (MaxFrameBytes long) and
// returns its length; io.EOF after the last frame.
func (p *Pipeline) Next(dst []byte) (int, error) {
	if p.pkt != nil {
		return p.nextOpus(dst)
	}
	return p.nextPCM(dst)
}

// ring helpers ---------------------------------------------------------------

func (p *Pipeline) newest() *rawPacket { return &p.raw[(p.rawHead+p.rawLen-1)%rawKeep] }

func (p *Pipeline) nth(i int) *rawPacket { return &p.raw[(p.rawHead+i)%rawKeep] }

// readPacket reads one packet from the demuxer into the ring.
func (p *Pipeline) readPacket() error {
	b, err := p.pkt.ReadPacket()
	if err != nil {
		return err
	}
	if len(b) > maxRawPacket {
		return errPacketSize
	}
	n, err := opus.PacketSamples(b)
	if err != nil {
		return fmt.Errorf("audio: corrupt opus packet at %v: %w", samplesToDuration(p.pktPos), err)
	}
	if p.rawLen == rawKeep {
		p.rawHead = (p.rawHead + 1) % rawKeep
		p.rawLen--
	}
	p.rawLen++
	r := p.newest()
	r.n = copy(r.buf[:], b)
	r.start = p.pktPos
	r.samples = n
	r.trim = 0
	if p.padded != nil {
		r.trim = p.padded.DiscardPadding()
	}
	p.pktPos += int64(n)
	return nil
}

// takePacket returns the next unconsumed packet, reading one if none is pending.
func (p *Pipeline) takePacket() (*rawPacket, error) {
	if p.rawNext == 0 {
		if err := p.readPacket(); err != nil {
			return nil, err
		}
		p.rawNext = 1
	}
	r := p.nth(p.rawLen - p.rawNext)
	p.rawNext--
	return r, nil
}

// Opus input ----------------------------------------------------------------

func (p *Pipeline) nextOpus(dst []byte) (int, error) {
	for {
		if p.passing {
			if p.chain.Active() {
				p.startTranscode(true)
				continue
			}
			r, err := p.takePacket()
			if err != nil {
				return 0, p.endErr(err)
			}
			if r.samples != frameSamples || r.n > MaxFrameBytes {
				p.rawNext++ // give it back to the decoder
				p.startTranscode(true)
				continue
			}
			if p.framesOut == 0 {
				p.firstOut = r.start
			}
			p.pos = r.start + int64(r.samples)
			p.framesOut++
			return copy(dst, r.buf[:r.n]), nil
		}
		if p.canResumePassthrough() {
			p.passing = true
			p.fifo = p.fifo[:0]
			continue
		}
		n, err := p.encodeFrame(dst)
		if err == errPrimed {
			continue
		}
		return n, err
	}
}

// startTranscode switches from pass-through to decoding at the next unconsumed
// packet. With prime, the decoder is warmed on the packets already sent and the
// encoder is fed one priming frame so that its lookahead lines the re-encoded
// audio up with what the listener heard: the switch makes no audible seam.
func (p *Pipeline) startTranscode(prime bool) {
	p.passing = false
	p.ensureCodecs()
	p.dec.Reset()
	p.enc.Reset()
	p.fifo = p.fifo[:0]
	p.skipHead = 0
	next := p.rawLen - p.rawNext // ring index of the next packet
	nextStart := p.pktPos
	if next < p.rawLen {
		nextStart = p.nth(next).start
	}
	la := p.enc.Lookahead()
	p.primed = false
	if prime && next >= 1 {
		for i := max(0, next-2); i < next; i++ {
			r := p.nth(i)
			n, err := p.dec.Decode(r.buf[:r.n], p.decoded)
			if err != nil || i < next-1 {
				continue
			}
			// Keep the tail of the last sent packet: the priming frame covers
			// [nextStart-960+la, nextStart+la).
			keep := frameSamples - la
			if keep > 0 && keep <= n {
				p.fifo = append(p.fifo, p.decoded[(n-keep)*2:n*2]...)
				p.primed = true
			}
		}
	}
	if p.primed {
		p.fifoStart = nextStart - int64(frameSamples-la)
	} else {
		p.fifoStart = nextStart
	}
}

// canResumePassthrough reports whether effects are off and the next output frame
// lines up with a packet still held in the ring, which then goes out untouched.
func (p *Pipeline) canResumePassthrough() bool {
	if !p.info.Passthrough || p.chain.Active() || p.enc == nil {
		return false
	}
	// The next encoded frame would carry audio from fifoStart minus the encoder's lookahead.
	at := p.fifoStart - int64(p.enc.Lookahead())
	for i := 0; i < p.rawLen; i++ {
		r := p.nth(i)
		if r.start == at && r.samples == frameSamples {
			p.rawNext = p.rawLen - i
			return true
		}
	}
	return false
}

var errPrimed = errors.New("audio: priming frame dropped")

// fillFromPackets decodes one more packet into the FIFO; false at the end of input.
func (p *Pipeline) fillFromPackets() (bool, error) {
	r, err := p.takePacket()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	n, err := p.dec.Decode(r.buf[:r.n], p.decoded)
	if err != nil {
		// A corrupt packet: conceal it rather than end the track.
		n, err = p.dec.Decode(nil, p.decoded[:r.samples*2])
		if err != nil {
			return false, err
		}
	}
	n -= min(r.trim, n) // the container's padding past the real end
	p.pushDecoded(p.decoded[:n*2])
	return true, nil
}

// pushDecoded appends 48 kHz stereo to the FIFO, dropping skipHead samples first.
func (p *Pipeline) pushDecoded(s []float32) {
	if p.skipHead > 0 {
		drop := min(p.skipHead, len(s)/2)
		s = s[drop*2:]
		p.skipHead -= drop
		p.fifoStart += int64(drop)
	}
	if len(p.fifo)+len(s) > cap(p.fifo) {
		// Cannot happen with fifoCap sized for the largest packet; keep the newest audio.
		s = s[:cap(p.fifo)-len(p.fifo)]
	}
	p.fifo = append(p.fifo, s...)
}

// encodeFrame fills the FIFO with p.fill until a frame is available, then applies
// effects and encodes one frame into dst.
func (p *Pipeline) encodeFrame(dst []byte) (int, error) {
	p.ensureCodecs()
	for len(p.fifo) < frameLen && !p.inEOF {
		more, err := p.fill()
		if err != nil {
			return 0, err
		}
		if !more {
			p.inEOF = true
			if p.endPos < 0 {
				p.endPos = p.fifoStart + int64(len(p.fifo)/2)
				p.clampEnd()
			}
		}
	}
	if len(p.fifo) == 0 {
		return 0, io.EOF
	}
	la := int64(p.enc.Lookahead())
	carries := p.fifoStart - la // timeline of the audio this frame carries
	frame := p.frameBuf[:]
	n := copy(frame, p.fifo)
	clear(frame[n:])
	rest := copy(p.fifo, p.fifo[n:])
	p.fifo = p.fifo[:rest]
	p.fifoStart += frameSamples
	priming := p.primed
	if !priming {
		p.chain.Process(frame)
	}
	m, err := p.enc.Encode(frame, dst)
	if err != nil {
		return 0, err
	}
	if priming {
		p.primed = false
		return 0, errPrimed
	}
	if p.framesOut == 0 {
		p.firstOut = carries
	}
	p.pos = carries + frameSamples
	p.framesOut++
	return m, nil
}

func (p *Pipeline) ensureCodecs() {
	if p.enc == nil {
		ec := opus.DefaultEncoderConfig()
		ec.Bitrate = p.cfg.Bitrate
		ec.Complexity = p.cfg.Complexity
		enc, err := opus.NewEncoder(ec)
		if err != nil {
			// Config was validated at open; fall back to defaults rather than fail mid-track.
			enc, _ = opus.NewEncoder(opus.DefaultEncoderConfig())
		}
		p.enc = enc
	}
	if p.dec == nil && p.pkt != nil {
		p.dec, _ = opus.NewDecoder(2)
	}
}

// EncoderDelay returns the encoder's lookahead in samples: the pre-skip an Ogg
// file needs when its audio was encoded by this pipeline.
func (p *Pipeline) EncoderDelay() int {
	p.ensureCodecs()
	return p.enc.Lookahead()
}

// OggLayout returns what an Ogg Opus file of the frames emitted so far must
// declare (RFC 7845 §4): the pre-skip, and, once the input has ended, the final
// granule position that trims the last frame (-1 before the end).
func (p *Pipeline) OggLayout() (preSkip int, endGranule int64) {
	preSkip = int(max(p.audioStart-p.firstOut, 0))
	if p.endPos < 0 {
		return preSkip, -1
	}
	return preSkip, max(p.endPos-p.firstOut, 0)
}

// clampEnd trims endPos to the container's declared duration, which excludes
// the padding of the last packet. A last packet with declared padding already
// ends exactly where the audio does.
func (p *Pipeline) clampEnd() {
	if p.pkt == nil {
		return
	}
	if p.rawLen > 0 && p.newest().trim > 0 {
		return
	}
	if d := p.pkt.Duration(); d >= 0 {
		if limit := d + int64(p.pkt.PreSkip()); p.endPos > limit {
			p.endPos = limit
		}
	}
}

// PCM input -----------------------------------------------------------------

func (p *Pipeline) nextPCM(dst []byte) (int, error) {
	for {
		n, err := p.encodeFrame(dst)
		if err == errPrimed {
			continue
		}
		return n, err
	}
}

func (p *Pipeline) fillFromPCM() (bool, error) {
	if p.flushed {
		return false, nil
	}
	ch := p.pcm.Channels()
	n, err := p.pcm.ReadPCM(p.native)
	if n > 0 {
		p.inFrames += int64(n / ch)
		p.pushNative(p.native[:n], ch)
	}
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return false, err
		}
		if p.rs != nil {
			for {
				m := p.rs.Flush(p.decoded, p.inFrames)
				if m == 0 {
					break
				}
				p.pushStereo(p.decoded[:m], ch)
			}
		}
		p.flushed = true
		return len(p.fifo) > 0, nil
	}
	return true, nil
}

func (p *Pipeline) pushNative(s []float32, ch int) {
	if p.rs == nil {
		p.pushStereo(s, ch)
		return
	}
	m := p.rs.Process(p.decoded, s)
	p.pushStereo(p.decoded[:m], ch)
}

// pushStereo appends s (ch channels at 48 kHz) to the FIFO as stereo.
func (p *Pipeline) pushStereo(s []float32, ch int) {
	if ch == 2 {
		p.pushDecoded(s)
		return
	}
	for len(s) > 0 {
		room := (cap(p.fifo) - len(p.fifo)) / 2
		if room == 0 {
			return
		}
		k := min(room, len(s))
		for _, v := range s[:k] {
			p.fifo = append(p.fifo, v, v)
		}
		s = s[k:]
	}
}

// Seek moves to d from the start. Pass-through resumes at the packet holding d;
// decoded inputs land on the exact sample (within one frame for MP3 without an index).
func (p *Pipeline) Seek(d time.Duration) error {
	if !p.info.Seekable {
		return errNotSeekable
	}
	if d < 0 {
		d = 0
	}
	target := durationToSamples(d)
	p.inEOF, p.flushed, p.primed = false, false, false
	p.endPos = -1
	p.fifo = p.fifo[:0]
	p.chain.Reset()
	if p.enc != nil {
		p.enc.Reset()
	}
	if p.pkt != nil {
		pre := int64(p.pkt.PreSkip())
		// Start decoding a little early so the decoder has converged at the target.
		const preroll = 3840 // 80 ms, Opus's recommended seek pre-roll
		at, err := p.pkt.SeekSample(max(target-preroll, 0))
		if err != nil {
			return fmt.Errorf("audio: seek: %w", err)
		}
		p.rawLen, p.rawNext, p.rawHead = 0, 0, 0
		p.pktPos = at + pre
		if p.dec != nil {
			p.dec.Reset()
		}
		p.audioStart = target + pre
		p.framesOut = 0
		if p.info.Passthrough && !p.chain.Active() {
			// Skip whole packets up to the one holding the target.
			for {
				if err := p.readPacket(); err != nil {
					if errors.Is(err, io.EOF) {
						p.pos = p.pktPos
						p.endPos = p.pktPos
						if p.rawLen > 0 {
							p.endPos -= int64(p.newest().trim)
						}
						return nil
					}
					return err
				}
				r := p.newest()
				if r.start+int64(r.samples) > target+pre || r.samples != frameSamples {
					p.rawNext = 1
					break
				}
			}
			p.passing = true
			p.pos = p.newest().start
			return nil
		}
		p.passing = false
		p.ensureCodecs()
		p.skipHead = int(target + pre - p.pktPos)
		p.fifoStart = p.pktPos
		p.pos = target + pre
		return nil
	}
	rate := int64(p.pcm.SampleRate())
	nativeTarget := target * rate / opus.SampleRate
	at, err := p.pcm.SeekSample(nativeTarget)
	if err != nil {
		return fmt.Errorf("audio: seek: %w", err)
	}
	if p.rs != nil {
		p.rs.Reset()
	}
	// Discard what lies between where the decoder landed and the target.
	drop := nativeTarget - at
	for drop > 0 {
		want := min(int(drop)*p.pcm.Channels(), len(p.native))
		n, err := p.pcm.ReadPCM(p.native[:want])
		if n > 0 {
			drop -= int64(n / p.pcm.Channels())
		}
		if err != nil {
			break
		}
	}
	p.inFrames = 0
	p.pos = nativeTarget * opus.SampleRate / rate
	p.fifoStart = p.pos
	p.audioStart = p.pos
	p.framesOut = 0
	return nil
}

func (p *Pipeline) endErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if errors.Is(err, io.EOF) && p.endPos < 0 {
		p.endPos = p.pktPos
		if p.rawLen > 0 {
			p.endPos -= int64(p.newest().trim)
		}
		p.clampEnd()
	}
	return err
}
