package voice

import "github.com/quaverbot/quaver/voice/rtp"

// Tick implements pacer.Stream: called once per 20 ms slot on the pacer's
// goroutine, it sends at most one RTP packet and never blocks.
//
// RTP: the sequence number grows by one per packet; the timestamp is the
// slot number times 960, so it advances across pauses, gaps and reconnects
// and a listener's jitter buffer never grows. After the source runs dry, five
// silence frames are sent and Speaking is cleared; the next frame announces
// Speaking (op 5) again and is sent only once that went out.
func (c *Conn) Tick(slot uint64) bool {
	m := c.media.Load()
	if m == nil {
		return false // not connected: the source is not read, so no frame is lost
	}
	if c.gate != nil && !c.gate.MediaReady() && c.clk.Now().Sub(m.since) < MaxE2EEWait {
		return false // E2EE is being set up: hold the audio (see MediaGate)
	}
	if len(c.pending) == 0 {
		var frame []byte
		ok := false
		if b := c.source.Load(); b != nil {
			frame, ok = b.s.NextFrame()
		}
		if !ok || len(frame) == 0 || len(frame) > maxFrame {
			if c.silenceLeft > 0 && c.speakSent.Load() == 1 {
				c.silenceLeft--
				sent := c.send(m, slot, rtp.SilenceFrame[:], false)
				if c.silenceLeft == 0 {
					c.speakWant.Store(0)
					c.ring()
				}
				return sent
			}
			return false
		}
		if c.announce() {
			// The common case: send the source's frame as it is, without
			// copying it into this connection's (cold) buffer first.
			sent := c.send(m, slot, frame, true)
			c.silenceLeft = silenceFrames
			return sent
		}
		c.pending = append(c.pending[:0], frame...)
		return false
	}
	if !c.announce() {
		return false
	}
	sent := c.send(m, slot, c.pending, true)
	c.pending = c.pending[:0]
	c.silenceLeft = silenceFrames
	return sent
}

// announce asks for Speaking (op 5) if it is not on and reports whether it
// has reached the server: audio must not precede it. A frame that cannot go
// yet is kept in c.pending and sent in a later slot.
func (c *Conn) announce() bool {
	if c.speakWant.Load() != 1 {
		c.speakWant.Store(1)
		c.ring()
	}
	return c.speakSent.Load() == 1
}

func (c *Conn) ring() {
	select {
	case c.speakReq <- struct{}{}:
	default:
	}
}

// send builds, encrypts and writes one packet; it allocates nothing.
func (c *Conn) send(m *media, slot uint64, frame []byte, e2ee bool) bool {
	c.seq++
	c.hdr = rtp.Header{
		PayloadType:    rtp.PayloadType,
		SequenceNumber: c.seq,
		Timestamp:      c.tsBase + uint32(slot)*rtp.FrameSamples,
		SSRC:           m.ssrc,
	}
	n, err := c.hdr.MarshalTo(c.hdrBuf[:])
	if err != nil {
		return false
	}
	payload := frame
	if e2ee && c.cfg.Encryptor != nil {
		if payload, err = c.cfg.Encryptor.EncryptFrame(c.e2eeBuf[:0], frame); err != nil {
			return false
		}
	}
	pkt := m.cipher.Seal(c.pktBuf[:0], c.hdrBuf[:n], payload)
	if _, err := m.udp.Write(pkt); err != nil {
		return false
	}
	c.sent.Add(1)
	return true
}
