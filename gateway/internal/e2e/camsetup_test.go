package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	simonvif "github.com/community-edge/edge/firmware-sim/onvif"
	"github.com/community-edge/edge/gateway/internal/video/whep"
)

// TestConsoleInstallerAddsCamera is the installer adding a camera to a site that has none
// configured: search the LAN from the camera page (a simulated ONVIF camera answers on
// loopback, at the standard 239.255.255.250:3702), take it into the form, test it with a wrong
// password (refused, in words) and the right one (codec and size shown), save it; it plays
// over WebRTC at once (the WebRTC port opens with the first camera), its password is in no
// API response nor log line, and after a restart it is still there and still plays.
func TestConsoleInstallerAddsCamera(t *testing.T) {
	cam := startCamera(t, 320, 240)
	onvif, err := simonvif.Start(simonvif.Config{Interfaces: []string{"lo"}, XAddr: "http://127.0.0.1/onvif/device_service",
		Name: "东门摄像机", Hardware: "camsim-h264", Location: "3号楼"})
	if err != nil {
		t.Fatal(err)
	}
	defer onvif.Stop()
	gw := newGateway(t, &brokerEnv{mode: "embedded"}, nil, fmt.Sprintf("video:\n  webrtc: {udp_port: %d, listen_ip: 127.0.0.1}\n", freePort(t)))
	gw.finishSetup()
	gw.addUser("qiangong", "installer", "installer-pass-1")
	b := newBrowser(t, "http://"+gw.http)
	b.do(15*time.Second, "login page", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "qiangong"), chromedp.SendKeys(chromedp.CSS("#login-password"), "installer-pass-1"),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitJS(10*time.Second, "logged in, the camera page in the menu", `location.hash === "#/provision" && !document.querySelector('a[data-nav="camsetup"]').hidden`)
	b.do(10*time.Second, "camera page", chromedp.Click(chromedp.CSS(`a[data-nav="camsetup"]`)), chromedp.WaitVisible(chromedp.CSS("#discover-btn")))
	b.waitJS(5*time.Second, "no cameras yet", `document.querySelector("#cam-list li.muted") !== null`)

	// search: the camera is listed within about 2 s
	start := time.Now()
	b.do(5*time.Second, "search", chromedp.SetValue(chromedp.CSS("#c-iface"), "lo"), chromedp.Click(chromedp.CSS("#discover-btn")))
	b.waitJS(4*time.Second, "the camera listed", `document.querySelector('#discover-table tr[data-address="127.0.0.1"]')?.innerText.includes("东门摄像机")`)
	if d := time.Since(start); d > 3500*time.Millisecond {
		t.Errorf("search took %s", d)
	}
	b.do(5*time.Second, "take it", chromedp.Click(chromedp.CSS("#discover-table button.take")))
	if got := js[string](b, `document.getElementById("c-url").value + " " + document.getElementById("c-id").value + " " + document.getElementById("c-name").value`); got != "rtsp://127.0.0.1:554/ cam-127-0-0-1 东门摄像机" {
		t.Errorf("form after taking the camera: %q", got)
	}

	// the installer corrects the URL (the simulated camera is not on 554) and tests a wrong password
	url := "rtsp://" + cam.addr + "/main"
	b.do(5*time.Second, "wrong password", chromedp.SetValue(chromedp.CSS("#c-url"), url), chromedp.SetValue(chromedp.CSS("#c-building"), "3"),
		chromedp.SetValue(chromedp.CSS("#c-user"), camUser), chromedp.SetValue(chromedp.CSS("#c-pass"), "not-the-password"),
		chromedp.Click(chromedp.CSS("#test-btn")))
	b.waitJS(10*time.Second, "refused in words", `document.querySelector('#probe-result[data-ok="false"]')?.innerText.includes("拒绝了用户名或密码")`)
	if js[bool](b, `document.getElementById("save-btn").disabled`) != true {
		t.Error("save is offered after a failed test")
	}
	b.do(5*time.Second, "right password", chromedp.SetValue(chromedp.CSS("#c-pass"), camPass), chromedp.Click(chromedp.CSS("#test-btn")))
	b.waitJS(10*time.Second, "the probe result", `document.querySelector('#probe-result[data-ok="true"]')?.innerText.includes("H264 320×240")`)
	b.do(5*time.Second, "save", chromedp.Click(chromedp.CSS("#save-btn")))
	b.waitJS(15*time.Second, "saved and listed", `document.querySelector("#save-result") && document.querySelector('#cam-list li[data-camera="cam-127-0-0-1"][data-origin="runtime"]')`)

	watch := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		v, err := whep.Dial(ctx, "http://"+gw.http, "cam-127-0-0-1", bearer)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer v.Close(true)
		if err := v.WaitFrames(ctx, 25); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	watch("watching the added camera")
	noSecrets := func() {
		t.Helper()
		for _, p := range []string{"/api/v1/cameras", "/api/v1/cameras/cam-127-0-0-1", "/api/v1/audit?target=cam-127-0-0-1"} {
			req, _ := http.NewRequest("GET", "http://"+gw.http+p, nil)
			bearer(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || strings.Contains(string(body), camPass) {
				t.Errorf("GET %s: %d, shows the password: %v", p, resp.StatusCode, strings.Contains(string(body), camPass))
			}
			if strings.HasPrefix(p, "/api/v1/audit") && !strings.Contains(string(body), `"actor":"qiangong","action":"camera.add"`) {
				t.Errorf("audit: %s", body)
			}
		}
		if strings.Contains(gw.log.String(), camPass) {
			t.Error("the gateway logged the camera's password")
		}
	}
	noSecrets()

	// a restart: the camera comes back from the database and plays
	gw.stop(syscall.SIGTERM)
	gw.start()
	if c := gw.camera("cam-127-0-0-1"); c.Building != "3" {
		t.Errorf("after a restart: %+v", c)
	}
	watch("watching it after a restart")
	noSecrets()
}
