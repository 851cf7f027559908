package rtsp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// udpPair is the RTP (even port) and RTCP (next port) sockets of one track.
type udpPair struct {
	rtp, rtcp  *net.UDPConn
	port       int
	serverRTCP netip.AddrPort // where receiver reports go; zero if unknown
}

func listenUDPPair() (*udpPair, error) {
	for range 32 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			return nil, fmt.Errorf("rtsp: udp: %w", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p >= 65535 {
			_ = a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{Port: p + 1})
		if err != nil {
			_ = a.Close()
			continue
		}
		_ = a.SetReadBuffer(1 << 20)
		return &udpPair{rtp: a, rtcp: b, port: p}, nil
	}
	return nil, errors.New("rtsp: udp: no free even/odd port pair")
}

func (p *udpPair) close() {
	if p == nil {
		return
	}
	_ = p.rtp.Close()
	_ = p.rtcp.Close()
}

// startUDP starts one reader per track. The video reader enforces ReadTimeout and
// ends the session when it passes; audio may pause without ending it.
func (s *session) startUDP(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.readUDP(ctx, s.udpV.rtp, true, s.onVideoRTP)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.readUDP(ctx, s.udpV.rtcp, false, func(b []byte) { s.onRTCP(&s.vstats, b) })
	}()
	if s.udpA != nil && s.info.Audio != nil {
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			s.readUDP(ctx, s.udpA.rtp, false, s.onAudioRTP)
		}()
		go func() {
			defer s.wg.Done()
			s.readUDP(ctx, s.udpA.rtcp, false, func(b []byte) { s.onRTCP(&s.astats, b) })
		}()
	}
}

func (s *session) readUDP(ctx context.Context, c *net.UDPConn, timed bool, handle func([]byte)) {
	buf := make([]byte, 64<<10)
	rt := s.c.cfg.ReadTimeout
	var last time.Time
	for {
		if timed {
			if now := time.Now(); now.Sub(last) > rt/8 {
				last = now
				_ = c.SetReadDeadline(now.Add(rt))
			}
		}
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil {
				s.cancel(classifyNetErr("udp read", err))
			}
			return
		}
		if ip := from.Addr().Unmap(); s.serverIP.IsValid() && ip != s.serverIP && ip != s.sourceIP {
			continue // not from the camera
		}
		handle(buf[:n])
	}
}

// readControl reads responses on the RTSP connection while media comes over UDP.
func (s *session) readControl() error {
	s.setReadDeadline(time.Time{})
	for {
		resp, err := s.readResponse()
		if err != nil {
			return classifyNetErr("read", err)
		}
		if err := s.checkAsyncResponse(resp); err != nil {
			return err
		}
	}
}
