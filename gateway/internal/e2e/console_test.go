package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The duty console in a real browser: Debian's headless Chromium, driven over the DevTools
// protocol, against the real gateway binary and devices on real MQTT connections.

const chromium = "/usr/bin/chromium"

// finishSetup gives the site its admin, as the first-run setup (or `gateway user add`) does on
// every real site, so the console shows its login rather than the setup page.
func (g *gateway) finishSetup() { g.addUser("admin", "admin", "admin-password-1") }

// addUser adds a console user with the gateway's own command.
func (g *gateway) addUser(name, role, password string) {
	g.t.Helper()
	cmd := exec.Command(gatewayBin, "user", "add", name, "-role", role, "-password-stdin", "-config", g.cfgPath)
	cmd.Env = append(os.Environ(), "E2E_BROKER_PASSWORD="+gwPassword)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("gateway user add %s: %v\n%s", name, err, out)
	}
}

// browser is one headless Chromium with a fresh profile, and its first tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(ctx); err != nil {
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, base: base}
}

// run runs an action with a deadline and returns its value; a failure ends the test with
// what the page shows.
func run[T any](b *browser, d time.Duration, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("view")?.innerText ?? ""`))
		b.t.Fatalf("%s: %v\npage shows:\n%s", what, err, page)
	}
	return v
}

// do runs steps in order with a deadline.
func (b *browser) do(d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	run(b, d, what, chromedp.Steps(steps...))
}

// js evaluates an expression.
func js[T any](b *browser, expr string) T {
	b.t.Helper()
	return run(b, 5*time.Second, "evaluating "+expr, chromedp.Evaluate[T](expr))
}

// waitJS waits until expr is true (polled every 10 ms). An exception while the page
// re-renders counts as false.
func (b *browser) waitJS(d time.Duration, what, expr string) {
	b.t.Helper()
	expr = "(() => { try { return !!(" + expr + ") } catch { return false } })()"
	run(b, d+time.Second, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(d)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, 5*time.Second, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// login logs in through the login page, as a person does: type, click.
func (b *browser) login(user, password string) {
	b.t.Helper()
	b.do(15*time.Second, "login page", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), user), chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitJS(10*time.Second, "queue page, live", `location.hash === "#/queue" && !!document.querySelector("#queue") && document.querySelector("#link-state.up") !== null`)
}

// screenshot saves the page as PNG (quality 100 is PNG) under dir and returns the file's path.
func (b *browser) screenshot(dir, name string) string {
	b.t.Helper()
	png := run(b, 10*time.Second, "screenshot", chromedp.FullScreenshot(100))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// screenshotDir is where screenshots go: E2E_SCREENSHOTS if set (to look at them), else the
// test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("E2E_SCREENSHOTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

const queueCard = `document.querySelector('#queue li.alarm-card[data-state="raised"]')`

// TestConsoleDutyHandlesSOS is a duty shift's core path: log in; an SOS arrives within a
// second, with who and where, sounding and flashing; open it (resident card, medical notes,
// contacts, device, timeline); acknowledge (the siren stops); resolve with an outcome; find it
// in the history with that outcome.
func TestConsoleDutyHandlesSOS(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	gw.addUser("wangfang", "duty", "duty-password-1")
	cb := mustConnect(t, env.addr, fleet()[0], true)
	cb.publish("telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":76,"rssi_dbm":-68}}`, false)

	gw.finishSetup()
	b := newBrowser(t, "http://"+gw.http)
	b.login("wangfang", "duty-password-1")
	who := js[string](b, `document.getElementById("who").textContent`)
	if !strings.Contains(who, "wangfang") || !strings.Contains(who, "值班人员") {
		t.Errorf("header shows %q, want the user and the role in Chinese", who)
	}
	empty := js[bool](b, `!document.getElementById("queue-empty").hidden`)
	if !empty {
		t.Fatal("the queue does not say it is empty before any alarm")
	}

	start := time.Now()
	cb.publish("event", sosPayload("console-sos-1"), false)
	b.waitJS(5*time.Second, "SOS in the queue", queueCard+` !== null`)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("the SOS reached the queue after %s, want within 1 s", el)
	} else {
		t.Logf("SOS published → shown in the queue: %s", el.Round(time.Millisecond))
	}
	card := b.text(`#queue li.alarm-card`)
	for _, want := range []string{"紧急", "张秀英", "82 岁", "3 号楼 2 单元 401 室", "13800000001", "待确认"} {
		if !strings.Contains(card, want) {
			t.Errorf("queue card lacks %q:\n%s", want, card)
		}
	}
	b.waitJS(2*time.Second, "siren on", `document.body.dataset.alarmSound === "on"`)
	audio := js[string](b, `document.body.dataset.audioState`)
	sound := js[string](b, `document.body.dataset.alarmSound`)
	flashing := js[bool](b, queueCard+`.classList.contains("flash")`)
	if sound != "on" || audio != "running" || !flashing {
		t.Fatalf("new critical alarm: sound %q, AudioContext %q, flashing %v; want on, running, true", sound, audio, flashing)
	}
	shot := b.screenshot(screenshotDir(t), "queue-sos.png")
	t.Logf("queue screenshot: %s", shot)

	// the alarm's page
	b.do(10*time.Second, "open the alarm", chromedp.Click(chromedp.CSS(`#queue li.alarm-card a.button`)),
		chromedp.WaitVisible(chromedp.CSS("#resident")), chromedp.WaitVisible(chromedp.CSS("#timeline li")))
	resident := b.text("#resident")
	for _, want := range []string{"张秀英", "82 岁", "3 号楼 2 单元 401 室", "13800000001", "高血压，心脏支架", "张伟", "儿子", "13900000002"} {
		if !strings.Contains(resident, want) {
			t.Errorf("resident card lacks %q:\n%s", want, resident)
		}
	}
	tels := js[[]string](b, `[...document.querySelectorAll("#resident a[href^='tel:']")].map(a => a.getAttribute("href"))`)
	if strings.Join(tels, ",") != "tel:13800000001,tel:13900000002" {
		t.Errorf("tel: links %v, want the resident's and the contact's", tels)
	}
	dev := b.text("#device")
	for _, want := range []string{"在线", "76%", "-68 dBm"} {
		if !strings.Contains(dev, want) {
			t.Errorf("device card lacks %q:\n%s", want, dev)
		}
	}
	if tl := b.text("#timeline"); !strings.Contains(tl, "报警") {
		t.Errorf("timeline lacks the raise:\n%s", tl)
	}
	t.Logf("alarm page screenshot: %s", b.screenshot(screenshotDir(t), "alarm-detail.png"))

	// acknowledge: the siren stops, the flashing ends
	b.do(5*time.Second, "acknowledge", chromedp.Click(chromedp.CSS("#ack-btn")))
	b.waitJS(3*time.Second, "acknowledged", `document.getElementById("alarm-state")?.textContent === "处理中"`)
	b.waitJS(2*time.Second, "siren off", `document.body.dataset.alarmSound === "off"`)
	if tl := b.text("#timeline"); !strings.Contains(tl, "已确认") || !strings.Contains(tl, "wangfang") {
		t.Errorf("timeline lacks the acknowledgement by wangfang:\n%s", tl)
	}

	// resolve with an outcome and a note
	b.do(5*time.Second, "resolve", chromedp.SetValue(chromedp.CSS("#outcome"), "visited"),
		chromedp.SendKeys(chromedp.CSS("#note"), "已上门，老人无大碍"), chromedp.Click(chromedp.CSS("#resolve-btn")))
	b.waitJS(5*time.Second, "back to an empty queue", `location.hash === "#/queue" && !document.getElementById("queue-empty").hidden`)

	// the history shows it with its outcome
	b.do(5*time.Second, "history", chromedp.Click(chromedp.CSS(`a[data-nav="history"]`)), chromedp.WaitVisible(chromedp.CSS("#history-table")))
	row := b.text("#history-table tbody tr")
	for _, want := range []string{"紧急呼叫", "张秀英", "已处理", "已上门", "已上门，老人无大碍", "wangfang"} {
		if !strings.Contains(row, want) {
			t.Errorf("history row lacks %q:\n%s", want, row)
		}
	}
	as := gw.alarms("state=all&device=cb-0001")
	if len(as) != 1 || as[0].State != "resolved" || as[0].Outcome != "visited" {
		t.Fatalf("the API shows %+v, want one SOS resolved as visited", as)
	}

	// English is one click away, and remembered
	b.do(5*time.Second, "English", chromedp.Click(chromedp.CSS("#lang-btn")))
	b.waitJS(5*time.Second, "history in English", `localStorage.getItem("console.lang") === "en" && document.documentElement.lang === "en" &&
		!!document.querySelector("#history-table tbody tr")?.innerText.includes("visited on site")`)
}

