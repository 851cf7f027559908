package subscriber

import (
	"bufio"
	"net"
	"sync"
)

// bufferedConn reads through a buffer and gathers paho's small writes (a PUBACK is four
// bytes) for a flusher goroutine, which sends everything gathered in one system call as soon
// as it is free: alone, a write goes out at once; under load, many go out per call. A write
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

// writeGatherMax is how much the flusher may fall behind before Write sends itself.
const writeGatherMax = 64 << 10

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
