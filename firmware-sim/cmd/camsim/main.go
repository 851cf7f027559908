// Command camsim is a simulated IP camera: it serves a looping H.264 clip (with
// optional A-law audio) over RTSP on /main and /sub, with Digest authentication.
// Without -clip it generates test clips with ffmpeg at start. With -onvif it also answers
// ONVIF WS-Discovery probes, as a real camera does, so `gateway camera discover` finds it.
//
//	camsim -listen :8554 -user admin -pass secret -gop 50
//	camsim -listen 127.0.0.1:8554 -pass secret -onvif -onvif-interface lo
//	ffplay -rtsp_transport tcp rtsp://admin:secret@127.0.0.1:8554/main
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/community-edge/edge/firmware-sim/camera"
	"github.com/community-edge/edge/firmware-sim/onvif"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "camsim:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		listen  = flag.String("listen", "127.0.0.1:8554", "RTSP listen address")
		user    = flag.String("user", "admin", "username (empty: no authentication)")
		pass    = flag.String("pass", "", "password (or CAMSIM_PASSWORD)")
		auth    = flag.String("auth", "digest", "authentication: digest or basic")
		clip    = flag.String("clip", "", "Annex-B H.264 clip for /main (default: generate with ffmpeg)")
		audio   = flag.String("audio", "", "raw 8 kHz A-law audio for -clip")
		fps     = flag.Int("fps", 25, "frame rate")
		gop     = flag.Int("gop", 50, "keyframe interval in frames for generated clips")
		secs    = flag.Float64("seconds", 10, "length of generated clips")
		noAudio = flag.Bool("no-audio", false, "generate clips without audio")
		timeout = flag.Duration("session-timeout", 60*time.Second, "RTSP session timeout")
		disc    = flag.Bool("onvif", false, "answer ONVIF WS-Discovery probes (239.255.255.250:3702)")
		discIf  = flag.String("onvif-interface", "", "interface to answer probes on (default: every multicast-capable one)")
		discNm  = flag.String("onvif-name", "camsim", "camera name announced in the discovery scopes")
		discHw  = flag.String("onvif-hardware", "camsim-h264", "hardware model announced")
		discLoc = flag.String("onvif-location", "", "location announced")
	)
	flag.Parse()
	if *pass == "" {
		*pass = os.Getenv("CAMSIM_PASSWORD")
	}
	if *user != "" && *pass == "" {
		return fmt.Errorf("a password is required with -user (flag -pass or CAMSIM_PASSWORD)")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	streams := map[string]*camera.Clip{}
	if *clip != "" {
		c, err := camera.LoadClip(*clip, *audio, *fps)
		if err != nil {
			return err
		}
		streams["/main"] = c
	} else {
		dir, err := os.MkdirTemp("", "camsim")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		for path, size := range map[string][2]int{"/main": {1280, 720}, "/sub": {640, 360}} {
			v, a, err := camera.GenerateClip(ctx, dir, camera.ClipSpec{Width: size[0], Height: size[1], FPS: *fps, GOP: *gop, Seconds: *secs, Audio: !*noAudio})
			if err != nil {
				return err
			}
			if streams[path], err = camera.LoadClip(v, a, *fps); err != nil {
				return err
			}
		}
	}
	cfg := camera.Config{Streams: streams, Username: *user, Password: *pass, Auth: *auth, SessionTimeout: *timeout, Logger: log}
	inst, err := camera.Start(cfg, *listen)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(streams))
	for p := range streams {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	log.Info("camsim serving", "addr", inst.Addr(), "paths", paths)
	if *disc {
		host, _, _ := net.SplitHostPort(inst.Addr())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		cfg := onvif.Config{XAddr: "http://" + net.JoinHostPort(host, "80") + "/onvif/device_service", Name: *discNm, Hardware: *discHw,
			Location: *discLoc, Logger: log}
		if *discIf != "" {
			cfg.Interfaces = []string{*discIf}
		}
		r, err := onvif.Start(cfg)
		if err != nil {
			inst.Stop()
			return err
		}
		defer r.Stop()
		log.Info("camsim answering ONVIF discovery", "endpoint", r.Endpoint(), "interface", *discIf)
	}
	<-ctx.Done()
	return inst.Stop()
}
