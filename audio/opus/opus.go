// Package opus encodes and decodes Opus audio (RFC 6716) through libopus and
// parses Opus packet headers. libopus is the copy that layeh.com/gopus bundles
// and compiles; this package calls it directly so that the caller owns every
// buffer (nothing is allocated per frame) and can set options gopus does not
// expose, such as complexity.
package opus

/*
#cgo LDFLAGS: -Wl,--unresolved-symbols=ignore-in-object-files
#include <stdint.h>
#include <stdlib.h>

// libopus symbols; their definitions come from layeh.com/gopus's bundled build.
typedef struct OpusEncoder OpusEncoder;
typedef struct OpusDecoder OpusDecoder;
extern int opus_encoder_get_size(int channels);
extern int opus_encoder_init(OpusEncoder *st, int32_t Fs, int channels, int application);
extern int32_t opus_encode_float(OpusEncoder *st, const float *pcm, int frame_size, unsigned char *data, int32_t max_data_bytes);
extern int opus_encoder_ctl(OpusEncoder *st, int request, ...);
extern int opus_decoder_get_size(int channels);
extern int opus_decoder_init(OpusDecoder *st, int32_t Fs, int channels);
extern int opus_decode_float(OpusDecoder *st, const unsigned char *data, int32_t len, float *pcm, int frame_size, int decode_fec);
extern int opus_decoder_ctl(OpusDecoder *st, int request, ...);

// The ctl functions are variadic, which cgo cannot call; these wrappers fix the argument types.
static int q_enc_set(OpusEncoder *st, int request, int value) { return opus_encoder_ctl(st, request, value); }
static int q_enc_get(OpusEncoder *st, int request, int32_t *value) { return opus_encoder_ctl(st, request, value); }
static int q_enc_reset(OpusEncoder *st) { return opus_encoder_ctl(st, 4028); }
static int q_dec_reset(OpusDecoder *st) { return opus_decoder_ctl(st, 4028); }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	// Linked for its compiled libopus; see the package comment.
	_ "layeh.com/gopus"
)

// SampleRate is the rate Quaver runs Opus at: Discord's, and Opus's native one.
const SampleRate = 48000

// FrameSamples is the number of samples per channel in one 20 ms frame at 48 kHz.
const FrameSamples = 960

// MaxPacket is the largest Opus packet a single frame can produce (RFC 6716 §3.4, R5).
const MaxPacket = 1275

// MaxFrameSamples is the longest decoded duration of one packet: 120 ms at 48 kHz.
const MaxFrameSamples = 5760

// Application selects the encoder's tuning.
type Application int

// Encoder applications (opus_defines.h).
const (
	AppVoIP     Application = 2048
	AppAudio    Application = 2049
	AppLowDelay Application = 2051
)

// libopus ctl request numbers (opus_defines.h).
const (
	ctlSetBitrate     = 4002
	ctlSetVBR         = 4006
	ctlSetComplexity  = 4010
	ctlSetInbandFEC   = 4012
	ctlSetPacketLoss  = 4014
	ctlSetSignal      = 4024
	ctlGetLookahead   = 4027
	signalMusic       = 3002
	defaultBitrate    = 128000
	defaultComplexity = 10
)

var (
	errChannels   = errors.New("opus: channels must be 1 or 2")
	errFrameSize  = errors.New("opus: pcm length is not a whole 2.5/5/10/20/40/60 ms frame")
	errClosed     = errors.New("opus: use of closed coder")
	errBitrate    = errors.New("opus: bitrate must be between 6000 and 510000")
	errComplexity = errors.New("opus: complexity must be between 0 and 10")
)

// libopus error codes (opus_defines.h), as data.
var opusErrors = map[C.int]string{
	-1: "bad argument",
	-2: "buffer too small",
	-3: "internal error",
	-4: "invalid packet",
	-5: "unimplemented",
	-6: "invalid state",
	-7: "allocation failed",
}

func codeErr(op string, code C.int) error {
	if s, ok := opusErrors[code]; ok {
		return fmt.Errorf("opus: %s: %s", op, s)
	}
	return fmt.Errorf("opus: %s: error %d", op, int(code))
}

// Encoder encodes 48 kHz float PCM to Opus packets. It is not safe for concurrent use.
type Encoder struct {
	st        *C.OpusEncoder
	channels  int
	lookahead int
}

// EncoderConfig configures NewEncoder.
type EncoderConfig struct {
	// Channels is 1 or 2.
	Channels int
	// Bitrate in bits per second (6000–510000); 0 means 128 kbps.
	Bitrate int
	// Complexity from 0 (fastest) to 10 (best); -1 means 10.
	Complexity int
	// Application tunes the encoder; 0 means AppAudio.
	Application Application
}

// DefaultEncoderConfig returns stereo, 128 kbps, complexity 10, music tuning.
func DefaultEncoderConfig() EncoderConfig {
	return EncoderConfig{Channels: 2, Bitrate: defaultBitrate, Complexity: defaultComplexity, Application: AppAudio}
}

// NewEncoder returns an encoder at 48 kHz. Close releases its C memory.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, errChannels
	}
	if cfg.Bitrate == 0 {
		cfg.Bitrate = defaultBitrate
	}
	if cfg.Complexity < 0 {
		cfg.Complexity = defaultComplexity
	}
	if cfg.Application == 0 {
		cfg.Application = AppAudio
	}
	if cfg.Bitrate < 6000 || cfg.Bitrate > 510000 {
		return nil, errBitrate
	}
	if cfg.Complexity > 10 {
		return nil, errComplexity
	}
	size := C.opus_encoder_get_size(C.int(cfg.Channels))
	st := (*C.OpusEncoder)(C.malloc(C.size_t(size)))
	if st == nil {
		return nil, errors.New("opus: out of memory")
	}
	if code := C.opus_encoder_init(st, SampleRate, C.int(cfg.Channels), C.int(cfg.Application)); code != 0 {
		C.free(unsafe.Pointer(st))
		return nil, codeErr("encoder init", code)
	}
	e := &Encoder{st: st, channels: cfg.Channels}
	var la C.int32_t
	C.q_enc_get(st, ctlGetLookahead, &la)
	e.lookahead = int(la)
	for _, s := range [...]struct{ req, val int }{
		{ctlSetBitrate, cfg.Bitrate},
		{ctlSetComplexity, cfg.Complexity},
		{ctlSetVBR, 1},
		{ctlSetSignal, signalMusic},
		{ctlSetInbandFEC, 1},
		{ctlSetPacketLoss, 2},
	} {
		if code := C.q_enc_set(st, C.int(s.req), C.int(s.val)); code != 0 {
			e.Close()
			return nil, codeErr("encoder ctl", code)
		}
	}
	return e, nil
}

// Lookahead returns the encoder's delay in samples at 48 kHz: the pre-skip an Ogg
// Opus file written from this encoder must declare. It is fixed by the
// application chosen at creation, so it is read once then.
func (e *Encoder) Lookahead() int { return e.lookahead }

// SetBitrate changes the target bitrate in bits per second.
func (e *Encoder) SetBitrate(bps int) error {
	if e.st == nil {
		return errClosed
	}
	if bps < 6000 || bps > 510000 {
		return errBitrate
	}
	if code := C.q_enc_set(e.st, ctlSetBitrate, C.int(bps)); code != 0 {
		return codeErr("set bitrate", code)
	}
	return nil
}

// Encode encodes one frame of interleaved PCM (len(pcm)/channels samples per channel, a
// legal Opus frame size) into out and returns the packet length. out should hold MaxPacket bytes.
func (e *Encoder) Encode(pcm []float32, out []byte) (int, error) {
	if e.st == nil {
		return 0, errClosed
	}
	n := len(pcm) / e.channels
	if !validFrameSize(n) || n*e.channels != len(pcm) {
		return 0, errFrameSize
	}
	if len(out) == 0 {
		return 0, codeErr("encode", -2)
	}
	r := C.opus_encode_float(e.st, (*C.float)(unsafe.Pointer(&pcm[0])), C.int(n),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.int32_t(len(out)))
	runtime.KeepAlive(pcm)
	runtime.KeepAlive(out)
	if r < 0 {
		return 0, codeErr("encode", C.int(r))
	}
	return int(r), nil
}

// Reset clears the encoder's history, as for a new stream.
func (e *Encoder) Reset() {
	if e.st != nil {
		C.q_enc_reset(e.st)
	}
}

// Close releases the encoder. Further calls return an error.
func (e *Encoder) Close() {
	if e.st != nil {
		C.free(unsafe.Pointer(e.st))
		e.st = nil
	}
}

func validFrameSize(n int) bool {
	switch n {
	case 120, 240, 480, 960, 1920, 2880:
		return true
	}
	return false
}

// Decoder decodes Opus packets to 48 kHz float PCM. It is not safe for concurrent use.
type Decoder struct {
	st       *C.OpusDecoder
	channels int
}

// NewDecoder returns a decoder producing channels (1 or 2) at 48 kHz; any Opus
// packet, mono or stereo, decodes to that layout. Close releases its C memory.
func NewDecoder(channels int) (*Decoder, error) {
	if channels != 1 && channels != 2 {
		return nil, errChannels
	}
	size := C.opus_decoder_get_size(C.int(channels))
	st := (*C.OpusDecoder)(C.malloc(C.size_t(size)))
	if st == nil {
		return nil, errors.New("opus: out of memory")
	}
	if code := C.opus_decoder_init(st, SampleRate, C.int(channels)); code != 0 {
		C.free(unsafe.Pointer(st))
		return nil, codeErr("decoder init", code)
	}
	return &Decoder{st: st, channels: channels}, nil
}

// Decode decodes one packet into pcm (interleaved; room for MaxFrameSamples per
// channel is always enough) and returns the number of samples per channel. An
// empty packet asks for packet-loss concealment of len(pcm)/channels samples.
func (d *Decoder) Decode(packet []byte, pcm []float32) (int, error) {
	if d.st == nil {
		return 0, errClosed
	}
	frames := len(pcm) / d.channels
	if frames == 0 {
		return 0, codeErr("decode", -2)
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	r := C.opus_decode_float(d.st, data, C.int32_t(len(packet)), (*C.float)(unsafe.Pointer(&pcm[0])), C.int(frames), 0)
	runtime.KeepAlive(packet)
	runtime.KeepAlive(pcm)
	if r < 0 {
		return 0, codeErr("decode", C.int(r))
	}
	return int(r), nil
}

// Reset clears the decoder's state, as for a new stream.
func (d *Decoder) Reset() {
	if d.st != nil {
		C.q_dec_reset(d.st)
	}
}

// Close releases the decoder. Further calls return an error.
func (d *Decoder) Close() {
	if d.st != nil {
		C.free(unsafe.Pointer(d.st))
		d.st = nil
	}
}
