//go:build linux

package voicetest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/quaverbot/quaver/voice/transport"
)

// udpBatch is how many datagrams one recvmmsg(2) call may return. A loaded
// server (thousands of connections on loopback) drains bursts of a pacer
// sub-slot in a few calls instead of one system call and one wake-up per
// packet, which profiles showed as the local server's main cost.
const udpBatch = 64

// rxOOB holds the control message of one datagram: its kernel receive
// timestamp (SCM_TIMESTAMPNS), with room to spare.
const rxOOB = 64

// rxBatch is one reader's receive buffers, reused for every call.
type rxBatch struct {
	hdrs  [udpBatch]unix.Mmsghdr
	iovs  [udpBatch]unix.Iovec
	names [udpBatch]unix.RawSockaddrAny
	oob   [udpBatch][rxOOB]byte
	bufs  [udpBatch][udpMaxPacket]byte
}

// init points each message header at its buffer, address and control
// space, once; the kernel never changes those pointers.
func (b *rxBatch) init() {
	for i := range b.hdrs {
		h := &b.hdrs[i].Hdr
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(udpMaxPacket)
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Control = &b.oob[i][0]
	}
}

// reset restores the lengths the kernel overwrote in the previous call.
func (b *rxBatch) reset() {
	for i := range b.hdrs {
		h := &b.hdrs[i].Hdr
		h.Namelen = unix.SizeofSockaddrAny
		h.SetControllen(rxOOB)
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
}

// enableRxTimestamps asks the kernel to stamp each datagram with its arrival
// time, so a recorder's arrival times and jitter do not include how long the
// packet waited for a reader. Without it arrival is the read time.
func enableRxTimestamps(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
}

// udpLoop reads media and IP discovery packets in batches with recvmmsg(2)
// until the socket closes. Waiting goes through the runtime's poller, so the
// goroutine parks only when the socket is empty.
func (s *Server) udpLoop() {
	rc, err := s.udp.SyscallConn()
	if err != nil {
		return
	}
	b := new(rxBatch)
	b.init()
	var out [transport.DiscoveryLen]byte
	var n int
	var errno unix.Errno
	// read is made once: a closure passed to RawConn.Read escapes, and
	// making it per call would allocate per batch.
	read := func(fd uintptr) bool {
		b.reset()
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])),
			udpBatch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		n, errno = int(r), e
		return true
	}
	for {
		n, errno = 0, 0
		if err := rc.Read(read); err != nil {
			return // closed
		}
		if errno != 0 {
			select {
			case <-s.closed:
				return
			default:
				continue // EINTR or a transient error: read again
			}
		}
		now := time.Now()
		for i := range n {
			src, ok := sockaddrAddrPort(&b.names[i])
			if !ok {
				continue
			}
			size := min(int(b.hdrs[i].Len), udpMaxPacket)
			at := rxTimestamp(b.oob[i][:b.hdrs[i].Hdr.Controllen], now)
			s.handleUDP(b.bufs[i][:size], src, at, &out)
		}
	}
}

// sockaddrAddrPort converts a raw IPv4 or IPv6 source address.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) (netip.AddrPort, bool) {
	switch sa.Addr.Family {
	case unix.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&in.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), port), true
	case unix.AF_INET6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&in.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(in.Addr), port), true
	}
	return netip.AddrPort{}, false
}

// rxTimestamp returns the SCM_TIMESTAMPNS time in oob, or fallback when the
// control data holds none. It walks the control messages without allocating.
func rxTimestamp(oob []byte, fallback time.Time) time.Time {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS &&
			l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec))
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next <= 0 || next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return fallback
}
