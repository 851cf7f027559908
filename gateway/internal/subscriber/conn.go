package subscriber

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// bufferedConn reads through a buffer and gathers paho's small writes (a PUBACK is four
// bytes) for a flusher goroutine, which sends everything gathered within gatherWindow of the
// first in one system call. A write
// error is returned by the next Write; Close sends what is gathered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu     sync.Mutex // guards buf, err
	buf    []byte
	err    error
	wmu    sync.Mutex    // held while writing to Conn
	kick   chan struct{} // a write is waiting (capacity 1)
	closed chan struct{}
	once   sync.Once
}

const (
	// writeGatherMax is how much the flusher may fall behind before Write sends itself.
	writeGatherMax = 64 << 10
	// gatherWindow is how long the flusher waits after the first write before sending: the
	// broker gets the acknowledgements of a committed batch in one packet, not one by one.
	gatherWindow = time.Millisecond
)

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), kick: make(chan struct{}, 1), closed: make(chan struct{})}
	go b.flusher()
	return b
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.buf = append(c.buf, p...)
	full := len(c.buf) >= writeGatherMax
	c.mu.Unlock()
	if full {
		if err := c.flush(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flush sends what is gathered.
func (c *bufferedConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	out := c.buf
	c.buf = nil
	err := c.err
	c.mu.Unlock()
	if err != nil || len(out) == 0 {
		return err
	}
	_, err = c.Conn.Write(out)
	c.mu.Lock()
	if err != nil {
		c.err = err
	} else if c.buf == nil {
		c.buf = out[:0] // reuse the buffer just sent
	}
	c.mu.Unlock()
	return err
}

func (c *bufferedConn) flusher() {
	for {
		select {
		case <-c.closed:
			return
		case <-c.kick:
			time.Sleep(gatherWindow) // let the acknowledgements of a batch gather
			if c.flush() != nil {
				c.Conn.Close() // paho's reader sees the error and reconnects
				return
			}
		}
	}
}

func (c *bufferedConn) Close() error {
	c.flush()
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
