package flac

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// signal returns n samples of a tone plus noise in bits-bit range, with the
// low wasted bits zero.
func signal(rng *rand.Rand, n, bits int, freq float64, wasted uint) []int64 {
	amp := float64(int64(1)<<(bits-1)) * 0.6
	x := make([]int64, n)
	for i := range x {
		v := amp*math.Sin(2*math.Pi*freq*float64(i)) + amp*0.05*(rng.Float64()-0.5)
		x[i] = int64(v) >> wasted << wasted
	}
	return x
}

func rice(porder uint, k uint, rice2 bool) residualPlan {
	p := residualPlan{rice2: rice2, porder: porder}
	for range 1 << porder {
		p.params = append(p.params, k)
		p.escapeBits = append(p.escapeBits, -1)
	}
	return p
}

// handmadeStreams are streams from the test writer, each exercising codings
// that ffmpeg's and libFLAC's encoders do not produce.
func handmadeStreams() map[string]streamPlan {
	rng := rand.New(rand.NewPCG(7, 8))
	streams := map[string]streamPlan{}

	// Escape codes (RICE and RICE2), partitions, every stereo mode, fixed
	// block size with a short last block (16-bit block size code).
	{
		n := 1024*6 + 300
		l, r := signal(rng, n, 16, 0.01, 0), signal(rng, n, 16, 0.013, 0)
		for i := 3000; i < 3500; i++ {
			r[i] = 0 // all-zero residual region for a 0-bit escape
		}
		blocks := []int{1024, 1024, 1024, 1024, 1024, 1024, 300}
		streams["escapes_stereo16"] = streamPlan{rate: 44100, bits: 16, samples: [][]int64{l, r}, blocks: blocks,
			frame: func(i int) framePlan {
				res := residualPlan{porder: 2, params: []uint{9, 9, 9, 9}, escapeBits: []int{autoEscape, -1, autoEscape, -1}}
				res2 := residualPlan{rice2: true, porder: 3, params: []uint{8, 10, 12, 8, 9, 16, 9, 9}, escapeBits: []int{-1, autoEscape, -1, -1, -1, -1, autoEscape, -1}}
				bsCode := 10 // 1024
				if i == 6 {
					bsCode = 7 // 300 from a 16-bit field
					res = rice(1, 10, false)
					res2 = rice(1, 11, true)
				}
				return framePlan{bsCode: bsCode, srCode: 9, assign: []int{1, 8, 9, 10, 1, 10, 8}[i], bdCode: 4,
					subframes: []subframePlan{
						{kind: "fixed", order: 2, res: res},
						{kind: "fixed", order: 1, res: res2},
					}}
			}}
	}

	// Variable block sizes with sample numbers, 12-bit mono at 11025 Hz
	// coded as a 16-bit Hz field, LPC with wasted bits, VERBATIM, CONSTANT.
	{
		blocks := []int{100, 37, 1000, 4000, 17, 300, 2000, 16, 555}
		total := 0
		for _, b := range blocks {
			total += b
		}
		m := signal(rng, total, 12, 0.02, 2)
		for i := 5154; i < 5154+300; i++ {
			m[i] = -4 // a CONSTANT block
		}
		streams["variable_12bit_lpc"] = streamPlan{rate: 11025, bits: 12, samples: [][]int64{m}, blocks: blocks, variable: true,
			frame: func(i int) framePlan {
				sf := subframePlan{kind: "lpc", order: 3, precision: 12, shift: 10, coef: []int64{1800, -900, 100},
					wasted: 2, res: rice(0, 4, false)}
				switch i {
				case 1, 4:
					sf = subframePlan{kind: "verbatim"}
				case 5:
					sf = subframePlan{kind: "constant", wasted: 2}
				case 6:
					sf = subframePlan{kind: "lpc", order: 32, precision: 15, shift: 13, coef: make([]int64, 32), res: rice(4, 9, true)}
					sf.coef[0], sf.coef[1], sf.coef[31] = 12000, -4000, 16383
				}
				return framePlan{bsCode: 0, srCode: 13, srExtra: 11025, assign: 0, bdCode: 2, subframes: []subframePlan{sf}}
			}}
	}

	// 20-bit mid/side with wasted bits on the side channel, the sample rate
	// in tens of Hz (22050) and fixed orders 0 to 4.
	{
		n := 576 * 5
		l := signal(rng, n, 20, 0.005, 3)
		r := make([]int64, n)
		for i := range r {
			r[i] = l[i] - 8*int64(rng.IntN(64)) // side = l - r, a multiple of 8
		}
		streams["midside_20bit"] = streamPlan{rate: 22050, bits: 20, samples: [][]int64{l, r}, blocks: []int{576, 576, 576, 576, 576},
			frame: func(i int) framePlan {
				return framePlan{bsCode: 2, srCode: 14, srExtra: 2205, assign: 10, bdCode: 5,
					subframes: []subframePlan{
						{kind: "fixed", order: i, res: rice(1, 14, true)},
						{kind: "fixed", order: 4 - i, wasted: 3, res: rice(0, 12, true)},
					}}
			}}
	}

	// 8-bit and 4-bit mono with the rate (and for 4-bit the depth) taken from
	// STREAMINFO,
	// 192-sample blocks and an 8-bit kHz rate field.
	{
		x := signal(rng, 192*4, 8, 0.03, 0)
		streams["mono_8bit"] = streamPlan{rate: 8000, bits: 8, samples: [][]int64{x}, blocks: []int{192, 192, 192, 192},
			frame: func(i int) framePlan {
				sr := []int{0, 4, 12, 0}[i]
				return framePlan{bsCode: 1, srCode: sr, srExtra: 8, assign: 0, bdCode: 1,
					subframes: []subframePlan{{kind: "fixed", order: 1, res: rice(2, 3, false)}}}
			}}
		y := signal(rng, 256*2, 4, 0.05, 0)
		streams["mono_4bit"] = streamPlan{rate: 16000, bits: 4, samples: [][]int64{y}, blocks: []int{256, 256},
			frame: func(i int) framePlan {
				return framePlan{bsCode: 8, srCode: 5, assign: 0, bdCode: 0,
					subframes: []subframePlan{{kind: []string{"verbatim", "fixed"}[i], order: 2, res: rice(0, 1, false)}}}
			}}
	}
	return streams
}

