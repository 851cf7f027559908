package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/community-edge/edge/cloud/api"
)

// TestUIInBrowser drives the grid centre UI in headless Chromium: log in, find the overdue
// case highlighted in the list, open it, register it with the role's button, see the timeline,
// and switch to English. UI_SCREENSHOT_DIR keeps screenshots.
func TestUIInBrowser(t *testing.T) {
	e := newEnv(t, "sqlite")
	if _, err := e.client("gw-a").SendAlert(context.Background(), alert("ui-1", "sos")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client("gw-a").SendAlert(context.Background(), alert("ui-2", "smoke")); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Minute) // the urgent cases are now past their register deadline

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("UI_SCREENSHOT_DIR")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return s
	}
	do("log in",
		chromedp.Navigate(e.http.URL+"/"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "disp"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Click(`#login-btn`),
		chromedp.WaitVisible(`#cases tbody tr.overdue`))
	listText := text(`#cases`)
	overdueRows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#cases tbody tr.overdue').length`))
	if err != nil {
		t.Fatal(err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(`#cases tbody tr:last-child`, "class"))
	if err != nil {
		t.Fatal(err)
	}
	rowClass := attr.Value
	shot("cases")
	do("open the case", chromedp.Click(`#cases tbody tr:last-child`), chromedp.WaitVisible(`button[data-action=register]`))
	shot("case-reported")
	do("register", chromedp.Click(`button[data-action=register]`), chromedp.WaitVisible(`button[data-action=dispatch]`))
	timeline := text(`ol.timeline`)
	detail := text(`main`)
	for _, want := range []string{"王奶奶", "13800000000", "糖尿病", "3号楼2单元501", "突发事件 / 老人求助"} {
		if !strings.Contains(detail, want) {
			t.Errorf("case detail lacks %q:\n%s", want, detail)
		}
	}
	if strings.Contains(detail, "[object") {
		t.Errorf("case detail renders objects as text:\n%s", detail)
	}
	shot("case-registered")
	do("switch to English", chromedp.Click(`#lang`), chromedp.WaitVisible(`button[data-action=dispatch]`))
	header := text(`header nav`)
	shot("case-english")
	for _, want := range []string{"老人求助", "消防隐患", "已上报", "超期", "110105001002003"} {
		if !strings.Contains(listText, want) {
			t.Errorf("case list lacks %q:\n%s", want, listText)
		}
	}
	if overdueRows != 2 || !strings.Contains(rowClass, "overdue") {
		t.Errorf("overdue highlighting: %d rows, class %q", overdueRows, rowClass)
	}
	if !strings.Contains(timeline, "上报") || !strings.Contains(timeline, "立案") || !strings.Contains(timeline, "超时") {
		t.Errorf("timeline:\n%s", timeline)
	}
	if !strings.Contains(header, "Cases") || !strings.Contains(header, "Gateways") {
		t.Errorf("English header: %q", header)
	}
	c, err := e.client("gw-a").CaseByAlarm(context.Background(), "ui-1")
	if err != nil || c.State != api.Registered {
		t.Fatalf("case after the click: %s %v", c.State, err)
	}
}
