// Command videobench measures the gateway's camera relay against the simulated camera (720p25
// ~2 Mb/s, 2 s GOP by default): time to first frame for a viewer joining a closed camera
// (cold) and a running one (warm), p50/p95 over -joins joins, then the gateway process's CPU
// and memory while 1, 10 and 50 pion WHEP viewers watch, with the frames and packets each lost.
//
//	go run ./gateway/cmd/videobench [-joins 20] [-viewers 1,10,50] [-measure 20s]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/community-edge/edge/firmware-sim/camera"
	"github.com/community-edge/edge/gateway/internal/testenv"
	"github.com/community-edge/edge/gateway/internal/video/whep"
)

const token = "videobench-token-0123456789"

func main() {
	joins := flag.Int("joins", 20, "joins measured for cold and for warm time to first frame")
	viewersFlag := flag.String("viewers", "1,10,50", "viewer counts for the load runs")
	measure := flag.Duration("measure", 20*time.Second, "length of each load run")
	width := flag.Int("width", 1280, "clip width")
	height := flag.Int("height", 720, "clip height")
	fps := flag.Int("fps", 25, "frame rate")
	gop := flag.Int("gop", 50, "frames per GOP")
	bitrate := flag.String("bitrate", "2M", "clip bitrate")
	flag.Parse()
	if err := run(*joins, *viewersFlag, *measure, *width, *height, *fps, *gop, *bitrate); err != nil {
		fmt.Fprintln(os.Stderr, "videobench:", err)
		os.Exit(1)
	}
}

