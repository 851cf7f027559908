package camera

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/pion/rtcp"
)

// Config configures a simulated camera.
type Config struct {
	// Streams maps a path ("/main", "/sub") to the clip served there.
	Streams map[string]*Clip
	// Username and Password enable authentication; empty Username serves anyone.
	Username string
	Password string
	// Auth is "digest" (default) or "basic".
	Auth string
	// DigestQop adds qop="auth" to the Digest challenge (RFC 2617 with client nonce
	// and nonce count); without it the camera speaks RFC 2069 style, as most do.
	DigestQop bool
	Realm     string // default "camsim"
	// SessionTimeout is announced in the Session header; a client that sends no
	// request (and, over TCP, no RTCP) for this long is disconnected. Default 60s.
	SessionTimeout time.Duration
	// QueueLen is the number of packets buffered per client; when a client falls
	// that far behind, its packets are dropped, other clients are unaffected.
	// Default 2048.
	QueueLen int
	// SendBuffer, if set, is the kernel send buffer of each client connection in
	// bytes: small values make a stalled client fall behind quickly, as on a real
	// camera with little memory.
	SendBuffer int
	Logger     *slog.Logger
}

// Server is a simulated camera. Run serves it on a listener.
type Server struct {
	cfg   Config
	log   *slog.Logger
	nonce string
	paths []string
	// dropped counts packets dropped for clients that fell behind.
	dropped atomic.Uint64
	// frozen: media stops while RTSP requests are still answered.
	frozen atomic.Bool
	// receiverReports counts RTCP receiver reports about this camera's streams.
	receiverReports atomic.Uint64
}

// New validates cfg and applies defaults. It does no I/O.
func New(cfg Config) (*Server, error) {
	if len(cfg.Streams) == 0 {
		return nil, errors.New("camera: config: no streams")
	}
	var paths []string
	for p, c := range cfg.Streams {
		if !strings.HasPrefix(p, "/") || strings.Contains(p[1:], "/") {
			return nil, fmt.Errorf("camera: config: stream path %q must be /name", p)
		}
		if c == nil || len(c.Frames) == 0 {
			return nil, fmt.Errorf("camera: config: stream %q has no clip", p)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	switch cfg.Auth {
	case "":
		cfg.Auth = "digest"
	case "digest", "basic":
	default:
		return nil, fmt.Errorf("camera: config: auth %q is not digest or basic", cfg.Auth)
	}
	if cfg.Realm == "" {
		cfg.Realm = "camsim"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 60 * time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 2048
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, log: log.With("component", "camsim"), nonce: randomHex(16), paths: paths}, nil
}

// run is the state of one Run: streams, UDP sockets, connections.
type run struct {
	srv      *Server
	streams  map[string]*stream
	rtpConn  *net.UDPConn
	rtcpConn *net.UDPConn
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// Run serves RTSP on ln until ctx is cancelled, then closes every connection and
// returns after all its goroutines have ended. It closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	r := &run{srv: s, streams: make(map[string]*stream), conns: make(map[net.Conn]struct{})}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	var err error
	if r.rtpConn, r.rtcpConn, err = listenUDPPair(host); err != nil {
		return err
	}
	defer r.rtpConn.Close()
	defer r.rtcpConn.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for p, c := range s.cfg.Streams {
		st := newStream(c, &s.frozen)
		r.streams[p] = st
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			st.run(ctx)
		}()
	}
	r.wg.Add(1)
	go func() { // RTCP from UDP clients
		defer r.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := r.rtcpConn.Read(buf)
			if err != nil {
				return
			}
			r.countReports(buf[:n])
		}
	}()
	r.wg.Add(1)
	go func() { // on cancel: stop accepting, drop every client at once
		defer r.wg.Done()
		<-ctx.Done()
		_ = ln.Close()
		_ = r.rtcpConn.Close() // ends the RTCP reader
		r.mu.Lock()
		r.closed = true
		for c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			cancel()
			r.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("camera: accept: %w", err)
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			_ = nc.Close()
			continue
		}
		r.conns[nc] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.serve(ctx, nc)
			r.mu.Lock()
			delete(r.conns, nc)
			r.mu.Unlock()
		}()
	}
}

// countReports counts receiver reports whose blocks are about one of this camera's
// streams.
func (r *run) countReports(b []byte) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		rr, ok := p.(*rtcp.ReceiverReport)
		if !ok {
			continue
		}
		for _, rep := range rr.Reports {
			for _, st := range r.streams {
				if rep.SSRC == st.ssrcV || rep.SSRC == st.ssrcA {
					r.srv.receiverReports.Add(1)
				}
			}
		}
	}
}

