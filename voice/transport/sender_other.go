//go:build !unix

package transport

import (
	"errors"
	"net"
)

var errNoDetach = errors.New("transport: detaching a UDP socket is not supported on this system")

// Detach is not available here; callers keep writing through c.
func Detach(c *net.UDPConn) (*Sender, error) { return nil, errNoDetach }

func writeFD(int, []byte) (int, error) { return 0, errNoDetach }

func closeFD(int) error { return nil }