func run(joins int, viewersFlag string, measure time.Duration, w, h, fps, gop int, bitrate string) error {
	var counts []int
	for _, s := range strings.Split(viewersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-viewers: %q", s)
		}
		counts = append(counts, n)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "videobench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := testenv.BuildGateway(root, work)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating a %dx%d %d fps clip (GOP %d, %s)…\n", w, h, fps, gop, bitrate)
	vp, ap, err := camera.GenerateClip(context.Background(), work, camera.ClipSpec{Width: w, Height: h, FPS: fps, GOP: gop, Seconds: 10, Bitrate: bitrate, Audio: true})
	if err != nil {
		return err
	}
	clip, err := camera.LoadClip(vp, ap, fps)
	if err != nil {
		return err
	}
	cam, err := camera.Start(camera.Config{Streams: map[string]*camera.Clip{"/main": clip}, Username: "admin", Password: "bench-camera-pass"}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer cam.Stop()

	httpPort, _ := testenv.FreePort()
	mqttPort, _ := testenv.FreePort()
	udpPort, _ := testenv.FreePort()
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	cfg := fmt.Sprintf(`site: {code: bench, name: bench, time_zone: Asia/Shanghai}
data_dir: %s
log: {level: warn}
broker: {mode: embedded, embedded: {listen: "127.0.0.1:%d"}}
http:
  listen: 127.0.0.1:%d
  api_tokens: [{name: bench, token: %s, role: admin}]
cameras:
  - {id: cam, name: bench, url: "rtsp://%s/main", username: admin, password: bench-camera-pass}
video:
  idle_grace: 0s
  webrtc: {udp_port: %d, listen_ip: 127.0.0.1, max_viewers: 200}
`, filepath.Join(work, "data"), mqttPort, httpPort, token, cam.Addr(), udpPort)
	cfgPath := filepath.Join(work, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	gw, err := testenv.StartGateway(bin, cfgPath, api, token)
	if err != nil {
		return err
	}
	defer gw.Stop()
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	dial := func() (*whep.Viewer, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return whep.Dial(ctx, api, "cam", auth)
	}
	firstFrame := func(warm bool) (time.Duration, error) {
		v, err := dial()
		if err != nil {
			return 0, err
		}
		defer v.Close(true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.WaitFrames(ctx, 1); err != nil {
			return 0, err
		}
		s := v.Stats()
		if warm && s.FirstFrame > 300*time.Millisecond {
			fmt.Fprintf(os.Stderr, "slow warm join: first frame %v, answer %v, connected %v, keyframe requests %d, frames %d\n", s.FirstFrame, s.Answered, s.Connected, s.PLIs, s.Frames)
		}
		if !s.FirstIDRok {
			return 0, fmt.Errorf("first frame is not an IDR with SPS/PPS")
		}
		return s.FirstFrame, nil
	}

	// cold: the camera is closed before each join (idle_grace 0)
	var cold, warm []time.Duration
	for i := 0; i < joins; i++ {
		if err := waitIdle(gw); err != nil {
			return err
		}
		d, err := firstFrame(false)
		if err != nil {
			return fmt.Errorf("cold join %d: %w", i, err)
		}
		cold = append(cold, d)
	}
	// warm: one viewer keeps the camera open; joins land at random points of the GOP
	anchor, err := dial()
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	for i := 0; i < joins; i++ {
		time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second))))
		d, err := firstFrame(true)
		if err != nil {
			return fmt.Errorf("warm join %d: %w", i, err)
		}
		warm = append(warm, d)
	}
	anchor.Close(true)

	type load struct {
		viewers                int
		cores, rssMiB          float64
		expected               int
		minFrames, framesLost  int
		packetsLost, keptUp    int
		firstFrameP95, avgSecs time.Duration
	}
	var loads []load
	for _, n := range counts {
		if err := waitIdle(gw); err != nil {
			return err
		}
		vs := make([]*whep.Viewer, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var derr error
		for i := range vs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := dial()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					derr = err
					return
				}
				vs[i] = v
			}()
		}
		wg.Wait()
		if derr != nil {
			return fmt.Errorf("%d viewers: %w", n, derr)
		}
		time.Sleep(3 * time.Second) // everyone connected and past the catch-up GOP
		before := make([]whep.Stats, n)
		for i, v := range vs {
			before[i] = v.Stats()
		}
		cpu0, t0 := testenv.CPUSeconds(gw.Pid()), time.Now()
		time.Sleep(measure)
		cpu1, el := testenv.CPUSeconds(gw.Pid()), time.Since(t0)
		l := load{viewers: n, cores: (cpu1 - cpu0) / el.Seconds(), rssMiB: rssMiB(gw.Pid()), expected: int(el.Seconds() * float64(fps)), minFrames: 1 << 30}
		var ffs []time.Duration
		for i, v := range vs {
			s := v.Stats()
			got := s.Frames - before[i].Frames
			l.minFrames = min(l.minFrames, got)
			l.packetsLost += s.Lost - before[i].Lost
			if lost := l.expected - got; lost > 1 { // ±1 for the window's edges
				l.framesLost += lost
			} else {
				l.keptUp++
			}
			ffs = append(ffs, s.FirstFrame)
		}
		l.firstFrameP95 = pct(ffs, 95)
		for _, v := range vs {
			v.Close(true)
		}
		loads = append(loads, l)
	}

	fmt.Printf("machine: %s\n", testenv.Machine())
	fmt.Printf("source: simulated camera %dx%d %d fps, GOP %d (%.1f s), %s, PCMA audio; gateway relays over WebRTC on loopback to pion viewers\n\n",
		w, h, fps, gop, float64(gop)/float64(fps), bitrate)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "time to first frame\tjoins\tp50\tp95\tmax\t\n")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{{"cold (camera closed)", cold}, {"warm (camera running)", warm}} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", r.name, len(r.d), ms(pct(r.d, 50)), ms(pct(r.d, 95)), ms(pct(r.d, 100)))
	}
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "viewers\tgateway cores\tgateway RSS MiB\tframes expected each\tmin received\tviewers kept up\tframes lost\tRTP packets lost\tjoin→first frame p95\t\n")
	for _, l := range loads {
		fmt.Fprintf(tw, "%d\t%.3f\t%.1f\t%d\t%d\t%d/%d\t%d\t%d\t%s\t\n", l.viewers, l.cores, l.rssMiB, l.expected, l.minFrames, l.keptUp, l.viewers, l.framesLost, l.packetsLost, ms(l.firstFrameP95))
	}
	tw.Flush()
	return nil
}

// waitIdle waits until the gateway has closed the camera.
func waitIdle(gw *testenv.Gateway) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := gw.Do("GET", "/api/v1/cameras/cam", "")
		if err == nil {
			var b [512]byte
			n, _ := resp.Body.Read(b[:])
			resp.Body.Close()
			if strings.Contains(string(b[:n]), `"state":"idle"`) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the camera was not closed within 10 s")
}

// rssMiB is a process's current resident memory.
func rssMiB(pid int) float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