func listenUDPPair(host string) (*net.UDPConn, *net.UDPConn, error) {
	ip := net.ParseIP(host)
	for range 32 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, nil, fmt.Errorf("camera: udp: %w", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 == 0 && p < 65535 {
			if b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p + 1}); err == nil {
				return a, b, nil
			}
		}
		_ = a.Close()
	}
	return nil, nil, errors.New("camera: udp: no free port pair")
}

// client is one RTSP connection and its session.
type client struct {
	r    *run
	nc   net.Conn
	wmu  sync.Mutex
	bw   *bufio.Writer
	host string // for URLs in responses

	session  string
	stream   *stream
	path     string
	tcp      bool
	chV, chA int            // interleaved RTP channels, -1 when not set up
	udpV     netip.AddrPort // client's RTP port for video
	udpA     netip.AddrPort
	playing  bool

	queue   chan packet
	done    chan struct{}
	writers sync.WaitGroup
}

func (r *run) serve(ctx context.Context, nc net.Conn) {
	c := &client{r: r, nc: nc, bw: bufio.NewWriterSize(nc, 32<<10), chV: -1, chA: -1,
		queue: make(chan packet, r.srv.cfg.QueueLen), done: make(chan struct{})}
	c.host = nc.LocalAddr().String()
	if tc, ok := nc.(*net.TCPConn); ok && r.srv.cfg.SendBuffer > 0 {
		_ = tc.SetWriteBuffer(r.srv.cfg.SendBuffer)
	}
	defer c.stop()
	br := rtsp.NewReader(nc)
	timeout := r.srv.cfg.SessionTimeout
	for {
		_ = nc.SetReadDeadline(time.Now().Add(timeout))
		b, err := br.Peek(1)
		if err != nil {
			return
		}
		if b[0] == '$' { // interleaved RTCP from the client: counts as activity
			var hdr [4]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return
			}
			buf := make([]byte, int(hdr[2])<<8|int(hdr[3]))
			if _, err := io.ReadFull(br, buf); err != nil {
				return
			}
			r.countReports(buf)
			continue
		}
		req, err := rtsp.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				r.srv.log.Debug("camsim: bad request", "err", err)
			}
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// handle answers one request; false ends the connection.
func (c *client) handle(req *rtsp.Request) bool {
	s := c.r.srv
	cseq := req.Header.Get("CSeq")
	h := rtsp.Header{{Name: "CSeq", Value: cseq}, {Name: "Server", Value: "camsim"}}
	if req.Method != "OPTIONS" && s.cfg.Username != "" && !s.authorized(req) {
		h = append(h, rtsp.HeaderField{Name: "WWW-Authenticate", Value: s.challenge()})
		return c.reply(401, "Unauthorized", h, nil)
	}
	if c.session != "" {
		h = append(h, rtsp.HeaderField{Name: "Session", Value: fmt.Sprintf("%s;timeout=%d", c.session, int(s.cfg.SessionTimeout/time.Second))})
	}
	path, track := c.parseURL(req.URL)
	switch req.Method {
	case "OPTIONS":
		h = append(h, rtsp.HeaderField{Name: "Public", Value: "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"})
		return c.reply(200, "OK", h, nil)
	case "DESCRIBE":
		st := c.r.streams[path]
		if st == nil || track != "" {
			return c.reply(404, "Not Found", h, nil)
		}
		base := fmt.Sprintf("rtsp://%s%s/", c.host, path)
		h = append(h, rtsp.HeaderField{Name: "Content-Base", Value: base},
			rtsp.HeaderField{Name: "Content-Type", Value: "application/sdp"})
		return c.reply(200, "OK", h, []byte(st.sdp(c.host)))
	case "SETUP":
		return c.setup(req, path, track, h)
	case "PLAY":
		if c.session == "" || req.Header.Get("Session") != c.session {
			return c.reply(454, "Session Not Found", h, nil)
		}
		if !c.playing {
			c.play()
		}
		h = append(h, rtsp.HeaderField{Name: "Range", Value: "npt=0.000-"})
		return c.reply(200, "OK", h, nil)
	case "GET_PARAMETER":
		return c.reply(200, "OK", h, nil)
	case "TEARDOWN":
		c.reply(200, "OK", h, nil)
		return false
	}
	return c.reply(501, "Not Implemented", h, nil)
}

