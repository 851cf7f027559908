package rtsp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what a camera may send. They bound memory per connection whatever the peer does.
const (
	maxLineLen    = 4096     // a status or header line (the bufio.Reader's size)
	maxHeaders    = 64       // header lines per response
	maxHeaderSize = 16 << 10 // all header lines of one response together
	maxBodyLen    = 64 << 10 // Content-Length (an SDP is a few hundred bytes)
	// Interleaved frames carry a 16-bit length, so they are at most 65535 bytes: the
	// frame buffer is allocated once at that size and reused.
	maxFrameLen = 0xffff
)

// HeaderField is one header line.
type HeaderField struct{ Name, Value string }

// Header is the header of an RTSP message, in order of appearance.
type Header []HeaderField

// Get returns the first value of the named header (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the named header.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Response is an RTSP response.
type Response struct {
	StatusCode int
	Reason     string
	Header     Header
	Body       []byte
}

// wireReader reads responses and interleaved frames from one RTSP connection. It is
// not safe for concurrent use.
type wireReader struct {
	br    *bufio.Reader
	frame []byte // reused for every interleaved frame
	// onRequest receives requests the server sends (some cameras send OPTIONS or
	// GET_PARAMETER as their own keepalive); nil ignores them.
	onRequest func(*Request)
}

func newWireReader(r io.Reader) *wireReader {
	return &wireReader{br: bufio.NewReaderSize(r, maxLineLen)}
}

// next reads the next response or interleaved frame; requests from the server are
// handed to onRequest on the way. Exactly one of resp and frame is set: frame is
// valid until the next call. channel is the interleaved channel of a frame.
func (w *wireReader) next() (resp *Response, channel uint8, frame []byte, err error) {
	for {
		b, err := w.br.Peek(1)
		if err != nil {
			return nil, 0, nil, err
		}
		if b[0] == '$' {
			channel, frame, err = w.readFrame()
			return nil, channel, frame, err
		}
		if b, err = w.br.Peek(5); err != nil {
			return nil, 0, nil, err
		}
		if string(b) == "RTSP/" {
			resp, err = readResponse(w.br)
			return resp, 0, nil, err
		}
		req, err := ReadRequest(w.br)
		if err != nil {
			return nil, 0, nil, err
		}
		if w.onRequest != nil {
			w.onRequest(req)
		}
	}
}

func (w *wireReader) readFrame() (uint8, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(w.br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	if w.frame == nil {
		w.frame = make([]byte, maxFrameLen)
	}
	if _, err := io.ReadFull(w.br, w.frame[:n]); err != nil {
		return 0, nil, err
	}
	return hdr[1], w.frame[:n], nil
}

// readLine reads one CRLF- or LF-terminated line without the terminator. Lines longer
// than the reader's buffer are an error.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, maxLineLen)
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	return line, nil
}

// readResponse reads a status line, headers and body from br.
func readResponse(br *bufio.Reader) (*Response, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	// "RTSP/1.0 200 OK"
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("RTSP/")) {
		return nil, fmt.Errorf("%w: bad status line %q", ErrProtocol, truncate(line))
	}
	codeB, reason, _ := bytes.Cut(rest, []byte(" "))
	code, err := strconv.Atoi(string(codeB))
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("%w: bad status code %q", ErrProtocol, truncate(codeB))
	}
	resp := &Response{StatusCode: code, Reason: string(reason)}
	if resp.Header, err = readHeader(br); err != nil {
		return nil, err
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad content-length %q", ErrProtocol, truncate([]byte(cl)))
		}
		if n > maxBodyLen {
			return nil, fmt.Errorf("%w: content-length %d exceeds %d", ErrProtocol, n, maxBodyLen)
		}
		resp.Body = make([]byte, n)
		if _, err := io.ReadFull(br, resp.Body); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// readHeader reads header lines up to the empty line. It is shared with the camera
// simulator's request parser through ReadRequest.
func readHeader(br *bufio.Reader) (Header, error) {
	var h Header
	total := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return h, nil
		}
		total += len(line)
		if len(h) >= maxHeaders || total > maxHeaderSize {
			return nil, fmt.Errorf("%w: too many header lines", ErrProtocol)
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 { // obsolete line folding
			h[len(h)-1].Value += " " + string(bytes.TrimSpace(line))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(bytes.TrimSpace(name)) == 0 {
			return nil, fmt.Errorf("%w: bad header line %q", ErrProtocol, truncate(line))
		}
		h = append(h, HeaderField{Name: string(bytes.TrimSpace(name)), Value: string(bytes.TrimSpace(value))})
	}
}

// Request is an RTSP request, as read by a server.
type Request struct {
	Method string
	URL    string
	Header Header
	Body   []byte
}

// ReadRequest reads one request from br with the same limits the client applies to
// responses. It exists for the camera simulator and for tests.
func ReadRequest(br *bufio.Reader) (*Request, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	parts := strings.Fields(string(line))
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "RTSP/") {
		return nil, fmt.Errorf("%w: bad request line %q", ErrProtocol, truncate(line))
	}
	req := &Request{Method: parts[0], URL: parts[1]}
	if req.Header, err = readHeader(br); err != nil {
		return nil, err
	}
	if cl := req.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 || n > maxBodyLen {
			return nil, fmt.Errorf("%w: bad content-length %q", ErrProtocol, truncate([]byte(cl)))
		}
		req.Body = make([]byte, n)
		if _, err := io.ReadFull(br, req.Body); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// NewReader returns a buffered reader sized for RTSP messages (lines up to 4 KiB).
func NewReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, maxLineLen) }

// appendRequest appends an RTSP request to b.
func appendRequest(b []byte, method, url string, cseq int, h Header, body []byte) []byte {
	b = fmt.Appendf(b, "%s %s RTSP/1.0\r\nCSeq: %d\r\n", method, url, cseq)
	for _, f := range h {
		b = fmt.Appendf(b, "%s: %s\r\n", f.Name, f.Value)
	}
	if len(body) > 0 {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(body))
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
