// Package tcpcut is a TCP proxy for tests that cuts a client off from its
// server on demand, as a server (or the network to it) that went away does:
// Cut resets every live connection and refuses new ones; Restore lets new
// connections through again. Everything it forwards goes to one target
// address, and it listens on a free loopback port.
package tcpcut

import (
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds each connection to the target.
const dialTimeout = 5 * time.Second

// Proxy forwards the connections it accepts on Addr to a target address.
// Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	ctx    context.Context // cancelled by Close: stops a dial in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and two pipes per connection
	once   sync.Once

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{} // live connections, both sides
}

// Start listens on a free loopback port and forwards every connection
// accepted there to target (host:port). Close stops it.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, target: target, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the target's (127.0.0.1:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut makes the target unreachable: it resets every live connection (both
// the client's and the target's side see a TCP RST) and, until Restore,
// resets each new connection as soon as it is accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	clear(p.conns)
	p.mu.Unlock()
	// Every connection is set to reset before any is closed: closing one
	// side ends its pipe, which closes the other side, and that must be a
	// reset too.
	for _, c := range conns {
		setLinger0(c)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// Restore lets new connections through to the target again. Connections
// reset by Cut stay closed.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops listening, resets every live connection and waits for the
// proxy's goroutines to end. It may be called more than once.
func (p *Proxy) Close() {
	p.once.Do(func() {
		_ = p.ln.Close()
		p.cancel()
		p.Cut()
		p.wg.Wait()
	})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // Close
		}
		if p.isCut() {
			reset(c)
			continue
		}
		p.connect(c)
	}
}

func (p *Proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// connect dials the target for client c and starts forwarding both ways,
// unless the proxy was cut (or closed) meanwhile.
func (p *Proxy) connect(c net.Conn) {
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		reset(c) // the target is down: so is the proxy, to the client
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		reset(c)
		reset(up)
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.wg.Add(2)
	go p.pipe(c, up)
	go p.pipe(up, c)
}

// pipe copies src to dst until either ends, then closes both.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
	_ = dst.Close()
	_ = src.Close()
}

// reset closes c with a TCP RST rather than an orderly FIN.
func reset(c net.Conn) {
	setLinger0(c)
	_ = c.Close()
}

// setLinger0 makes closing c send a TCP RST.
func setLinger0(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
