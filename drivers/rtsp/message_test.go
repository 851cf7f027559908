package rtsp

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		code    int
		session string
		body    string
		wantErr bool
	}{
		{"ok with body", "RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 1234;timeout=60\r\nContent-Length: 4\r\n\r\nv=0\n", 200, "1234;timeout=60", "v=0\n", false},
		{"LF only and folded header", "RTSP/1.0 401 Unauthorized\nWWW-Authenticate: Digest realm=\"x\",\n  nonce=\"y\"\nSession: a\n\n", 401, "a", "", false},
		{"reason with spaces", "RTSP/1.0 454 Session Not Found\r\n\r\n", 454, "", "", false},
		{"not rtsp", "HTTP/1.1 200 OK\r\n\r\n", 0, "", "", true},
		{"bad code", "RTSP/1.0 2x0 OK\r\n\r\n", 0, "", "", true},
		{"header without colon", "RTSP/1.0 200 OK\r\nnonsense\r\n\r\n", 0, "", "", true},
		{"huge content-length", "RTSP/1.0 200 OK\r\nContent-Length: 999999999\r\n\r\n", 0, "", "", true},
		{"negative content-length", "RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", "", true},
		{"truncated body", "RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, "", "", true},
		{"too many headers", "RTSP/1.0 200 OK\r\n" + strings.Repeat("X: y\r\n", maxHeaders+1) + "\r\n", 0, "", "", true},
		{"line too long", "RTSP/1.0 200 OK\r\nX: " + strings.Repeat("a", maxLineLen) + "\r\n\r\n", 0, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := readResponse(bufio.NewReaderSize(strings.NewReader(tc.in), maxLineLen))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", resp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || resp.Header.Get("session") != tc.session || string(resp.Body) != tc.body {
				t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("session"), resp.Body)
			}
		})
	}
}

func TestWireReaderInterleaved(t *testing.T) {
	in := "$\x00\x00\x03abc" + "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n" + "$\x03\x00\x00" + "$\x02\x00\x05ab"
	w := newWireReader(strings.NewReader(in))
	_, ch, frame, err := w.next()
	if err != nil || ch != 0 || string(frame) != "abc" {
		t.Fatalf("frame 1: %d %q %v", ch, frame, err)
	}
	resp, _, _, err := w.next()
	if err != nil || resp == nil || resp.Header.Get("CSeq") != "5" {
		t.Fatalf("response: %+v %v", resp, err)
	}
	if _, ch, frame, err = w.next(); err != nil || ch != 3 || len(frame) != 0 {
		t.Fatalf("empty frame: %d %q %v", ch, frame, err)
	}
	if _, _, _, err = w.next(); err == nil {
		t.Fatal("truncated frame: want error")
	}
}

func TestReadRequest(t *testing.T) {
	req, err := ReadRequest(NewReader(strings.NewReader("SETUP rtsp://h/main/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n")))
	if err != nil || req.Method != "SETUP" || req.URL != "rtsp://h/main/trackID=0" || req.Header.Get("cseq") != "3" {
		t.Fatalf("%+v %v", req, err)
	}
	if _, err := ReadRequest(NewReader(strings.NewReader("GET / HTTP/1.1\r\n\r\n"))); !errors.Is(err, ErrProtocol) {
		t.Fatalf("http request: err = %v", err)
	}
}