// TestConsoleSecurityNoMedicalNotes: security staff see an alarm and the resident's name and
// address, but not the medical notes or the emergency contacts, and cannot act on it.
func TestConsoleSecurityNoMedicalNotes(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	gw.addUser("liqiang", "security", "guard-password-1")
	cb := mustConnect(t, env.addr, fleet()[0], true)

	gw.finishSetup()
	b := newBrowser(t, "http://"+gw.http)
	b.login("liqiang", "guard-password-1")
	cb.publish("event", sosPayload("console-sos-guard"), false)
	b.waitJS(5*time.Second, "SOS in the queue", queueCard+` !== null`)
	ackButtons := js[int](b, `document.querySelectorAll('#queue [data-action="ack"]').length`)
	if ackButtons != 0 {
		t.Errorf("security staff are offered %d acknowledge buttons", ackButtons)
	}
	b.do(10*time.Second, "open the alarm", chromedp.Click(chromedp.CSS(`#queue li.alarm-card a.button`)),
		chromedp.WaitVisible(chromedp.CSS("#resident")), chromedp.WaitVisible(chromedp.CSS("#timeline li")))
	resident := b.text("#resident")
	if !strings.Contains(resident, "张秀英") || !strings.Contains(resident, "401") {
		t.Errorf("security staff should see who and where:\n%s", resident)
	}
	page := js[string](b, `document.body.innerText`)
	for _, secret := range []string{"高血压", "心脏支架", "张伟", "13900000002"} {
		if strings.Contains(page, secret) {
			t.Errorf("security staff's alarm page shows %q", secret)
		}
	}
	present := js[bool](b, `!!(document.getElementById("medical-notes") || document.getElementById("contacts") || document.getElementById("actions"))`)
	if present {
		t.Error("security staff's alarm page has a medical notes, contacts or actions section")
	}
}

