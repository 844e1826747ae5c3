package voicetest

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
)

// tsCmsg builds an SCM_TIMESTAMPNS control message for sec.nsec.
func tsCmsg(sec, nsec int64) []byte {
	b := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))))
	ts := (*unix.Timespec)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	ts.Sec, ts.Nsec = sec, nsec
	return b
}

func otherCmsg() []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], 64)
	return b
}

func TestRxTimestamp(t *testing.T) {
	fallback := time.Unix(1, 0)
	want := time.Unix(1_790_000_000, 123_456_789)
	ts := tsCmsg(want.Unix(), int64(want.Nanosecond()))
	tests := []struct {
		name string
		oob  []byte
		want time.Time
	}{
		{"timestamp", ts, want},
		{"after another message", append(otherCmsg(), ts...), want},
		{"none", otherCmsg(), fallback},
		{"empty", nil, fallback},
		{"truncated", ts[:len(ts)-9], fallback},
		{"header only", ts[:unix.SizeofCmsghdr], fallback},
	}
	for _, tc := range tests {
		if got := rxTimestamp(tc.oob, fallback); !got.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzRxTimestamp(f *testing.F) {
	f.Add(tsCmsg(5, 6))
	f.Add(append(otherCmsg(), tsCmsg(7, 8)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 35, 0, 0, 0})
	f.Fuzz(func(t *testing.T, oob []byte) {
		_ = rxTimestamp(oob, time.Time{}) // must not panic or loop
	})
}

// A burst over real UDP is read in batches and recorded whole and in order,
// each packet stamped with the kernel's arrival time (a wall-clock reading
// without Go's monotonic part) between the send and its recording.
func TestBurstRecordedWithKernelArrivalTimes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newServer(t, Config{UDPReaders: 2})
	ss, seal := sessionWithKey(t, s, transport.AES256GCM)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.UDPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 150 // within the smallest default receive buffer
	before := time.Now()
	h := rtp.Header{PayloadType: rtp.PayloadType, SSRC: ss.SSRC}
	hb := make([]byte, 12)
	var pkt []byte
	for i := range n {
		h.SequenceNumber, h.Timestamp = uint16(i), uint32(i)*rtp.FrameSamples
		_, _ = h.MarshalTo(hb)
		pkt = seal.Seal(pkt[:0], hb, []byte{0xfc, byte(i), 1, 2, 3})
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Recorder().WaitPackets(ctx, n); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	st := ss.Recorder().Stats()
	if st.Received != n || st.Lost != 0 || st.DecryptFailures != 0 {
		t.Fatalf("stats %+v, want %d received, none lost", st, n)
	}
	seen := map[uint16]bool{}
	for _, p := range ss.Recorder().Packets() {
		seen[p.Seq] = true
		if strings.Contains(p.Arrival.String(), "m=") {
			t.Fatalf("packet %d arrival %v was read from the Go clock, not the kernel's stamp", p.Seq, p.Arrival)
		}
		if p.Arrival.Before(before.Round(0).Add(-time.Millisecond)) || p.Arrival.After(after.Round(0).Add(time.Millisecond)) {
			t.Fatalf("packet %d arrival %v outside [%v, %v]", p.Seq, p.Arrival, before, after)
		}
		if len(p.Opus) != 5 || p.Opus[1] != byte(p.Seq) {
			t.Fatalf("packet %d payload %x", p.Seq, p.Opus)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct packets recorded, want %d", len(seen), n)
	}
}
