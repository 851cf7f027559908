package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/community-edge/edge/gateway/internal/testenv"
)

// scanPNG reads the QR code in a picture of the screen.
func scanPNG(t *testing.T, pic []byte) string {
	t.Helper()
	text, err := testenv.ScanQR(pic)
	if err != nil {
		t.Fatalf("scanning the QR code on the page: %v", err)
	}
	return text
}

// TestConsoleInstallerProvisionsCallButton is the installer's visit: log in; a CSV with a
// mistake is refused with the line and column; add a call button with its resident by the
// form; scan the QR code off the screen; start the device with the scanned settings and see it
// go from waiting to connected to its first message on the page; remove it: its session is
// dropped and its login refused, and the audit log names the installer.
func TestConsoleInstallerProvisionsCallButton(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	gw.finishSetup()
	gw.addUser("qiangong", "installer", "installer-pass-1")
	b := newBrowser(t, "http://"+gw.http)
	b.do(15*time.Second, "login page", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "qiangong"), chromedp.SendKeys(chromedp.CSS("#login-password"), "installer-pass-1"),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitJS(10*time.Second, "the installer lands on the provisioning page, live",
		`location.hash === "#/provision" && document.querySelector("#prov-live.up") !== null && !document.querySelector('a[data-nav="provision"]').hidden`)

	// a CSV with a mistake: refused, with where
	b.do(5*time.Second, "import a bad CSV", chromedp.SetValue(chromedp.CSS("#csv-text"), "family,id,heartbeat_interval\nlocker,lk-new-1,5m\ntoaster,x-1,often\n"),
		chromedp.Click(chromedp.CSS("#import-submit")))
	b.waitJS(5*time.Second, "problems listed", `document.querySelectorAll("#import-problems tbody tr").length === 2`)
	if got := b.text("#import-problems tbody"); !strings.Contains(got, "3\tfamily") || !strings.Contains(got, "3\theartbeat_interval") {
		t.Errorf("import problems on the page:\n%s", got)
	}
	var listed struct {
		Devices []deviceJSON `json:"devices"`
	}
	gw.get("/api/v1/devices", &listed)
	if len(listed.Devices) != len(fleet()) {
		t.Fatalf("a refused import added devices: %d", len(listed.Devices))
	}

	// one call button by the form
	sel := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	b.do(10*time.Second, "fill the form", chromedp.SetValue(sel("#p-family"), "callbutton"),
		chromedp.SendKeys(sel("#p-id"), "cb-new-7"), chromedp.SendKeys(sel("#p-name"), "7 号楼呼叫器"),
		chromedp.SendKeys(sel("#p-building"), "7"), chromedp.SendKeys(sel("#p-unit"), "1"), chromedp.SendKeys(sel("#p-room"), "302"),
		chromedp.SendKeys(sel("#p-grid"), "110105001002003"), chromedp.SetValue(sel("#p-heartbeat"), "30s"),
		chromedp.SendKeys(sel("#p-res-name"), "钱桂芳"), chromedp.SendKeys(sel("#p-res-age"), "85"),
		chromedp.SendKeys(sel("#p-res-phone"), "13800000077"), chromedp.SendKeys(sel("#p-res-notes"), "糖尿病"),
		chromedp.SendKeys(sel("#p-contacts .c-name"), "钱军"), chromedp.SendKeys(sel("#p-contacts .c-relation"), "儿子"),
		chromedp.SendKeys(sel("#p-contacts .c-phone"), "13900000077"),
		chromedp.Click(sel("#add-submit")))
	const card = `#new-devices li[data-id="cb-new-7"]`
	b.waitJS(5*time.Second, "the new device's card with its QR code",
		`document.querySelector('`+card+` img.qr')?.complete && document.querySelector('`+card+`').dataset.step === "waiting"`)

	// scan the QR code off the screen
	pic := run(b, 10*time.Second, "QR code screenshot", chromedp.Screenshot(sel(card+" img.qr")))
	t.Logf("QR code on screen: %d bytes of PNG", len(pic))
	os.WriteFile(filepath.Join(screenshotDir(t), "provision-qr.png"), pic, 0o644)
	var conn struct {
		V        int    `json:"v"`
		Host     string `json:"host"`
		Port     int    `json:"port"`
		Site     string `json:"site"`
		Family   string `json:"family"`
		ID       string `json:"id"`
		Password string `json:"password"`
		Prefix   string `json:"prefix"`
	}
	scanned := scanPNG(t, pic)
	if err := json.Unmarshal([]byte(scanned), &conn); err != nil {
		t.Fatalf("QR code holds %q: %v", scanned, err)
	}
	_, brokerPort, _ := net.SplitHostPort(env.addr)
	if conn.V != 1 || conn.Host != "127.0.0.1" || strconv.Itoa(conn.Port) != brokerPort || conn.Site != site ||
		conn.Family != "callbutton" || conn.ID != "cb-new-7" || conn.Prefix != "community/e2e/callbutton/cb-new-7" || len(conn.Password) < 20 {
		t.Fatalf("scanned settings %+v; broker at %s", conn, env.addr)
	}
	if shown := b.text(card + " .password"); shown != conn.Password {
		t.Fatalf("the page shows password %q, the QR code holds %q", shown, conn.Password)
	}
	d := gw.device("cb-new-7")
	if d.Device.Resident == nil || d.Device.Resident.Name != "钱桂芳" || d.Device.Resident.MedicalNotes != "糖尿病" {
		t.Fatalf("stored device: %+v", d.Device)
	}

	// the device, set up from the scan alone
	dv, err := connectDevice(t, net.JoinHostPort(conn.Host, strconv.Itoa(conn.Port)), testDevice{ID: conn.ID, Family: conn.Family}, conn.Password, false)
	if err != nil {
		t.Fatalf("the device cannot log in with the scanned settings: %v", err)
	}
	dv.publishTopic(conn.Prefix+"/status", `{"state":"online","fw":"2.0.1","ts":`+now()+`}`, true)
	b.waitJS(5*time.Second, "connected on the page", `document.querySelector('`+card+`').dataset.step === "online"`)
	dv.publishTopic(conn.Prefix+"/telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":97,"rssi_dbm":-60}}`, false)
	b.waitJS(5*time.Second, "first message on the page", `document.querySelector('`+card+`').dataset.step === "message"`)
	if txt := b.text(card); !strings.Contains(txt, "已收到第一条消息") || !strings.Contains(txt, "设备工作正常") {
		t.Errorf("the card does not say the first message arrived:\n%s", txt)
	}
	t.Logf("provisioning page: %s", b.screenshot(screenshotDir(t), "provision.png"))

	// remove it: confirm, the login is revoked and the session dropped
	b.do(5*time.Second, "remove", chromedp.Click(sel(card+" button.remove")), chromedp.WaitVisible(sel(card+" button.confirm-remove")),
		chromedp.Click(sel(card+" button.confirm-remove")))
	b.waitJS(5*time.Second, "removed on the page", `document.querySelector('`+card+`').dataset.step === "removed" && !document.querySelector('`+card+` img.qr')`)
	eventually(t, 5*time.Second, func() (bool, string) {
		return !dv.client.IsConnectionOpen(), "the removed device is still connected"
	})
	if _, err := connectDevice(t, env.addr, testDevice{ID: conn.ID, Family: conn.Family}, conn.Password, false); err == nil {
		t.Fatal("the removed device logged in again")
	}
	var aud struct {
		Entries []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"entries"`
	}
	gw.get("/api/v1/audit?target=cb-new-7", &aud)
	var got []string
	for _, e := range aud.Entries {
		got = append(got, e.Action+" by "+e.Actor)
	}
	if strings.Join(got, ", ") != "device.remove by qiangong, device.add by qiangong" {
		t.Fatalf("audit log for cb-new-7: %v", got)
	}
}
