package subscriber

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// bufferedConn reads through a buffer and gathers paho's small writes (a PUBACK is four
// bytes) for a flusher goroutine, which sends everything gathered within gatherWindow of the
// first in one system call. A write error is returned by the next Write; Close sends what is
// gathered first.
//
// It also acknowledges messages itself (Acknowledge): a PUBACK queued straight onto the
// connection that delivered the message, between paho's packets, where paho would pass each
// one through three goroutines on its way out, and after a reconnect would send it on the new
// connection, where the same packet id may be another message.
type bufferedConn struct {
	net.Conn
	r        *bufio.Reader
	lastFill time.Time // when the read buffer was last filled from the connection (paho's reader only)

	mu       sync.Mutex // guards buf, err, unframed
	buf      []byte
	err      error         // the first write error, or net.ErrClosed after Close
	unframed bool          // paho wrote part of a packet: acknowledging through it would corrupt the stream
	wmu      sync.Mutex    // held while writing to Conn
	kick     chan struct{} // a write is waiting (capacity 1)
	closed   chan struct{}
	once     sync.Once
}

const (
	// writeGatherMax is how much the flusher may fall behind before Write sends itself.
	writeGatherMax = 64 << 10
	// gatherWindow is how long the flusher waits after the first write before sending: the
	// broker gets the acknowledgements of a committed batch in one packet, not one by one.
	gatherWindow = time.Millisecond
	// readGatherWindow is how long a reader under a steady stream lets messages gather.
	readGatherWindow = time.Millisecond
)

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), kick: make(chan struct{}, 1), closed: make(chan struct{})}
	go b.flusher()
	return b
}

// Read reads through the buffer. Under a steady stream (the buffer emptied within
// readGatherWindow of its last fill) it waits readGatherWindow before reading the connection
// again, so one system call takes many messages instead of one each; a message after a
// pause is read at once.
func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() == 0 {
		now := time.Now()
		if now.Sub(c.lastFill) < readGatherWindow {
			time.Sleep(readGatherWindow)
			now = time.Now()
		}
		c.lastFill = now
	}
	return c.r.Read(p)
}

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if !c.unframed && !wholePackets(p) {
		c.unframed = true
	}
	c.buf = append(c.buf, p...)
	full := len(c.buf) >= writeGatherMax
	c.mu.Unlock()
	if err := c.queued(full); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Acknowledge sends a PUBACK for packet id on this connection with the next gathered write.
// When the connection is closed or broken it sends nothing: the broker delivers the message
// again to the session. When paho's writes are not whole packets it calls viaPaho instead.
func (c *bufferedConn) Acknowledge(id uint16, viaPaho func()) {
	c.mu.Lock()
	switch {
	case c.err != nil:
		c.mu.Unlock()
		return
	case c.unframed:
		c.mu.Unlock()
		viaPaho()
		return
	}
	c.buf = append(c.buf, 0x40, 0x02, byte(id>>8), byte(id))
	full := len(c.buf) >= writeGatherMax
	c.mu.Unlock()
	c.queued(full) // an error reaches paho with its next write, or its reader
}

// queued sends what is gathered now when full, or has the flusher send it soon.
func (c *bufferedConn) queued(full bool) error {
	if full {
		return c.flush()
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// wholePackets reports whether p is whole MQTT control packets: a fixed header byte, the
// remaining length (1 to 4 bytes, 7 bits each) and that many bytes.
func wholePackets(p []byte) bool {
	for len(p) > 0 {
		n, rem, shift := 1, 0, 0
		for {
			if n >= len(p) || n > 4 {
				return false
			}
			b := p[n]
			n++
			rem |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				break
			}
		}
		if n+rem > len(p) {
			return false
		}
		p = p[n+rem:]
	}
	return true
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
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