// TestConsoleCatchesUpAfterReconnect: the gateway restarts while the console is open and an
// alarm arrives meanwhile; the console reconnects by itself and shows both alarms, once each.
func TestConsoleCatchesUpAfterReconnect(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	gw.addUser("wangfang", "duty", "duty-password-1")
	cb := mustConnect(t, env.addr, fleet()[0], true)
	lk := mustConnect(t, env.addr, fleet()[2], true)

	gw.finishSetup()
	b := newBrowser(t, "http://"+gw.http)
	b.login("wangfang", "duty-password-1")
	cb.publish("event", sosPayload("before-restart"), false)
	b.waitJS(5*time.Second, "first SOS", queueCard+` !== null`)

	gw.stop(syscall.SIGTERM)
	b.waitJS(10*time.Second, "link shown as down", `document.querySelector("#link-state.down") !== null`)
	gw.start()
	lk.publish("event", `{"id":"tamper-1","ts":`+now()+`,"type":"tamper","data":{}}`, false)
	cb.publish("event", `{"id":"fall-1","ts":`+now()+`,"type":"fall","data":{}}`, false)
	b.waitJS(20*time.Second, "reconnected with three alarms", `document.querySelector("#link-state.up") !== null && document.querySelectorAll("#queue li.alarm-card").length === 3`)
	time.Sleep(500 * time.Millisecond) // anything duplicated would show by now
	ids := js[[]string](b, `[...document.querySelectorAll("#queue li.alarm-card")].map(li => li.dataset.id)`)
	open := gw.alarms("state=open")
	if len(ids) != len(open) || len(ids) != 3 {
		t.Fatalf("queue shows %v, the API %d open alarms", ids, len(open))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("alarm %s twice in the queue: %v", id, ids)
		}
		seen[id] = true
	}
	for _, a := range open {
		if !seen[a.ID] {
			t.Fatalf("open alarm %s (%s) missing from the queue %v", a.ID, a.Type, ids)
		}
	}
	// most severe first: the two critical ones (SOS, fall), then the tamper
	sev := js[[]string](b, `[...document.querySelectorAll("#queue li.alarm-card .sev")].map(e => e.textContent)`)
	if fmt.Sprint(sev) != "[紧急 紧急 "+sev[2]+"]" || sev[2] == "紧急" {
		t.Fatalf("queue order by severity: %v", sev)
	}
}
