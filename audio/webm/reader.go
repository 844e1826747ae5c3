// Package webm owns the EBML/Matroska container (WebM and .mka/.mkv) for
// Opus audio: it finds the first audio track, returns its Opus packets with
// every lacing mode resolved, follows live (unknown-size) streams and seeks
// with Cues or by scanning clusters.
package webm

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/quaverbot/quaver/audio/ogg"
)

// Bounds on what a file may claim before anything is allocated.
const (
	maxHeaderElem = 4 << 10  // EBML header
	maxMetaElem   = 1 << 20  // SeekHead, Info, Tracks
	maxCuesElem   = 16 << 20 // Cues (about 20 bytes per cue point)
	maxBlock      = 1 << 20  // one SimpleBlock/Block; Opus frames are a few KB
	maxLaced      = 256      // frames in one laced block (count is one byte + 1)
	maxGroupExtra = 1 << 10  // BlockGroup children besides the Block (DiscardPadding, references)
	maxTopLevel   = 1 << 16  // elements examined before the first Cluster
)

// UnsupportedCodecError reports an audio track that is not Opus. Its message
// is exactly "unsupported codec: NAME", e.g. "unsupported codec: Vorbis".
type UnsupportedCodecError struct {
	Codec string
}

func (e *UnsupportedCodecError) Error() string { return "unsupported codec: " + e.Codec }

// codecNames maps Matroska CodecIDs (matroska.org codec specs) to names.
var codecNames = []struct{ prefix, name string }{
	{"A_VORBIS", "Vorbis"},
	{"A_AAC", "AAC"},
	{"A_MPEG/L3", "MP3"},
	{"A_MPEG/L2", "MP2"},
	{"A_MPEG/L1", "MP1"},
	{"A_FLAC", "FLAC"},
	{"A_AC3", "AC-3"},
	{"A_EAC3", "E-AC-3"},
	{"A_DTS", "DTS"},
	{"A_TRUEHD", "TrueHD"},
	{"A_PCM", "PCM"},
	{"A_ALAC", "ALAC"},
	{"A_WAVPACK", "WavPack"},
	{"A_TTA", "TTA"},
	{"A_REAL", "RealAudio"},
	{"A_MS/ACM", "ACM"},
	{"A_QUICKTIME", "QuickTime audio"},
}

func codecName(id string) string {
	for _, c := range codecNames {
		if strings.HasPrefix(id, c.prefix) {
			return c.name
		}
	}
	if id == "" {
		return "unknown"
	}
	return strings.TrimPrefix(id, "A_")
}

var (
	errNotWebM   = errors.New("webm: not an EBML file (no EBML header)")
	errNoSegment = errors.New("webm: no Segment element")
	errNoTracks  = errors.New("webm: no Tracks element before the first Cluster")
	errNoAudio   = errors.New("webm: no audio track")
	errNoCluster = errors.New("webm: no Cluster (no audio data)")
)

type cuePoint struct {
	time int64 // in TimecodeScale units
	pos  int64 // cluster position relative to the segment data
}

// OpusReader reads the Opus packets of the first audio track of a WebM or
// Matroska file. It is not safe for concurrent use.
type OpusReader struct {
	br        *byteReader
	container string

	segStart     int64 // offset of the Segment's data (positions are relative to it)
	firstCluster int64 // offset of the first Cluster element
	scale        int64 // TimecodeScale, ns per tick
	infoDur      float64
	track        uint64
	head         ogg.OpusHead
	inputRate    int
	codecDelay   int64 // ns
	seekPreRoll  int64 // ns
	cuesPos      int64 // from SeekHead, relative to segStart; -1 when absent
	cues         []cuePoint
	cuesLoaded   bool

	clusterTime  int64 // current cluster's Timecode
	block        []byte
	lace         [maxLaced][2]int // offsets and ends of the frames of the current block
	nLace, iLace int
	blockTime    int64  // start of the current block's first frame, raw 48 kHz samples
	stamp        int64  // the current block's own timestamp, raw 48 kHz samples
	padding      int    // DiscardPadding of the current block, 48 kHz samples (0 when none)
	group        []byte // a BlockGroup's body, read whole to find its DiscardPadding
	exactEnd     int64  // raw end of the last packet after its DiscardPadding, from the tail scan; -1 when unknown
	nextTime     int64  // where the next block should start if the stream is continuous
	anchored     bool   // nextTime is valid
	ready        bool   // lace[iLace-1] is a packet held back by SeekSample
	eof          bool
}

