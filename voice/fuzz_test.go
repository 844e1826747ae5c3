package voice

import "testing"

// FuzzTrack feeds arbitrary gateway frames (JSON and binary) to the client's
// message decoding: it must never panic, and seq_ack must follow the frames.
func FuzzTrack(f *testing.F) {
	f.Add(false, []byte(`{"op":6,"d":{"t":1},"seq":7}`))
	f.Add(false, []byte(`{"op":2,"d":null}`))
	f.Add(true, []byte{0x00, 0x09, 25, 1, 2, 3})
	f.Add(true, []byte{0x01})
	c := New(DefaultConfig())
	f.Fuzz(func(t *testing.T, bin bool, data []byte) {
		c.seqAck = -1
		m, err := c.track(frame{binary: bin, data: data})
		if bin {
			if m != nil || err != nil {
				t.Fatalf("binary frame decoded as JSON: %v %v", m, err)
			}
			if len(data) >= 3 && c.seqAck != int(data[0])<<8|int(data[1]) {
				t.Fatalf("seq_ack %d from binary header % x", c.seqAck, data[:2])
			}
		}
	})
}
