package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/community-edge/edge/drivers/onvif"
	"github.com/community-edge/edge/gateway/internal/httpapi"
)

const cameraUsage = `Usage:
  gateway camera probe [-user NAME] [-timeout 10s] URL
  gateway camera discover [-interface NAME] [-timeout 2s] [-unicast HOST,...]

discover sends an ONVIF WS-Discovery probe to 239.255.255.250:3702 on the interface (default:
every interface that is up and multicast-capable) and lists every camera that answers, with
its address, name, hardware and a starting RTSP URL. Exit status 1 when none answers.


Connects to the camera (credentials in the URL, or -user with the password in
GATEWAY_CAMERA_PASSWORD) and prints codec, profile, resolution, frame rate, GOP length and
audio, or why it cannot be played: unreachable, unauthorized (401), not_found (404),
no_playable_track (e.g. H.265 only) or timeout. Exit status 1 when it cannot be played.
`

// cmdCamera is the installer's camera tool.
func cmdCamera(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "discover" {
		return cmdCameraDiscover(args[1:], onvif.DefaultGroup, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "probe" {
		fmt.Fprint(stderr, cameraUsage)
		return 2
	}
	fs := flag.NewFlagSet("camera probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "username (the password comes from GATEWAY_CAMERA_PASSWORD)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fmt.Fprint(stderr, cameraUsage)
		return 2
	}
	rep := httpapi.Probe(context.Background(), fs.Arg(0), *user, os.Getenv("GATEWAY_CAMERA_PASSWORD"), *timeout)
	if !rep.OK {
		fmt.Fprintf(stdout, "cannot play: %s\n  %s\n", rep.Reason, rep.Error)
		if rep.Summary != "" && rep.Codec != "" {
			fmt.Fprintf(stdout, "  tracks: %s\n", rep.Summary)
		}
		return 1
	}
	audio := "none"
	if rep.Audio != "" {
		audio = rep.Audio
		if !rep.AudioOK {
			audio += " (not playable in WebRTC)"
		}
	}
	fmt.Fprintf(stdout, "codec       %s\nprofile     %s\nresolution  %dx%d\nframe rate  %.2f fps\nGOP         %d frames (%.1f s)\naudio       %s\nprobed in   %d ms\n",
		rep.Codec, rep.Profile, rep.Width, rep.Height, rep.FrameRate, rep.GOP, float64(rep.GOP)/max(rep.FrameRate, 1), audio, rep.DurationMS)
	return 0
}

// cmdCameraDiscover lists the ONVIF cameras that answer a WS-Discovery probe sent to group.
func cmdCameraDiscover(args []string, group string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("camera discover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	iface := fs.String("interface", "", "network interface to probe on (default: every multicast-capable one)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for answers")
	unicast := fs.String("unicast", "", "comma-separated hosts to probe directly too (cameras on another subnet)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, cameraUsage)
		return 2
	}
	cfg := onvif.Config{Group: group, Timeout: *timeout}
	if *iface != "" {
		cfg.Interfaces = []string{*iface}
	}
	if *unicast != "" {
		cfg.Unicast = strings.Split(*unicast, ",")
	}
	res, err := onvif.Discover(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if len(res.Devices) > 0 {
		fmt.Fprintln(tw, "ADDRESS\tNAME\tHARDWARE\tLOCATION\tRTSP URL (to start from)\tDEVICE SERVICE")
	}
	for _, d := range res.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Address, dash(d.Name), dash(d.Hardware), dash(strings.Join(d.Location, ", ")),
			onvif.SuggestRTSP(d), dash(strings.Join(d.XAddrs, " ")))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d camera(s) answered on %s in %d ms", len(res.Devices), strings.Join(res.Interfaces, ", "), res.DurationMS)
	if n := res.Ignored + res.Unrelated; n > 0 {
		fmt.Fprintf(stdout, "; %d other datagram(s) ignored", n)
	}
	fmt.Fprintln(stdout)
	if len(res.Devices) == 0 {
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
