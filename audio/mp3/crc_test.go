package mp3

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The MPEG audio CRC is the catalogued CRC-16/CMS (poly 0x8005, init
// 0xFFFF, not reflected, no final xor); its check value for "123456789" is
// 0xAEE7.
func TestCRC16CheckValue(t *testing.T) {
	if got := crc16([]byte{0, 0, '1', '2'}, []byte("3456789")); got != 0xAEE7 {
		t.Fatalf("crc16(123456789) = %#04x, want 0xaee7", got)
	}
}

// addCRC rewrites a reservoir-free stream with error protection: each frame
// gets its CRC word after the header and gives up two bytes of padding at
// its end.
func addCRC(t *testing.T, data []byte) []byte {
	t.Helper()
	var out []byte
	for p := 0; p+4 <= len(data); {
		h, ok := parseHeader(data[p:])
		if !ok || h.crc {
			t.Fatalf("offset %d: not an unprotected frame header", p)
		}
		size := h.frameSize()
		if p+size > len(data) {
			break
		}
		f := data[p : p+size]
		sis := h.sideInfoSize()
		var si sideInfo
		buf := make([]byte, sis+8)
		copy(buf, f[4:4+sis])
		if err := si.parse(&bitReader{buf: buf, end: sis * 8}, h); err != nil {
			t.Fatal(err)
		}
		used := 0
		for gr := 0; gr < si.granules; gr++ {
			for ch := 0; ch < h.channels(); ch++ {
				used += si.gr[gr][ch].part23Len
			}
		}
		if si.mainDataBegin != 0 || used > (size-4-sis-2)*8 {
			t.Fatalf("frame at %d has no room for a CRC (begin %d, %d bits used)", p, si.mainDataBegin, used)
		}
		hdr := []byte{f[0], f[1] &^ 1, f[2], f[3]}
		crc := crc16(hdr, f[4:4+sis])
		out = append(out, hdr...)
		out = append(out, byte(crc>>8), byte(crc))
		out = append(out, f[4:size-2]...)
		p += size
	}
	return out
}

// TestCRCProtectedFrames decodes error-protected frames like ffmpeg does, and
// mutes (rather than decodes garbage from) a frame whose CRC fails.
func TestCRCProtectedFrames(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "crc", exprMusic, 44100, 2, 1.5)
	plain := encode(t, src, filepath.Join(dir, "plain.mp3"), "-b:a", "320k", "-reservoir", "0", "-write_xing", "0", "-id3v2_version", "0")
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	prot := addCRC(t, data)
	p := filepath.Join(dir, "crc.mp3")
	if err := os.WriteFile(p, prot, 0o644); err != nil {
		t.Fatal(err)
	}
	d := checkAgainstFFmpeg(t, p, 44100, 2, 1152)
	if !d.first.crc {
		t.Fatal("rewritten stream is not error protected")
	}
	// Break the CRC of one frame in the middle: that frame goes silent, the
	// length stays, the rest is unharmed.
	bad := bytes.Clone(prot)
	frame, off := 0, 0
	for ; frame < 20; frame++ {
		h, _ := parseHeader(prot[off:])
		off += h.frameSize()
	}
	bad[off+4] ^= 0xFF // CRC word of frame 20
	bd, err := NewDecoder(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	got := readRest(t, bd)
	_, good := decodeAll(t, p)
	if len(got) != len(good) {
		t.Fatalf("%d samples with a bad CRC, %d without", len(got), len(good))
	}
	// The muted frame's second granule only carries the filterbank tails of
	// what came before: far less energy than the intact decode.
	var e, eGood float64
	for i := (frame*1152 + 576) * 2; i < (frame*1152+1152)*2; i++ {
		e += float64(got[i]) * float64(got[i])
		eGood += float64(good[i]) * float64(good[i])
	}
	if e > eGood/4 {
		t.Errorf("frame with a bad CRC was not muted (energy %g, intact %g)", e, eGood)
	}
	if ncc(got[(frame+3)*1152*2:], good[(frame+3)*1152*2:], 2, 0) < 0.999 {
		t.Errorf("frames after the bad CRC differ")
	}
}
