// Package doctor checks everything an installer needs before leaving a site — the
// configuration, the data directory and its disk, the clock against the cloud, the broker and
// the gateway's login, InfluxDB and its bucket, the cloud credential, every camera, the WebRTC
// UDP port and the devices that never connected — and says for each what is wrong and how to
// fix it, in Simplified Chinese or English. `gateway doctor` prints the report as a table; the
// running daemon serves the same report at GET /api/v1/doctor for the console's check page.
package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/community-edge/edge/gateway/internal/config"
)

// serviceUser is the system user the packaged gateway runs as.
const serviceUser = "community-gateway"

// Status is a check's outcome.
type Status string

// Outcomes. A skipped check did not apply or could not run because an earlier one failed;
// its detail says why.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's outcome, in the report's language.
type Result struct {
	ID         string `json:"id"`   // config, data_dir, clock, broker, influx, cloud, camera:<id>, webrtc_udp, devices
	Name       string `json:"name"` // shown to people
	Status     Status `json:"status"`
	Detail     string `json:"detail"`
	Fix        string `json:"fix,omitempty"` // for warn and fail: what to do, in the installer's words
	DurationMS int64  `json:"duration_ms"`
}

// Report is every check's result, in a fixed order.
type Report struct {
	Lang    string   `json:"lang"`
	OK      bool     `json:"ok"` // no check failed
	Pass    int      `json:"pass"`
	Warn    int      `json:"warn"`
	Fail    int      `json:"fail"`
	Skip    int      `json:"skip"`
	Results []Result `json:"results"`
}

// Options say what to check and how.
type Options struct {
	ConfigPath string         // shown in the config check's detail and fix
	Config     *config.Config // the loaded configuration; may be partial when ConfigErr is set
	ConfigErr  error          // the loading error; later checks are skipped when set
	Lang       string         // zh (default) or en
	Timeout    time.Duration  // per check; default 8 s (the whole run stays within ~10 s)
	// InDaemon says the checks run inside the gateway: the broker's listen address and the
	// WebRTC port being bound is then the gateway's own doing.
	InDaemon bool
	// NeverConnected lists the registered devices that never sent anything, and how many are
	// registered; nil reads the gateway's database file read-only.
	NeverConnected func(ctx context.Context) (never []string, total int, err error)
	// RuntimeCameras lists the cameras added in the console (kept in the gateway's database,
	// credentials sealed), probed next to the configured ones; nil: only configured cameras.
	RuntimeCameras func(ctx context.Context) ([]config.Camera, error)
	Now            func() time.Time // default time.Now
	Log            *slog.Logger
}

// Doctor runs the checks. Make one with New, then call Run.
type Doctor struct {
	opts Options
	cfg  *config.Config
	cams []camera // to probe: the configured ones, then those added in the console
	en   bool
	now  func() time.Time
	log  *slog.Logger
}

