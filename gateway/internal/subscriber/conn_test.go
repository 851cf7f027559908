package subscriber

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// pipeToPeer returns a buffered connection to a peer, and what the peer read in all once
// the connection is closed.
func pipeToPeer() (*bufferedConn, <-chan []byte) {
	client, server := net.Pipe()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	return newBufferedConn(client), got
}

// TestBufferedConnKeepsOrder: writes from one writer arrive complete and in order, however the
// flusher groups them, and Close sends what is still gathered.
func TestBufferedConnKeepsOrder(t *testing.T) {
	for _, n := range []int{1, 10, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c, got := pipeToPeer()
			var want bytes.Buffer
			for i := 0; i < n; i++ {
				p := []byte{0x40, 0x02, byte(i >> 8), byte(i)} // a PUBACK for packet id i
				want.Write(p)
				if k, err := c.Write(p); err != nil || k != len(p) {
					t.Fatalf("write %d: %d, %v", i, k, err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, want.Bytes()) {
				t.Fatalf("peer read %d bytes, want %d in order", len(b), want.Len())
			}
		})
	}
}

// TestBufferedConnGathersUnderLoad: while the peer is slow to read, writes are gathered and
// sent in fewer, larger writes.
func TestBufferedConnGathersUnderLoad(t *testing.T) {
	client, server := net.Pipe()
	var mu sync.Mutex
	reads := 0
	total := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<20)
		for {
			time.Sleep(time.Millisecond)
			k, err := server.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			reads++
			total += k
			mu.Unlock()
		}
	}()
	c := newBufferedConn(client)
	const n = 2000
	for i := 0; i < n; i++ {
		c.Write([]byte{0x40, 0x02, byte(i >> 8), byte(i)})
	}
	c.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if total != 4*n {
		t.Fatalf("peer got %d bytes, want %d", total, 4*n)
	}
	if reads >= n/4 {
		t.Fatalf("%d writes reached the peer for %d acknowledgements: not gathered", reads, n)
	}
}

// TestBufferedConnReportsWriteError: once the connection fails, the next Write says so.
func TestBufferedConnReportsWriteError(t *testing.T) {
	client, server := net.Pipe()
	server.Close()
	c := newBufferedConn(client)
	c.Write([]byte{0x40, 0x02, 0, 1})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Write([]byte{0x40, 0x02, 0, 2})
		if err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("write error %v, want the connection's", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a closed connection kept succeeding")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWholePackets(t *testing.T) {
	long := append([]byte{0x30, 0x80, 0x01}, make([]byte, 128)...) // remaining length 128 in two bytes
	for _, tc := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"puback", []byte{0x40, 0x02, 0x00, 0x07}, true},
		{"pingreq", []byte{0xc0, 0x00}, true},
		{"two packets", []byte{0x40, 0x02, 0x00, 0x07, 0xc0, 0x00}, true},
		{"two-byte length", long, true},
		{"header only", []byte{0x30}, false},
		{"body cut short", []byte{0x40, 0x02, 0x00}, false},
		{"length cut short", []byte{0x30, 0x80}, false},
		{"length over four bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, false},
		{"packet then a fragment", []byte{0xc0, 0x00, 0x40, 0x02}, false},
	} {
		if got := wholePackets(tc.p); got != tc.want {
			t.Errorf("%s: wholePackets = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBufferedConnAcknowledges: acknowledgements go out between paho's packets, never inside
// one; a connection that saw part of a packet hands them back to paho; a closed one drops
// them (the broker delivers the message again).
func TestBufferedConnAcknowledges(t *testing.T) {
	c, got := pipeToPeer()
	viaPaho := 0
	fallback := func() { viaPaho++ }
	ping := []byte{0xc0, 0x00}
	c.Write(ping)
	c.Acknowledge(0x0102, fallback)
	c.Write(ping)
	c.Acknowledge(0x0304, fallback)
	if viaPaho != 0 {
		t.Fatalf("%d acknowledgements handed back to paho on a framed stream", viaPaho)
	}
	c.Write([]byte{0x30, 0x05, 0x00}) // the start of a PUBLISH: paho's framing can no longer be trusted
	c.Acknowledge(0x0506, fallback)
	if viaPaho != 1 {
		t.Fatalf("after a partial packet: %d acknowledgements handed back to paho, want 1", viaPaho)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c.Acknowledge(0x0708, fallback)
	want := []byte{0xc0, 0x00, 0x40, 0x02, 0x01, 0x02, 0xc0, 0x00, 0x40, 0x02, 0x03, 0x04, 0x30, 0x05, 0x00}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read % x\nwant          % x", b, want)
	}
	if viaPaho != 1 {
		t.Fatalf("an acknowledgement after Close went to paho")
	}
}
