package audio

import (
	"bytes"
	"fmt"
)

// Format is a container recognised from its first bytes.
type Format int

// Formats the engine recognises. Detection never looks at file names.
const (
	FormatUnknown Format = iota
	FormatOgg
	FormatMatroska // WebM and Matroska share EBML
	FormatWAV
	FormatFLAC
	FormatMP3
	FormatID3 // an ID3v2 tag: MP3 in practice, FLAC rarely; the bytes after the tag decide
)

// sniffLen is how many leading bytes Detect looks at.
const sniffLen = 64

// Detect recognises a container from its first bytes (magic numbers and
// headers; RFC 3533 "OggS", EBML 1A 45 DF A3, RIFF/RF64 WAVE, "fLaC", ID3v2,
// MPEG audio frame sync). Formats it recognises but Quaver cannot play get an
// error that names them.
func Detect(head []byte) (Format, error) {
	switch {
	case len(head) == 0:
		return FormatUnknown, fmt.Errorf("audio: the input is empty")
	case bytes.HasPrefix(head, []byte("OggS")):
		return FormatOgg, nil
	case bytes.HasPrefix(head, []byte{0x1a, 0x45, 0xdf, 0xa3}):
		return FormatMatroska, nil
	case len(head) >= 12 && (bytes.HasPrefix(head, []byte("RIFF")) || bytes.HasPrefix(head, []byte("RF64"))) && bytes.Equal(head[8:12], []byte("WAVE")):
		return FormatWAV, nil
	case bytes.HasPrefix(head, []byte("fLaC")):
		return FormatFLAC, nil
	case bytes.HasPrefix(head, []byte("ID3")):
		return FormatID3, nil
	case len(head) >= 8 && bytes.Equal(head[4:8], []byte("ftyp")):
		return FormatUnknown, fmt.Errorf("unsupported codec: AAC (MP4/M4A container)")
	case bytes.HasPrefix(head, []byte("FORM")) && len(head) >= 12 && (bytes.Equal(head[8:12], []byte("AIFF")) || bytes.Equal(head[8:12], []byte("AIFC"))):
		return FormatUnknown, fmt.Errorf("unsupported codec: AIFF")
	case bytes.HasPrefix(head, []byte("#EXTM3U")):
		return FormatUnknown, fmt.Errorf("audio: the input is a playlist (M3U/HLS), not audio")
	case looksLikeMarkup(head):
		return FormatUnknown, fmt.Errorf("audio: the input is a web page (HTML/XML), not audio")
	}
	if f, err := detectFrameSync(head); f != FormatUnknown || err != nil {
		return f, err
	}
	n := min(len(head), 8)
	return FormatUnknown, fmt.Errorf("audio: unrecognized format (first bytes % x)", head[:n])
}

// detectFrameSync recognises an MPEG audio or ADTS frame header at the start.
func detectFrameSync(h []byte) (Format, error) {
	if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
		return FormatUnknown, nil
	}
	layer := (h[1] >> 1) & 3
	version := (h[1] >> 3) & 3
	if h[1]&0xf6 == 0xf0 { // 12-bit sync, layer 00: ADTS
		return FormatUnknown, fmt.Errorf("unsupported codec: AAC (ADTS)")
	}
	if version == 1 || layer == 0 {
		return FormatUnknown, nil // reserved values: not a frame header
	}
	bitrate := h[2] >> 4
	rate := (h[2] >> 2) & 3
	if bitrate == 15 || rate == 3 {
		return FormatUnknown, nil
	}
	switch layer {
	case 1:
		return FormatMP3, nil
	case 2:
		return FormatUnknown, fmt.Errorf("unsupported codec: MP2")
	default:
		return FormatUnknown, fmt.Errorf("unsupported codec: MP1")
	}
}

func looksLikeMarkup(h []byte) bool {
	t := bytes.TrimLeft(h, " \t\r\n\xef\xbb\xbf")
	lower := bytes.ToLower(t[:min(len(t), 16)])
	for _, p := range []string{"<!doctype", "<html", "<?xml", "<head", "<body", "<!--"} {
		if bytes.HasPrefix(lower, []byte(p)) {
			return true
		}
	}
	return false
}

// id3Size returns the total length of an ID3v2 tag starting at h (header,
// body and optional footer), or 0 when h does not start with a valid one.
func id3Size(h []byte) int64 {
	if len(h) < 10 || !bytes.HasPrefix(h, []byte("ID3")) {
		return 0
	}
	for _, b := range h[6:10] {
		if b&0x80 != 0 {
			return 0
		}
	}
	size := int64(h[6])<<21 | int64(h[7])<<14 | int64(h[8])<<7 | int64(h[9])
	size += 10
	if h[5]&0x10 != 0 {
		size += 10 // footer
	}
	return size
}
