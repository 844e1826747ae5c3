//go:build unix

package transport

import (
	"net"

	"golang.org/x/sys/unix"
)

// Detach moves a connected UDP socket out of the runtime's poller into a
// Sender and closes c. Its receive buffer is shrunk to the kernel's minimum:
// nothing reads the socket any more, so what the voice server sends (other
// speakers' audio, RTCP) is dropped instead of piling up to the default
// buffer size on each of thousands of sockets. Any error leaves c open.
func Detach(c *net.UDPConn) (*Sender, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(p uintptr) {
		fd, dupErr = unix.FcntlInt(p, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	// The duplicate shares the original's non-blocking flag, so a full
	// send buffer returns EAGAIN instead of blocking the pacer.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
	// Closing c removes the socket from the poller; the duplicate keeps it.
	_ = c.Close()
	return &Sender{fd: fd}, nil
}

// writeFD sends b with send(2) (sendto without an address) rather than
// write(2), which skips the file-position locking and VFS layers a socket
// does not need; MSG_DONTWAIT makes sure it never blocks.
func writeFD(fd int, b []byte) (int, error) {
	for {
		err := unix.Sendto(fd, b, unix.MSG_DONTWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
}

func closeFD(fd int) error { return unix.Close(fd) }