// TestHandmadeStreams decodes the test writer's streams and compares the
// result with the samples they were made from, and with ffmpeg's decode.
func TestHandmadeStreams(t *testing.T) {
	for name, sp := range handmadeStreams() {
		t.Run(name, func(t *testing.T) {
			data := sp.build()
			var want []int32
			for i := range sp.samples[0] {
				for ch := range sp.samples {
					want = append(want, int32(sp.samples[ch][i]))
				}
			}
			d, got := decodeAll(t, data)
			if d.Skipped() != 0 {
				t.Fatalf("%d frames rejected as corrupt", d.Skipped())
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("decoded %d samples, want %d; first difference at %d", len(got), len(want), i)
			}
			if sum := pcmMD5(got, sp.bits); sum != d.MD5() {
				t.Fatal("MD5 mismatch")
			}
			if sp.bits < 8 {
				return // ffmpeg does not decode bit depths below 8
			}
			path := filepath.Join(t.TempDir(), "h.flac")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(reference(t, path, sp.bits), want); i >= 0 {
				ref := reference(t, path, sp.bits)
				t.Fatalf("ffmpeg disagrees with the test writer at sample %d of %d/%d (%v vs %v): the writer is wrong", i, len(ref), len(want), ref[i:min(i+5, len(ref))], want[i:i+5])
			}
			// Seeking works on these too.
			if len(want) > 2000 {
				if _, err := d.SeekSample(1234); err != nil {
					t.Fatal(err)
				}
				buf := make([]int32, 10*d.Channels())
				if _, err := readFull(d, buf); err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(buf, want[1234*d.Channels():][:len(buf)]); i >= 0 {
					t.Fatalf("after seek: sample %d differs", i)
				}
			}
		})
	}
}

// TestCRCTables checks the table-driven CRCs against the bitwise definition.
func TestCRCTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 100 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if got, want := crc16Update(0, p), crc16Bitwise(p); got != want {
			t.Fatalf("crc16 of %d bytes = %04x, want %04x", n, got, want)
		}
		var c8 uint8
		for _, b := range p {
			c8 = crc8Table[c8^b]
		}
		if want := crc8Bitwise(p); c8 != want {
			t.Fatalf("crc8 of %d bytes = %02x, want %02x", n, c8, want)
		}
	}
}

// TestOutOfRangeClamped decodes a CRC-valid but invalid stream whose
// prediction leaves the 8-bit range: output is clamped to full scale.
func TestOutOfRangeClamped(t *testing.T) {
	x := make([]int64, 192)
	for i := range x {
		x[i] = int64(i) * 3 // up to 573, far above 127
	}
	sp := streamPlan{rate: 8000, bits: 8, samples: [][]int64{x}, blocks: []int{192},
		frame: func(int) framePlan {
			return framePlan{bsCode: 1, srCode: 4, bdCode: 1,
				subframes: []subframePlan{{kind: "fixed", order: 1, res: rice(0, 2, false)}}}
		}}
	got := decodeFloat(t, sp.build(), 64)
	if len(got) != len(x) {
		t.Fatalf("%d samples, want %d", len(got), len(x))
	}
	for i, v := range got {
		want := float32(min(x[i], 127)) / 128
		if v != want {
			t.Fatalf("sample %d = %v, want %v", i, v, want)
		}
	}
}
