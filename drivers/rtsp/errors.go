package rtsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Sentinel errors. Every error returned by this package wraps at most one of them, so
// callers (the installer's "add camera" page, gateway doctor) can say what is wrong
// with errors.Is.
var (
	// ErrUnreachable: the camera's address does not answer (refused, no route, DNS).
	ErrUnreachable = errors.New("rtsp: camera unreachable")
	// ErrUnauthorized: the camera answered 401 to our credentials (or we had none).
	ErrUnauthorized = errors.New("rtsp: unauthorized (401): wrong or missing username/password")
	// ErrNotFound: the camera answered 404 for the stream path.
	ErrNotFound = errors.New("rtsp: stream not found (404): check the path")
	// ErrNoPlayableTrack: the stream has no H.264 video track.
	ErrNoPlayableTrack = errors.New("rtsp: no playable track")
	// ErrTimeout: the camera stopped answering or sending media within the timeout.
	ErrTimeout = errors.New("rtsp: timeout")
	// ErrProtocol: the camera sent something this client does not understand.
	ErrProtocol = errors.New("rtsp: protocol error")
)

// StatusError is a non-2xx RTSP response that maps to none of the sentinels above.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rtsp: %s: status %d %s", e.Method, e.Code, e.Reason)
}

// statusErr converts a response status into the matching error.
func statusErr(method string, code int, reason string) error {
	switch code {
	case 401, 403:
		return fmt.Errorf("%w (%s)", ErrUnauthorized, method)
	case 404:
		return fmt.Errorf("%w (%s)", ErrNotFound, method)
	}
	return &StatusError{Method: method, Code: code, Reason: reason}
}

// classifyNetErr wraps a network error with ErrTimeout or ErrUnreachable where it is one.
func classifyNetErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) || errors.Is(err, context.Canceled) {
		return err
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, op, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("rtsp: %s: the camera closed the connection: %w", op, err)
	}
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.As(err, &dnsErr) {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, op, err)
	}
	return fmt.Errorf("rtsp: %s: %w", op, err)
}
