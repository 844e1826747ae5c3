package voice

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// frame is one message (or the final error) from a link's reader.
type frame struct {
	binary bool
	data   []byte
	err    error
}

// message is a voice gateway JSON message.
type message struct {
	Op  int             `json:"op"`
	D   json.RawMessage `json:"d"`
	Seq *int            `json:"seq"`
}

// link is one voice gateway WebSocket with its reader goroutine.
type link struct {
	ws        WSConn
	in        chan frame
	done      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
	heartbeat time.Duration
}

func newLink(ws WSConn) *link {
	l := &link{ws: ws, in: make(chan frame, 16), done: make(chan struct{})}
	l.wg.Add(1)
	go l.read()
	return l
}

func (l *link) read() {
	defer l.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		bin, data, err := l.ws.Read(ctx)
		select {
		case l.in <- frame{binary: bin, data: data, err: err}:
		case <-l.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (l *link) sendJSON(ctx context.Context, op int, d any) error {
	msg, err := json.Marshal(struct {
		Op int `json:"op"`
		D  any `json:"d"`
	}{op, d})
	if err != nil {
		return err
	}
	return l.ws.Write(ctx, false, msg)
}

// close aborts the socket and waits for the reader.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.ws.Abort()
	})
	l.wg.Wait()
}

// closeWith sends a close frame first (bounded by the WebSocket library's
// close handshake timeout), then closes.
func (l *link) closeWith(code int) {
	_ = l.ws.Close(code, "")
	l.close()
}
