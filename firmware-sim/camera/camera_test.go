package camera

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

var testClip struct {
	once sync.Once
	clip *Clip
	err  error
}

// clip generates a 1280x720 25 fps clip with audio, GOP 25, once per test binary.
func clip(t *testing.T) *Clip {
	t.Helper()
	testClip.once.Do(func() {
		dir := t.TempDir() // removed when the first test that asked ends; the clip is in memory
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		v, a, err := GenerateClip(ctx, dir, ClipSpec{Width: 1280, Height: 720, FPS: 25, GOP: 25, Seconds: 2, Bitrate: "1M", Audio: true})
		if err != nil {
			testClip.err = err
			return
		}
		testClip.clip, testClip.err = LoadClip(v, a, 25)
	})
	if testClip.err != nil {
		t.Fatalf("test clip (ffmpeg required): %v", testClip.err)
	}
	return testClip.clip
}

func start(t *testing.T, mod func(*Config)) *Instance {
	t.Helper()
	cfg := Config{Streams: map[string]*Clip{"/main": clip(t), "/sub": clip(t)}, Username: "admin", Password: "pw"}
	if mod != nil {
		mod(&cfg)
	}
	inst, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Stop() })
	return inst
}

func program(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (installed by .ci/install-deps): %v", name, err)
	}
	return p
}

func TestParseClip(t *testing.T) {
	c := clip(t)
	if len(c.Frames) != 50 {
		t.Errorf("%d frames, want 50 (2 s at 25 fps)", len(c.Frames))
	}
	for i, f := range c.Frames {
		if f.Key != (i%25 == 0) {
			t.Errorf("frame %d key=%v, want keyframes every 25 frames", i, f.Key)
		}
	}
	if len(c.Audio) != 16000 {
		t.Errorf("audio %d bytes, want 16000 (2 s of 8 kHz A-law)", len(c.Audio))
	}
	for i, pl := range packetize(c.Frames) {
		for _, p := range pl {
			if len(p) > maxPayload {
				t.Fatalf("frame %d: payload of %d bytes > %d", i, len(p), maxPayload)
			}
		}
	}
}

func TestParseAnnexBErrors(t *testing.T) {
	tests := map[string][]byte{
		"empty":         nil,
		"no start code": []byte("hello"),
		"no sps":        {0, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a},
		"starts with P": {0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x41, 0x9a},
	}
	for name, in := range tests {
		if _, err := ParseAnnexB(in, 25); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

// ffprobe, an RTSP client nobody here wrote, sees the stream the camera claims.
func TestFFprobe(t *testing.T) {
	ffprobe := program(t, "ffprobe")
	cam := start(t, nil)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", tr,
				"-show_entries", "stream=codec_name,width,height,avg_frame_rate,sample_rate", "-of", "compact",
				cam.URL("/main")).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			got := string(out)
			for _, want := range []string{"codec_name=h264|width=1280|height=720|avg_frame_rate=25/1", "codec_name=pcm_alaw|sample_rate=8000"} {
				if !strings.Contains(got, want) {
					t.Errorf("ffprobe output lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

// ffmpeg decodes frames for 3 s without a single error, over TCP and UDP.
func TestFFmpegDecodes(t *testing.T) {
	ffmpeg := program(t, "ffmpeg")
	cam := start(t, nil)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			frames, stderr, err := decode(t, ffmpeg, tr, cam.URL("/sub"), 3)
			if err != nil || stderr != "" {
				t.Fatalf("ffmpeg: %v\n%s", err, stderr)
			}
			if frames < minFrames {
				t.Errorf("decoded %d video frames in 3 s, want >= %d", frames, minFrames)
			}
		})
	}
}

// minFrames is what ffmpeg must decode in 3 s of 25 fps: a client joins mid-GOP and
// decodes from the next keyframe, so up to one GOP (25 frames) is not decodable.
const minFrames = 3*25 - 25

// decode runs ffmpeg on url for secs seconds and counts decoded video frames.
func decode(t *testing.T, ffmpeg, transport, url string, secs int) (frames int, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-rtsp_transport", transport, "-i", url,
		"-t", fmt.Sprint(secs), "-map", "0:v", "-f", "framemd5", "-")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "0,") {
			frames++
		}
	}
	return frames, errb.String(), err
}