// NewOpusReader parses the headers of a WebM/Matroska file up to its first
// Cluster. A non-Opus first audio track gets an *UnsupportedCodecError.
func NewOpusReader(r io.Reader) (*OpusReader, error) {
	wr := &OpusReader{br: newByteReader(r), scale: 1000000, cuesPos: -1, block: make([]byte, 0, 4096), exactEnd: -1}
	if err := wr.readHeaders(); err != nil {
		return nil, err
	}
	if wr.br.Seekable() {
		if err := wr.scanEnd(); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// scanEnd reads the blocks after the last cue point (usually the last
// Cluster) to find where the audio really ends: the last packet's end minus
// its DiscardPadding. It leaves the reader at the first Cluster. Without
// Cues it does nothing (Duration falls back to the Segment Info).
func (wr *OpusReader) scanEnd() error {
	if wr.cuesPos < 0 && len(wr.cues) == 0 {
		return nil // no Cues: nothing to read, nothing moved
	}
	wr.loadCues()
	if len(wr.cues) > 0 && wr.br.SeekTo(wr.segStart+wr.cues[len(wr.cues)-1].pos) == nil {
		end := int64(-1)
		for {
			_, err := wr.ReadPacket()
			if err != nil {
				if err != io.EOF {
					end = -1 // damage or a read error: keep the Segment Info's duration
				}
				break
			}
			if wr.iLace == wr.nLace {
				end = wr.frameStart(wr.nLace) - int64(wr.DiscardPadding())
			}
		}
		wr.exactEnd = end
	}
	if err := wr.br.SeekTo(wr.firstCluster); err != nil {
		return err
	}
	wr.nLace, wr.iLace, wr.ready, wr.eof, wr.anchored = 0, 0, false, false, false
	wr.clusterTime, wr.padding = 0, 0
	return nil
}

// readBody reads an element's data of size bytes, at most limit.
func (wr *OpusReader) readBody(what string, size, limit int64) ([]byte, error) {
	if size == unknownSize || size > limit {
		return nil, fmt.Errorf("webm: %s element of %d bytes exceeds the %d byte limit", what, size, limit)
	}
	b := make([]byte, size)
	if err := wr.br.ReadFull(b); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("webm: file ends inside %s", what)
		}
		return nil, err
	}
	return b, nil
}

