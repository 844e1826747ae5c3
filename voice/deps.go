package voice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// WSConn is one voice gateway WebSocket.
type WSConn interface {
	// Read returns the next message. A close by the peer is returned as a
	// *CloseError carrying the close code.
	Read(ctx context.Context) (binary bool, data []byte, err error)
	// Write sends one text (JSON) or binary message; it must be safe to call
	// from several goroutines (the DAVE hook writes too).
	Write(ctx context.Context, binary bool, data []byte) error
	// Close sends a close frame with code and closes the connection.
	Close(code int, reason string) error
	// Abort closes the connection at once, without a close frame.
	Abort()
}

// WSDialer opens voice gateway WebSockets.
type WSDialer interface {
	Dial(ctx context.Context, url string) (WSConn, error)
}

// UDPDialer opens the media socket; *net.Dialer implements it.
type UDPDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Clock is the time source for heartbeats and waits.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a stoppable, resettable timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return sysTimer{time.NewTimer(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time        { return t.t.C }
func (t sysTimer) Stop() bool                 { return t.t.Stop() }
func (t sysTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// NewWSDialer returns the default dialer (github.com/coder/websocket) trusting
// roots (nil: the system roots).
func NewWSDialer(roots *x509.CertPool) WSDialer {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: false,
		DisableKeepAlives: true,
	}
	return &cwsDialer{client: &http.Client{Transport: tr}}
}

type cwsDialer struct{ client *http.Client }

func (d *cwsDialer) Dial(ctx context.Context, url string) (WSConn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: d.client})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return &cwsConn{c: c}, nil
}

type cwsConn struct{ c *websocket.Conn }

func (w *cwsConn) Read(ctx context.Context) (bool, []byte, error) {
	typ, data, err := w.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return false, nil, &CloseError{Code: int(ce.Code), Reason: ce.Reason}
		}
		return false, nil, err
	}
	return typ == websocket.MessageBinary, data, nil
}

func (w *cwsConn) Write(ctx context.Context, binary bool, data []byte) error {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return w.c.Write(ctx, typ, data)
}

func (w *cwsConn) Close(code int, reason string) error {
	return w.c.Close(websocket.StatusCode(code), reason)
}

func (w *cwsConn) Abort() { _ = w.c.CloseNow() }