// ffprobe authenticates with each scheme the camera offers and is refused with a
// wrong password.
func TestAuthWithFFprobe(t *testing.T) {
	ffprobe := program(t, "ffprobe")
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"digest", nil},
		{"digest with qop", func(c *Config) { c.DigestQop = true }},
		{"basic", func(c *Config) { c.Auth = "basic" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cam := start(t, tc.mod)
			if out, err := exec.Command(ffprobe, "-v", "error", "-rtsp_transport", "tcp", cam.URL("/sub")).CombinedOutput(); err != nil {
				t.Fatalf("ffprobe with the right password: %v\n%s", err, out)
			}
			url := strings.Replace(cam.URL("/sub"), ":pw@", ":nope@", 1)
			out, err := exec.Command(ffprobe, "-v", "error", "-rtsp_transport", "tcp", url).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "401") {
				t.Fatalf("ffprobe with a wrong password: err=%v\n%s", err, out)
			}
		})
	}
}

// A client that stops reading costs only itself: ffmpeg on the same stream decodes
// normally while the camera drops the stalled client's packets.
func TestSlowClientDoesNotStallOthers(t *testing.T) {
	ffmpeg := program(t, "ffmpeg")
	cam := start(t, func(c *Config) { c.Username = ""; c.QueueLen = 64; c.SendBuffer = 8 << 10 })
	stalled := stallClient(t, cam.Addr(), "/main")
	defer stalled.Close()
	deadline := time.Now().Add(10 * time.Second)
	for cam.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	frames, stderr, err := decode(t, ffmpeg, "tcp", cam.URL("/main"), 3)
	if err != nil || stderr != "" {
		t.Fatalf("ffmpeg beside a stalled client: %v\n%s", err, stderr)
	}
	if frames < minFrames {
		t.Errorf("decoded %d frames in 3 s beside a stalled client, want >= %d", frames, minFrames)
	}
	if cam.Dropped() == 0 {
		t.Errorf("the camera dropped nothing for the stalled client: the test did not stall it")
	}
}

// stallClient plays path over TCP with a tiny receive buffer and never reads media.
func stallClient(t *testing.T, addr, path string) net.Conn {
	nc, _ := rawPlay(t, addr, path, 4096)
	return nc
}

// rawPlay plays path's video over TCP interleaved (channels 0-1) with a hand-written
// client and returns the connection and its reader, positioned after the PLAY reply.
// rcvBuf > 0 shrinks the socket's receive buffer.
func rawPlay(t *testing.T, addr, path string, rcvBuf int) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Control: nil}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if rcvBuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(rcvBuf)
	}
	br := bufio.NewReader(nc)
	url := "rtsp://" + addr + path
	session := ""
	for i, req := range []string{
		"DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 1\r\n\r\n",
		"SETUP " + url + "/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
		"PLAY " + url + " RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n\r\n",
	} {
		if i == 2 {
			req = fmt.Sprintf(req, session)
		}
		if _, err := nc.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			line = strings.TrimSpace(line)
			if line == "" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Session: "); ok {
				session, _, _ = strings.Cut(v, ";")
			}
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				fmt.Sscan(v, &length)
			}
			if i == 0 && strings.HasPrefix(line, "RTSP/1.0") && !strings.Contains(line, "200") {
				t.Fatalf("DESCRIBE: %s", line)
			}
		}
		if _, err := br.Discard(length); err != nil {
			t.Fatal(err)
		}
	}
	return nc, br
}