func (wr *OpusReader) readHeaders() error {
	id, size, err := wr.br.readHeader()
	if err != nil || id != idEBML {
		return errNotWebM
	}
	b, err := wr.readBody("EBML header", size, maxHeaderElem)
	if err != nil {
		return err
	}
	err = children(b, func(id uint32, data []byte) error {
		if id == idDocType {
			wr.container = strings.TrimRight(string(data), "\x00")
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch wr.container {
	case "webm", "matroska":
	default:
		return fmt.Errorf("webm: unsupported EBML DocType %q", wr.container)
	}
	// Skip top-level elements (Void) until the Segment.
	for {
		id, size, err := wr.br.readHeader()
		if err != nil {
			return errNoSegment
		}
		if id == idSegment {
			break
		}
		if size == unknownSize {
			return errNoSegment
		}
		if err := wr.br.Skip(size); err != nil {
			return errNoSegment
		}
	}
	wr.segStart = wr.br.Offset()
	haveTracks := false
	for range maxTopLevel {
		elemStart := wr.br.Offset()
		id, size, err := wr.br.readHeader()
		if err == io.EOF {
			if !haveTracks {
				return errNoTracks
			}
			return errNoCluster
		}
		if err != nil {
			return err
		}
		switch id {
		case idCluster:
			if !haveTracks {
				return errNoTracks
			}
			if wr.track == 0 {
				return errNoAudio
			}
			wr.firstCluster = elemStart
			return nil
		case idSeekHead:
			b, err := wr.readBody("SeekHead", size, maxMetaElem)
			if err != nil {
				return err
			}
			wr.parseSeekHead(b)
		case idInfo:
			b, err := wr.readBody("Info", size, maxMetaElem)
			if err != nil {
				return err
			}
			if err := wr.parseInfo(b); err != nil {
				return err
			}
		case idTracks:
			b, err := wr.readBody("Tracks", size, maxMetaElem)
			if err != nil {
				return err
			}
			if err := wr.parseTracks(b); err != nil {
				return err
			}
			haveTracks = true
		case idCues:
			b, err := wr.readBody("Cues", size, maxCuesElem)
			if err != nil {
				return err
			}
			wr.parseCues(b)
		default:
			if size == unknownSize {
				return fmt.Errorf("webm: element 0x%X of unknown size before the first Cluster", id)
			}
			if err := wr.br.Skip(size); err != nil {
				if !haveTracks {
					return errNoTracks
				}
				return errNoCluster
			}
		}
	}
	return errNoCluster
}

func (wr *OpusReader) parseSeekHead(b []byte) {
	children(b, func(id uint32, data []byte) error {
		if id != idSeek {
			return nil
		}
		var target uint32
		pos := int64(-1)
		children(data, func(id uint32, d []byte) error {
			switch id {
			case idSeekID:
				if v, err := readUint(d); err == nil && v <= math.MaxUint32 {
					target = uint32(v)
				}
			case idSeekPosition:
				if v, err := readUint(d); err == nil && v < math.MaxInt64/2 {
					pos = int64(v)
				}
			}
			return nil
		})
		if target == idCues && pos >= 0 {
			wr.cuesPos = pos
		}
		return nil
	})
}

func (wr *OpusReader) parseInfo(b []byte) error {
	return children(b, func(id uint32, d []byte) error {
		switch id {
		case idTimecodeScale:
			v, err := readUint(d)
			if err != nil || v == 0 || v > 1e12 {
				return fmt.Errorf("webm: invalid TimecodeScale")
			}
			wr.scale = int64(v)
		case idDuration:
			f, err := readFloat(d)
			if err != nil {
				return err
			}
			if f > 0 && f < 1e15 {
				wr.infoDur = f
			}
		}
		return nil
	})
}

// parseTracks picks the first audio track and checks that it is Opus.
func (wr *OpusReader) parseTracks(b []byte) error {
	found := false
	return children(b, func(id uint32, data []byte) error {
		if id != idTrackEntry || found {
			return nil
		}
		var (
			num, typ       uint64
			codec          string
			priv           []byte
			delay, preRoll uint64
			channels       uint64
			rate           float64
		)
		err := children(data, func(id uint32, d []byte) error {
			var err error
			switch id {
			case idTrackNumber:
				num, err = readUint(d)
			case idTrackType:
				typ, err = readUint(d)
			case idCodecID:
				codec = strings.TrimRight(string(d), "\x00")
			case idCodecPrivate:
				priv = d
			case idCodecDelay:
				delay, err = readUint(d)
			case idSeekPreRoll:
				preRoll, err = readUint(d)
			case idAudio:
				return children(d, func(id uint32, d []byte) error {
					var err error
					switch id {
					case idChannels:
						channels, err = readUint(d)
					case idSamplingFrequency:
						rate, err = readFloat(d)
					}
					return err
				})
			}
			return err
		})
		if err != nil {
			return err
		}
		if typ != trackTypeAudio {
			return nil
		}
		found = true
		if codec != "A_OPUS" {
			return &UnsupportedCodecError{Codec: codecName(codec)}
		}
		if num == 0 {
			return errors.New("webm: audio track without a track number")
		}
		wr.track = num
		wr.codecDelay = int64(min(delay, 1e10))
		wr.seekPreRoll = int64(min(preRoll, 1e10))
		if len(priv) > 0 {
			if err := wr.head.UnmarshalBinary(priv); err != nil {
				return err
			}
		} else {
			// No OpusHead: channels from the Audio element, pre-skip from CodecDelay.
			if channels == 0 {
				channels = 2
			}
			if channels > 2 {
				return fmt.Errorf("webm: unsupported channel layout: %d channels", channels)
			}
			wr.head = ogg.OpusHead{Version: 1, Channels: int(channels), PreSkip: int(wr.codecDelay * 48000 / 1e9), InputSampleRate: 48000}
		}
		wr.inputRate = wr.head.InputSampleRate
		if wr.inputRate == 0 && rate > 0 && rate < 1e7 {
			wr.inputRate = int(rate)
		}
		return nil
	})
}

func (wr *OpusReader) parseCues(b []byte) {
	wr.cues = wr.cues[:0]
	children(b, func(id uint32, data []byte) error {
		if id != idCuePoint {
			return nil
		}
		t, pos := int64(-1), int64(-1)
		children(data, func(id uint32, d []byte) error {
			switch id {
			case idCueTime:
				if v, err := readUint(d); err == nil && v < math.MaxInt64/2 {
					t = int64(v)
				}
			case idCueTrackPositions:
				var track uint64
				p := int64(-1)
				children(d, func(id uint32, d []byte) error {
					switch id {
					case idCueTrack:
						track, _ = readUint(d)
					case idCueClusterPosition:
						if v, err := readUint(d); err == nil && v < math.MaxInt64/2 {
							p = int64(v)
						}
					}
					return nil
				})
				if p >= 0 && (track == wr.track || pos < 0) {
					pos = p
				}
			}
			return nil
		})
		if t >= 0 && pos >= 0 {
			wr.cues = append(wr.cues, cuePoint{t, pos})
		}
		return nil
	})
	sort.Slice(wr.cues, func(i, j int) bool { return wr.cues[i].time < wr.cues[j].time })
	wr.cuesLoaded = true
}

// Container returns the EBML DocType: "webm" or "matroska".
func (wr *OpusReader) Container() string { return wr.container }

// Head returns the track's OpusHead (from CodecPrivate).
func (wr *OpusReader) Head() ogg.OpusHead { return wr.head }

// Channels returns the channel count (1 or 2).
func (wr *OpusReader) Channels() int { return wr.head.Channels }

// PreSkip returns the number of 48 kHz samples to discard at the start.
func (wr *OpusReader) PreSkip() int { return wr.head.PreSkip }

// InputSampleRate returns the original input rate (OpusHead, else the track's
// SamplingFrequency; informational).
func (wr *OpusReader) InputSampleRate() int { return wr.inputRate }

// SeekPreRoll returns the track's SeekPreRoll in 48 kHz samples: how much
// audio a decoder should decode and discard before a seek target.
func (wr *OpusReader) SeekPreRoll() int { return int(wr.seekPreRoll * 48000 / 1e9) }

// Duration returns the playable length in 48 kHz samples, or -1 when unknown
// (live). On a seekable file with Cues it is where the last packet ends after
// its DiscardPadding (within a millisecond: block timestamps are rounded);
// otherwise it comes from the Segment Info (within a frame of the exact length).
func (wr *OpusReader) Duration() int64 {
	if wr.exactEnd >= 0 {
		return max(0, wr.exactEnd-int64(wr.head.PreSkip))
	}
	if wr.infoDur <= 0 {
		return -1
	}
	// Segment Duration runs on the block timeline, which includes the pre-skip.
	ns := wr.infoDur * float64(wr.scale)
	return max(0, int64(math.Round(ns*48000/1e9))-int64(wr.head.PreSkip))
}

// ticksToSamples converts a Matroska timestamp to 48 kHz samples.
func (wr *OpusReader) ticksToSamples(t int64) int64 {
	return int64(math.Round(float64(t) * float64(wr.scale) * 48000 / 1e9))
}

// ReadPacket returns the next Opus packet of the track. The slice is valid
// until the next call. At the end of the file, or after the last complete
// block of a truncated one, it returns io.EOF. It allocates nothing in
// steady state.
func (wr *OpusReader) ReadPacket() ([]byte, error) {
	if wr.ready {
		wr.ready = false
		f := wr.lace[wr.iLace-1]
		return wr.block[f[0]:f[1]], nil
	}
	for {
		if wr.iLace < wr.nLace {
			f := wr.lace[wr.iLace]
			wr.iLace++
			return wr.block[f[0]:f[1]], nil
		}
		if wr.eof {
			return nil, io.EOF
		}
		if err := wr.nextBlock(); err != nil {
			if err == io.EOF {
				wr.eof = true
			}
			return nil, err
		}
	}
}

// DiscardPadding returns how many 48 kHz samples at the end of the packet
// that ReadPacket last returned are padding, to be dropped after decoding
// (Matroska DiscardPadding, in a BlockGroup; it trims the end of the block,
// which is its last frame). It is 0 for every other packet; a negative
// DiscardPadding (padding at the start) is not honoured.
func (wr *OpusReader) DiscardPadding() int {
	if wr.padding == 0 || wr.ready || wr.nLace == 0 || wr.iLace != wr.nLace {
		return 0
	}
	f := wr.lace[wr.nLace-1]
	n, err := ogg.PacketSamples(wr.block[f[0]:f[1]])
	if err != nil {
		return 0
	}
	return min(wr.padding, n)
}

// nextBlock reads elements until a block of our track, and splits its frames.
func (wr *OpusReader) nextBlock() error {
	for {
		id, size, err := wr.br.readHeader()
		if err == errBadVint {
			if err := wr.resync(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		switch id {
		case idCluster:
			continue // descend: its children follow
		case idBlockGroup:
			if size == unknownSize || size > maxBlock+maxGroupExtra {
				continue // descend: its children follow (a DiscardPadding among them is skipped)
			}
			ok, err := wr.readGroup(size)
			if err == errBadBlock {
				continue // a damaged block: drop it
			}
			if err != nil {
				return err
			}
			if ok {
				wr.placeBlock()
				return nil
			}
		case idEBML, idSegment:
			return io.EOF // a following (chained) stream is not ours
		case idTimecode:
			if size > 8 || size < 0 {
				if err := wr.resync(); err != nil {
					return err
				}
				continue
			}
			var b [8]byte
			if err := wr.br.ReadFull(b[:size]); err != nil {
				return err
			}
			v, _ := readUint(b[:size])
			wr.clusterTime = int64(min(v, math.MaxInt64/4))
		case idSimpleBlock, idBlock:
			if size < 4 || size > maxBlock {
				if err := wr.resync(); err != nil {
					return err
				}
				continue
			}
			if cap(wr.block) < int(size) {
				wr.block = make([]byte, size, max(int(size), 2*cap(wr.block)))
			}
			wr.block = wr.block[:size]
			if err := wr.br.ReadFull(wr.block); err != nil {
				return err
			}
			ok, err := wr.splitBlock()
			if err != nil {
				continue // a damaged block: drop it
			}
			if ok {
				wr.placeBlock()
				return nil
			}
		default:
			if size == unknownSize || size > maxBlock && !bigElements[id] {
				// Damage (or a live stream's unknown-size element we cannot
				// skip): continue at the next Cluster.
				if err := wr.resync(); err != nil {
					return err
				}
				continue
			}
			if err := wr.br.Skip(size); err != nil {
				return err
			}
		}
	}
}

// bigElements are the top-level elements that may legitimately be large.
var bigElements = map[uint32]bool{
	idCues: true, 0x1254C367: true /* Tags */, 0x1941A469: true, /* Attachments */
	0x1043A770: true /* Chapters */, idVoid: true, idSeekHead: true, idInfo: true, idTracks: true,
}

// resync scans forward to the next Cluster ID after damage.
func (wr *OpusReader) resync() error {
	wr.br.Advance(min(1, len(wr.br.Buffered())))
	for {
		b := wr.br.Peek(4)
		if len(b) < 4 {
			return wr.br.EndErr()
		}
		if b[0] == 0x1F && b[1] == 0x43 && b[2] == 0xB6 && b[3] == 0x75 {
			wr.anchored = false
			return nil
		}
		wr.br.Advance(1)
	}
}

var errBadBlock = errors.New("webm: malformed block")

// readGroup reads a BlockGroup of size bytes whole, splits its Block and
// notes its DiscardPadding (which Matroska places after the Block). It
// reports whether the block belongs to our track.
func (wr *OpusReader) readGroup(size int64) (bool, error) {
	if cap(wr.group) < int(size) {
		wr.group = make([]byte, size, max(int(size), 2*cap(wr.group)))
	}
	g := wr.group[:size]
	if err := wr.br.ReadFull(g); err != nil {
		return false, err
	}
	var blk []byte
	var pad int64
	for len(g) > 0 {
		id, n, err := parseID(g)
		if err != nil {
			return false, errBadBlock
		}
		sz, m, err := parseSize(g[n:])
		if err != nil || sz == unknownSize || sz > int64(len(g)-n-m) {
			return false, errBadBlock
		}
		d := g[n+m : n+m+int(sz)]
		switch id {
		case idBlock:
			blk = d
		case idDiscardPadding:
			pad = readInt(d)
		}
		g = g[n+m+int(sz):]
	}
	if len(blk) < 4 || len(blk) > maxBlock {
		return false, errBadBlock
	}
	wr.block = append(wr.block[:0], blk...)
	ok, err := wr.splitBlock()
	if ok && pad > 0 {
		// Nanoseconds to 48 kHz samples, rounded; no packet is longer than 120 ms.
		wr.padding = int((min(pad, 1e9)*48000 + 5e8) / 1e9)
	}
	return ok, err
}

// splitBlock parses the block header and lacing (Matroska §10.2–10.3). It
// reports whether the block belongs to our track.
func (wr *OpusReader) splitBlock() (bool, error) {
	b := wr.block
	track, n, err := parseSize(b)
	if err != nil || track == unknownSize {
		return false, errBadBlock
	}
	if uint64(track) != wr.track {
		return false, nil
	}
	if len(b) < n+3 {
		return false, errBadBlock
	}
	rel := int64(int16(uint16(b[n])<<8 | uint16(b[n+1])))
	wr.stamp = wr.ticksToSamples(wr.clusterTime + rel)
	flags := b[n+2]
	p := n + 3
	wr.iLace, wr.nLace, wr.padding = 0, 0, 0

	lacing := flags >> 1 & 3
	if lacing == 0 {
		wr.lace[0] = [2]int{p, len(b)}
		wr.nLace = 1
		return true, nil
	}
	if p >= len(b) {
		return false, errBadBlock
	}
	count := int(b[p]) + 1
	p++
	switch lacing {
	case 1: // Xiph lacing: sizes as runs of 255s
		for i := 0; i < count-1; i++ {
			sz := 0
			for {
				if p >= len(b) {
					return false, errBadBlock
				}
				v := int(b[p])
				p++
				sz += v
				if v < 255 {
					break
				}
			}
			wr.lace[i][1] = sz
		}
	case 3: // EBML lacing: first size, then signed differences
		sz, m, err := parseSize(b[p:])
		if err != nil || sz == unknownSize {
			return false, errBadBlock
		}
		p += m
		if count > 1 {
			wr.lace[0][1] = int(sz)
		}
		for i := 1; i < count-1; i++ {
			d, m, err := parseSize(b[p:])
			if err != nil || d == unknownSize {
				return false, errBadBlock
			}
			p += m
			d -= int64(1)<<(7*m-1) - 1 // signed: subtract the bias
			sz += d
			if sz < 0 || sz > int64(len(b)) {
				return false, errBadBlock
			}
			wr.lace[i][1] = int(sz)
		}
	case 2: // fixed-size lacing
		if (len(b)-p)%count != 0 {
			return false, errBadBlock
		}
		for i := 0; i < count-1; i++ {
			wr.lace[i][1] = (len(b) - p) / count
		}
	}
	// Turn sizes into offsets; the last frame takes the rest.
	for i := 0; i < count-1; i++ {
		sz := wr.lace[i][1]
		if sz > len(b)-p {
			return false, errBadBlock
		}
		wr.lace[i] = [2]int{p, p + sz}
		p += sz
	}
	wr.lace[count-1] = [2]int{p, len(b)}
	wr.nLace = count
	return true, nil
}

// placeBlock sets the current block's start. Matroska timestamps are
// usually whole milliseconds, rounded; while the stream is continuous, blocks
// are placed by the packet durations instead, which is exact.
func (wr *OpusReader) placeBlock() {
	wr.blockTime = wr.stamp
	if wr.anchored && wr.stamp-wr.nextTime < 480 && wr.nextTime-wr.stamp < 480 {
		wr.blockTime = wr.nextTime
	}
	wr.nextTime, wr.anchored = wr.frameStart(wr.nLace), true
}

// frameStart returns the raw start (48 kHz samples, pre-skip included) of
// frame i of the current block.
func (wr *OpusReader) frameStart(i int) int64 {
	t := wr.blockTime
	for j := 0; j < i; j++ {
		f := wr.lace[j]
		if n, err := ogg.PacketSamples(wr.block[f[0]:f[1]]); err == nil {
			t += int64(n)
		}
	}
	return t
}

// loadCues reads the Cues element that the SeekHead points to, once.
func (wr *OpusReader) loadCues() {
	if wr.cuesLoaded || wr.cuesPos < 0 {
		return
	}
	wr.cuesLoaded = true
	if err := wr.br.SeekTo(wr.segStart + wr.cuesPos); err != nil {
		return
	}
	id, size, err := wr.br.readHeader()
	if err != nil || id != idCues || size == unknownSize || size > maxCuesElem {
		return
	}
	b := make([]byte, size)
	if wr.br.ReadFull(b) != nil {
		return
	}
	wr.parseCues(b)
}

// SeekSample positions the reader so that the next ReadPacket returns the
// packet containing sample s (48 kHz samples after pre-skip), using Cues
// when present, else by hopping over clusters. It returns that packet's first
// sample (negative when it begins inside the pre-skip). Past the end, the
// next ReadPacket returns io.EOF. It needs a seekable input.
func (wr *OpusReader) SeekSample(s int64) (int64, error) {
	if !wr.br.Seekable() {
		return 0, errNotSeekable
	}
	s = max(s, 0)
	target := s + int64(wr.head.PreSkip)
	wr.loadCues()
	pos := wr.firstCluster
	if len(wr.cues) > 0 {
		i := sort.Search(len(wr.cues), func(i int) bool { return wr.ticksToSamples(wr.cues[i].time) > target })
		if i > 0 {
			pos = wr.segStart + wr.cues[i-1].pos
		}
	} else {
		pos = wr.hopClusters(target)
	}
	if err := wr.br.SeekTo(pos); err != nil {
		return 0, err
	}
	wr.nLace, wr.iLace, wr.ready, wr.eof, wr.anchored = 0, 0, false, false, false
	var last int64
	for {
		_, err := wr.ReadPacket()
		if err == io.EOF {
			return max(last, wr.Duration()), nil
		}
		if err != nil {
			return 0, err
		}
		start := wr.frameStart(wr.iLace - 1)
		f := wr.lace[wr.iLace-1]
		n, _ := ogg.PacketSamples(wr.block[f[0]:f[1]])
		last = start + int64(n) - int64(wr.head.PreSkip)
		if start+int64(n) > target {
			wr.ready = true
			return start - int64(wr.head.PreSkip), nil
		}
	}
}

// hopClusters finds the last cluster starting at or before target by reading
// only cluster headers and timecodes (for files without Cues).
func (wr *OpusReader) hopClusters(target int64) int64 {
	best := wr.firstCluster
	pos := wr.firstCluster
	for {
		if wr.br.SeekTo(pos) != nil {
			return best
		}
		id, size, err := wr.br.readHeader()
		if err != nil || id != idCluster {
			return best
		}
		dataStart := wr.br.Offset()
		// The Timecode is the first child in practice; look at a few.
		tc := int64(-1)
		for range 4 {
			cid, csize, err := wr.br.readHeader()
			if err != nil || csize == unknownSize {
				break
			}
			if cid == idTimecode && csize <= 8 {
				var b [8]byte
				if wr.br.ReadFull(b[:csize]) == nil {
					v, _ := readUint(b[:csize])
					tc = int64(min(v, math.MaxInt64/4))
				}
				break
			}
			if wr.br.Skip(csize) != nil {
				break
			}
		}
		if tc < 0 || wr.ticksToSamples(tc) > target {
			return best
		}
		best = pos
		if size == unknownSize {
			return best // live-style clusters: scan packets from here
		}
		pos = dataStart + size
	}
}
