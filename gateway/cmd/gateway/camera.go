package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/community-edge/edge/gateway/internal/httpapi"
)

const cameraUsage = `Usage:
  gateway camera probe [-user NAME] [-timeout 10s] URL

Connects to the camera (credentials in the URL, or -user with the password in
GATEWAY_CAMERA_PASSWORD) and prints codec, profile, resolution, frame rate, GOP length and
audio, or why it cannot be played: unreachable, unauthorized (401), not_found (404),
no_playable_track (e.g. H.265 only) or timeout. Exit status 1 when it cannot be played.
`

// cmdCamera is the installer's camera tool.
func cmdCamera(args []string, stdout, stderr io.Writer) int {
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