// Stop drops every client at once and frees the port; Start on the same address
// serves again (tests of "camera restarted" and "camera gone" rely on both).
func TestStopAndRestart(t *testing.T) {
	ffprobe := program(t, "ffprobe")
	before := runtime.NumGoroutine()
	cam := start(t, func(c *Config) { c.Username = "" })
	client := stallClient(t, cam.Addr(), "/main")
	defer client.Close()
	addr := cam.Addr()
	stopped := make(chan error, 1)
	go func() { stopped <- cam.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return within 5 s with a client connected")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readToClose(client); err != nil {
		t.Fatalf("client not disconnected by Stop: %v", err)
	}
	if out, err := exec.Command(ffprobe, "-v", "error", "-rtsp_transport", "tcp", "rtsp://"+addr+"/main").CombinedOutput(); err == nil {
		t.Fatalf("ffprobe succeeded against a stopped camera:\n%s", out)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+1 && time.Now().Before(deadline) { // +1: the test's own Stop goroutine may linger
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+1 {
		t.Errorf("goroutines: %d before start, %d after Stop", before, n)
	}

	cam2, err := Start(Config{Streams: map[string]*Clip{"/main": clip(t)}, Username: "admin", Password: "pw"}, addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	defer cam2.Stop()
	if out, err := exec.Command(ffprobe, "-v", "error", "-rtsp_transport", "tcp", cam2.URL("/main")).CombinedOutput(); err != nil {
		t.Fatalf("ffprobe after restart: %v\n%s", err, out)
	}
}

// readToClose reads until EOF (the camera closed the connection) or an error.
func readToClose(c net.Conn) (int, error) {
	buf := make([]byte, 64<<10)
	total := 0
	for {
		n, err := c.Read(buf)
		total += n
		if err != nil {
			if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
				return total, nil
			}
			return total, err
		}
	}
}

// The clip loops with continuous RTP sequence numbers and timestamps, and the camera
// sends RTCP sender reports for the same SSRC.
func TestContinuousRTPAndSenderReports(t *testing.T) {
	cam := start(t, func(c *Config) { c.Username = "" })
	nc, br := rawPlay(t, cam.Addr(), "/main", 0)
	defer nc.Close()
	var (
		lastSeq, lastTS uint32
		ssrc            uint32
		packets, srs    int
		started         bool
	)
	end := time.Now().Add(2600 * time.Millisecond) // longer than the 2 s clip: crosses a loop
	_ = nc.SetReadDeadline(end.Add(2 * time.Second))
	for time.Now().Before(end) {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatal(err)
		}
		if hdr[0] != '$' {
			t.Fatalf("expected an interleaved frame, got %q", hdr)
		}
		buf := make([]byte, int(hdr[2])<<8|int(hdr[3]))
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
		switch hdr[1] {
		case 0:
			var p rtp.Packet
			if err := p.Unmarshal(buf); err != nil {
				t.Fatal(err)
			}
			seq, ts := uint32(p.SequenceNumber), p.Timestamp
			if started {
				if seq != (lastSeq+1)&0xffff {
					t.Fatalf("sequence jumped from %d to %d", lastSeq, seq)
				}
				if d := ts - lastTS; d != 0 && d != 3600 {
					t.Fatalf("timestamp stepped by %d (want 0 or 3600 at 25 fps)", d)
				}
			}
			started, lastSeq, lastTS, ssrc = true, seq, ts, p.SSRC
			packets++
		case 1:
			pkts, err := rtcp.Unmarshal(buf)
			if err != nil {
				t.Fatal(err)
			}
			if sr, ok := pkts[0].(*rtcp.SenderReport); ok {
				if started && sr.SSRC != ssrc {
					t.Errorf("sender report SSRC %x, RTP SSRC %x", sr.SSRC, ssrc)
				}
				srs++
			}
		default:
			t.Fatalf("frame on channel %d, only video (0-1) was set up", hdr[1])
		}
	}
	if packets < 100 || srs < 2 {
		t.Errorf("%d RTP packets and %d sender reports in 2.6 s, want >= 100 and >= 2", packets, srs)
	}
}
