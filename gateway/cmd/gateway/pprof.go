package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
)

// startProfiling serves Go's profiler on addr when GATEWAY_PPROF names one. It is for an
// engineer on the box: only loopback addresses are accepted, and it is off unless asked for.
func startProfiling(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("GATEWAY_PPROF: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("GATEWAY_PPROF: %q is not a loopback address", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("GATEWAY_PPROF: %w", err)
	}
	log.Warn("profiler listening (GATEWAY_PPROF)", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
	return nil
}