// New returns a Doctor for opts; it does no I/O.
func New(opts Options) *Doctor {
	d := &Doctor{opts: opts, cfg: opts.Config, en: opts.Lang == "en", now: opts.Now, log: opts.Log}
	if d.opts.Timeout <= 0 {
		d.opts.Timeout = 8 * time.Second
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d
}

// ValidLang reports whether lang is a language the report can be written in.
func ValidLang(lang string) bool { return lang == "zh" || lang == "en" }

// t picks the Chinese or the English text.
func (d *Doctor) t(zh, en string) string {
	if d.en {
		return en
	}
	return zh
}

// outcome is what a check function returns; Run fills in id, name and duration.
type outcome struct {
	status      Status
	detail, fix string
}

func pass(detail string) outcome      { return outcome{status: Pass, detail: detail} }
func skip(detail string) outcome      { return outcome{status: Skip, detail: detail} }
func warn(detail, fix string) outcome { return outcome{status: Warn, detail: detail, fix: fix} }
func fail(detail, fix string) outcome { return outcome{status: Fail, detail: detail, fix: fix} }

// check is one named check.
type check struct {
	id, name string
	run      func(ctx context.Context) outcome
}

// checks lists the checks in report order.
func (d *Doctor) checks() []check {
	cs := []check{
		{"config", d.t("配置文件", "configuration"), d.checkConfig},
		{"data_dir", d.t("数据目录与磁盘", "data directory and disk"), d.checkDataDir},
		{"clock", d.t("时钟同步", "clock"), d.checkClock},
		{"broker", d.t("MQTT 服务器", "MQTT broker"), d.checkBroker},
		{"influx", d.t("InfluxDB 时序库", "InfluxDB"), d.checkInflux},
		{"cloud", d.t("网格云平台", "grid cloud"), d.checkCloud},
	}
	for _, cam := range d.cams {
		name := cam.ID
		if cam.Name != "" {
			name = cam.Name + " (" + cam.ID + ")"
		}
		cs = append(cs, check{"camera:" + cam.ID, d.t("摄像头 ", "camera ") + name,
			func(ctx context.Context) outcome { return d.checkCamera(ctx, cam.Camera, cam.key) }})
	}
	if len(d.cams) == 0 {
		cs = append(cs, check{"cameras", d.t("摄像头", "cameras"), d.checkNoCameras})
	}
	cs = append(cs,
		check{"webrtc_udp", d.t("WebRTC UDP 端口", "WebRTC UDP port"), d.checkUDP},
		check{"devices", d.t("从未连接的设备", "devices never connected"), d.checkDevices})
	return cs
}

// camera is a camera to probe and where its settings are: cameras[i], or "" when it was
// added in the console.
type camera struct {
	config.Camera
	key string
}

// listCameras collects the cameras to probe.
func (d *Doctor) listCameras(ctx context.Context) {
	d.cams = nil
	if d.cfg == nil || d.opts.ConfigErr != nil {
		return
	}
	for i, c := range d.cfg.Cameras {
		d.cams = append(d.cams, camera{c, fmt.Sprintf("cameras[%d]", i)})
	}
	if d.opts.RuntimeCameras == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	added, err := d.opts.RuntimeCameras(ctx)
	if err != nil {
		d.log.Warn("doctor: cameras added in the console not checked", "err", err)
	}
	for _, c := range added {
		if !slices.ContainsFunc(d.cams, func(x camera) bool { return x.ID == c.ID }) {
			d.cams = append(d.cams, camera{c, ""})
		}
	}
}

// Run runs every check concurrently, each within the per-check timeout, and returns the
// report once all have finished.
func (d *Doctor) Run(ctx context.Context) Report {
	d.listCameras(ctx)
	cs := d.checks()
	results := make([]Result, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
			defer cancel()
			start := time.Now()
			var o outcome
			if c.id != "config" && d.opts.ConfigErr != nil || d.cfg == nil && c.id != "config" {
				o = skip(d.t("配置无效，未检查（先修复配置文件）", "not checked: the configuration is invalid (fix it first)"))
			} else {
				o = c.run(cctx)
			}
			if cctx.Err() != nil && o.status != Pass && ctx.Err() == nil {
				o = fail(d.t(fmt.Sprintf("%s 内未完成：%s", d.opts.Timeout, o.detail), fmt.Sprintf("did not finish within %s: %s", d.opts.Timeout, o.detail)), o.fix)
			}
			results[i] = Result{ID: c.id, Name: c.name, Status: o.status, Detail: o.detail, Fix: o.fix,
				DurationMS: time.Since(start).Milliseconds()}
		}()
	}
	wg.Wait()
	rep := Report{Lang: "zh", Results: results}
	if d.en {
		rep.Lang = "en"
	}
	for _, r := range results {
		switch r.Status {
		case Pass:
			rep.Pass++
		case Warn:
			rep.Warn++
		case Fail:
			rep.Fail++
		case Skip:
			rep.Skip++
		}
	}
	rep.OK = rep.Fail == 0
	return rep
}

// localAddr turns a listen address such as ":8080" into one to dial on this machine.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// gatewayRunning reports whether this configuration's gateway answers /healthz, so that its
// ports being taken is its own doing.
func (d *Doctor) gatewayRunning(ctx context.Context) bool {
	if d.opts.InDaemon {
		return true
	}
	scheme := "http"
	if d.cfg.HTTP.TLS != "" || d.cfg.HTTP.TLSCertFile != "" {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+localAddr(d.cfg.HTTP.Listen)+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := localClient().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable
}

// localClient is for this machine's own gateway, whose certificate may be self-signed.
func localClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback liveness only
}

// addrInUse reports whether err says an address is already taken.
func addrInUse(err error) bool {
	return err != nil && (errors.Is(err, errAddrInUse) || strings.Contains(err.Error(), "address already in use"))
}

// short cuts a text for a detail column.
func short(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