// parseURL returns the stream path and the track ("trackID=0") of a request URL.
func (c *client) parseURL(raw string) (path, track string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	if i := strings.Index(p, "/trackID="); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

func (c *client) setup(req *rtsp.Request, path, track string, h rtsp.Header) bool {
	if c.playing {
		return c.reply(455, "Method Not Valid in This State", h, nil)
	}
	st := c.r.streams[path]
	if st == nil || (track != "trackID=0" && track != "trackID=1") ||
		(track == "trackID=1" && len(st.clip.Audio) < audioChunk) {
		return c.reply(404, "Not Found", h, nil)
	}
	if c.stream != nil && c.stream != st {
		return c.reply(459, "Aggregate Operation Not Allowed", h, nil)
	}
	if sid := req.Header.Get("Session"); c.session != "" && sid != "" && sid != c.session {
		return c.reply(454, "Session Not Found", h, nil)
	}
	audio := track == "trackID=1"
	tp := req.Header.Get("Transport")
	var reply string
	switch {
	case strings.Contains(tp, "RTP/AVP/TCP"):
		ch := 0
		if audio {
			ch = 2
		}
		if _, v, ok := strings.Cut(tp, "interleaved="); ok {
			a, _, _ := strings.Cut(v, "-")
			if n, err := strconv.Atoi(strings.TrimSpace(strings.Split(a, ";")[0])); err == nil && n >= 0 && n < 254 {
				ch = n
			}
		}
		c.tcp = true
		if audio {
			c.chA = ch
		} else {
			c.chV = ch
		}
		reply = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", ch, ch+1)
	case strings.Contains(tp, "client_port="):
		_, v, _ := strings.Cut(tp, "client_port=")
		a, _, _ := strings.Cut(strings.Split(v, ";")[0], "-")
		port, err := strconv.Atoi(a)
		remote, err2 := netip.ParseAddrPort(c.nc.RemoteAddr().String())
		if err != nil || err2 != nil || port <= 0 || port >= 65535 {
			return c.reply(461, "Unsupported Transport", h, nil)
		}
		ap := netip.AddrPortFrom(remote.Addr(), uint16(port))
		if audio {
			c.udpA = ap
		} else {
			c.udpV = ap
		}
		sp := c.r.rtpConn.LocalAddr().(*net.UDPAddr).Port
		reply = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d", port, port+1, sp, sp+1)
	default:
		return c.reply(461, "Unsupported Transport", h, nil)
	}
	ssrc := st.ssrcV
	if audio {
		ssrc = st.ssrcA
	}
	reply += fmt.Sprintf(";ssrc=%08X", ssrc)
	c.stream, c.path = st, path
	if c.session == "" {
		c.session = randomHex(8)
		h = append(h, rtsp.HeaderField{Name: "Session", Value: fmt.Sprintf("%s;timeout=%d", c.session, int(c.r.srv.cfg.SessionTimeout/time.Second))})
	}
	h = append(h, rtsp.HeaderField{Name: "Transport", Value: reply})
	return c.reply(200, "OK", h, nil)
}

func (c *client) reply(code int, reason string, h rtsp.Header, body []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c.bw, "RTSP/1.0 %d %s\r\n", code, reason)
	for _, f := range h {
		fmt.Fprintf(c.bw, "%s: %s\r\n", f.Name, f.Value)
	}
	if len(body) > 0 {
		fmt.Fprintf(c.bw, "Content-Length: %d\r\n", len(body))
	}
	c.bw.WriteString("\r\n")
	c.bw.Write(body)
	return c.bw.Flush() == nil
}

// play subscribes the client to its stream and starts its writer.
func (c *client) play() {
	c.playing = true
	c.writers.Add(1)
	go c.writeLoop()
	c.stream.subscribe(c)
}

// offer queues a packet without blocking; a full queue drops it.
func (c *client) offer(p packet) {
	if p.audio && c.chA < 0 && !c.udpA.IsValid() {
		return
	}
	select {
	case c.queue <- p:
	default:
		c.r.srv.dropped.Add(1)
	}
}

func (c *client) writeLoop() {
	defer c.writers.Done()
	for {
		select {
		case <-c.done:
			return
		case p := <-c.queue:
			if err := c.send(p); err != nil {
				_ = c.nc.Close() // a client stuck for the write timeout is disconnected
				return
			}
		}
	}
}

func (c *client) send(p packet) error {
	if !c.tcp {
		dst := c.udpV
		if p.audio {
			dst = c.udpA
		}
		conn := c.r.rtpConn
		if p.rtcp {
			conn = c.r.rtcpConn
			dst = netip.AddrPortFrom(dst.Addr(), dst.Port()+1)
		}
		_, _ = conn.WriteToUDPAddrPort(p.data, dst)
		return nil
	}
	ch := c.chV
	if p.audio {
		ch = c.chA
	}
	if p.rtcp {
		ch++
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.bw.Write([]byte{'$', byte(ch), byte(len(p.data) >> 8), byte(len(p.data))})
	c.bw.Write(p.data)
	if len(c.queue) == 0 {
		return c.bw.Flush()
	}
	return nil
}

// stop ends the client's session: unsubscribes, stops the writer, closes the socket.
func (c *client) stop() {
	if c.stream != nil {
		c.stream.unsubscribe(c)
	}
	close(c.done)
	c.writers.Wait()
	_ = c.nc.Close()
}

func (s *Server) challenge() string {
	if s.cfg.Auth == "basic" {
		return fmt.Sprintf(`Basic realm="%s"`, s.cfg.Realm)
	}
	if s.cfg.DigestQop {
		return fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5`, s.cfg.Realm, s.nonce)
	}
	return fmt.Sprintf(`Digest realm="%s", nonce="%s"`, s.cfg.Realm, s.nonce)
}

func (s *Server) authorized(req *rtsp.Request) bool {
	a := req.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(a, " ")
	switch {
	case s.cfg.Auth == "basic" && strings.EqualFold(scheme, "basic"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		return err == nil && string(b) == s.cfg.Username+":"+s.cfg.Password
	case s.cfg.Auth == "digest" && strings.EqualFold(scheme, "digest"):
		p := rtsp.ParseAuthParams(rest)
		if p["username"] != s.cfg.Username || p["realm"] != s.cfg.Realm || p["nonce"] != s.nonce ||
			(s.cfg.DigestQop && p["qop"] != "auth") {
			return false
		}
		want := rtsp.DigestResponse(s.cfg.Username, s.cfg.Realm, s.cfg.Password, req.Method, p["uri"], s.nonce, p["nc"], p["cnonce"], p["qop"])
		return p["response"] == want
	}
	return false
}

// sdp describes the stream; host is the address the client connected to.
func (st *stream) sdp(host string) string {
	ip, _, _ := net.SplitHostPort(host)
	c := st.clip
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- %d 1 IN IP4 %s\r\ns=camsim\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\na=range:npt=0-\r\n", st.ssrcV, ip)
	fmt.Fprintf(&b, "m=video 0 RTP/AVP %d\r\na=rtpmap:%d H264/%d\r\n", videoPT, videoPT, videoClock)
	fmt.Fprintf(&b, "a=fmtp:%d packetization-mode=1;profile-level-id=%02x%02x%02x;sprop-parameter-sets=%s,%s\r\n",
		videoPT, c.SPS[1], c.SPS[2], c.SPS[3],
		base64.StdEncoding.EncodeToString(c.SPS), base64.StdEncoding.EncodeToString(c.PPS))
	fmt.Fprintf(&b, "a=framerate:%d\r\na=control:trackID=0\r\n", c.FPS)
	if len(c.Audio) >= audioChunk {
		fmt.Fprintf(&b, "m=audio 0 RTP/AVP %d\r\na=rtpmap:%d PCMA/%d\r\na=control:trackID=1\r\n", audioPT, audioPT, audioClock)
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Instance is a camera running in the background, for tests and camsim.
type Instance struct {
	srv    *Server
	addr   string
	user   string
	pass   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start listens on addr ("127.0.0.1:0" for a free port, or the address of a stopped
// instance to restart it there) and serves cfg until Stop.
func Start(cfg Config, addr string) (*Instance, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("camera: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &Instance{srv: s, addr: ln.Addr().String(), user: cfg.Username, pass: cfg.Password, cancel: cancel, done: make(chan error, 1)}
	go func() { i.done <- s.Run(ctx, ln) }()
	return i, nil
}

// Freeze stops (true) or resumes (false) media on every path while the camera keeps
// answering RTSP requests, as a hung encoder does.
func (i *Instance) Freeze(frozen bool) { i.srv.frozen.Store(frozen) }

// ReceiverReports is the number of RTCP receiver report blocks received about this
// camera's streams.
func (i *Instance) ReceiverReports() uint64 { return i.srv.receiverReports.Load() }

// Dropped is the number of packets dropped for clients that fell behind.
func (i *Instance) Dropped() uint64 { return i.srv.dropped.Load() }

// Addr is the host:port the camera listens on.
func (i *Instance) Addr() string { return i.addr }

// URL is the stream URL for path, with the camera's credentials.
func (i *Instance) URL(path string) string {
	u := url.URL{Scheme: "rtsp", Host: i.addr, Path: path}
	if i.user != "" {
		u.User = url.UserPassword(i.user, i.pass)
	}
	return u.String()
}

// Stop disconnects every client at once (as a camera losing power does) and
// returns when the camera has stopped.
// It is safe to call more than once.
func (i *Instance) Stop() error {
	i.once.Do(func() {
		i.cancel()
		i.err = <-i.done
	})
	return i.err
}
