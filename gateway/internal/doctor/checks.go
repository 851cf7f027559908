package doctor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	_ "modernc.org/sqlite" // the gateway's database, read-only

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/subscriber"
)

// Disk thresholds: below warnFree (or warnFraction of the disk) warn, below failFree fail.
const (
	warnFree     = 1 << 30
	warnFraction = 0.10
	failFree     = 100 << 20
)

// Clock thresholds; the cloud refuses signed requests beyond api.ReplayWindow.
const (
	warnSkew = 2 * time.Second
	failSkew = 30 * time.Second
)

func (d *Doctor) checkConfig(context.Context) outcome {
	path := d.opts.ConfigPath
	if d.opts.ConfigErr == nil && d.cfg != nil {
		if path == "" {
			return pass(d.t("配置有效（网关正在按它运行）", "valid (the gateway is running with it)"))
		}
		return pass(d.t("配置有效：", "valid: ") + path)
	}
	var list config.Errors
	detail := ""
	if errors.As(d.opts.ConfigErr, &list) {
		detail = d.t(fmt.Sprintf("%d 处问题：\n", len(list)), fmt.Sprintf("%d problem(s):\n", len(list))) + strings.Join(list, "\n")
	} else if d.opts.ConfigErr != nil {
		detail = d.opts.ConfigErr.Error()
	}
	switch {
	case errors.Is(d.opts.ConfigErr, os.ErrNotExist):
		return fail(detail, d.t("用 -config 指定配置文件；安装包把它放在 /etc/community-gateway/gateway.yaml（示例见 configs/gateway.example.yaml）",
			"give the configuration file with -config; the package installs /etc/community-gateway/gateway.yaml (see configs/gateway.example.yaml)"))
	case d.cfg == nil:
		return fail(detail, d.t(fmt.Sprintf("%s 不是有效的 YAML：按提示的行号修正缩进或引号", path), fmt.Sprintf("%s is not valid YAML: correct the indentation or quotes at the line named", path)))
	}
	return fail(detail, d.t(
		fmt.Sprintf("按上面列出的键逐项修改 %s，再运行 gateway check-config -config %s 确认", path, path),
		fmt.Sprintf("correct each key listed above in %s, then confirm with gateway check-config -config %s", path, path)))
}

func (d *Doctor) checkDataDir(context.Context) outcome {
	dir := d.cfg.Path(d.cfg.DataDir)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fail(d.t("数据目录不存在："+dir, "the data directory does not exist: "+dir),
			d.t(fmt.Sprintf("创建它并交给网关的系统用户：sudo install -d -o community-gateway -g community-gateway -m 750 %s（或改 data_dir）", dir),
				fmt.Sprintf("create it for the gateway's system user: sudo install -d -o community-gateway -g community-gateway -m 750 %s (or change data_dir)", dir)))
	case err != nil:
		return fail(d.t("无法访问数据目录：", "cannot reach the data directory: ")+err.Error(),
			d.t("检查 data_dir 的路径和上级目录的权限", "check data_dir and the permissions of the directories above it"))
	case !fi.IsDir():
		return fail(d.t(dir+" 不是目录", dir+" is not a directory"),
			d.t("data_dir 必须指向一个目录：删除或改名这个文件，或改 data_dir", "data_dir must name a directory: move this file away or change data_dir"))
	}
	if err := probeWrite(dir); err != nil {
		return fail(d.t("数据目录不可写：", "the data directory is not writable: ")+err.Error(),
			d.t(fmt.Sprintf("把目录交给网关的系统用户：sudo chown -R community-gateway: %s；磁盘是否只读（mount | grep ro,）", dir),
				fmt.Sprintf("give it to the gateway's system user: sudo chown -R community-gateway: %s; check the disk is not mounted read-only", dir)))
	}
	if owner := foreignOwner(fi, serviceUser); owner != "" {
		return fail(d.t(fmt.Sprintf("%s 属于 %s，网关服务（%s 用户）无法写入", dir, owner, serviceUser), fmt.Sprintf("%s belongs to %s: the gateway's service (user %s) cannot write it", dir, owner, serviceUser)),
			d.t(fmt.Sprintf("sudo chown -R %s: %s", serviceUser, dir), fmt.Sprintf("sudo chown -R %s: %s", serviceUser, dir)))
	}
	free, total, err := diskSpace(dir)
	if err != nil {
		return warn(d.t("可写，但读不到剩余空间：", "writable, but free space unknown: ")+err.Error(), d.t("用 df -h 查看", "look with df -h"))
	}
	pct := 100 * float64(free) / math.Max(float64(total), 1)
	detail := d.t(fmt.Sprintf("%s 可写；剩余 %s（%.0f%%）", dir, bytesText(free), pct), fmt.Sprintf("%s writable; %s free (%.0f%%)", dir, bytesText(free), pct))
	fix := d.t("清理磁盘或换更大的存储：InfluxDB 断开时遥测会暂存在数据目录（influx.spool_max_bytes 限制其大小）",
		"free disk space or use a larger disk: while InfluxDB is away, telemetry is spooled in the data directory (bounded by influx.spool_max_bytes)")
	switch {
	case free < failFree:
		return fail(detail, fix)
	case free < warnFree || float64(free) < warnFraction*float64(total):
		return warn(detail, fix)
	}
	return pass(detail)
}

// probeWrite writes, syncs and removes a file in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".doctor-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write([]byte("gateway doctor\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
}

// clockSkew estimates how far this clock is ahead of a server (negative: behind) from the
// server's Date header (whole seconds) and when the request was sent and answered.
func clockSkew(sent, answered time.Time, date string) (time.Duration, error) {
	server, err := http.ParseTime(date)
	if err != nil {
		return 0, fmt.Errorf("doctor: date header %q: %w", short(date, 40), err)
	}
	mid := sent.Add(answered.Sub(sent) / 2)
	// the header drops the fraction of a second: on average the server's clock was half a
	// second past it
	return mid.Sub(server.Add(500 * time.Millisecond)), nil
}

func (d *Doctor) checkClock(ctx context.Context) outcome {
	if d.cfg.Uplink.Mode != "cloud" {
		return skip(d.t("没有配置网格云平台（uplink），无法比对；请确认 timedatectl 显示 NTP 已同步",
			"no grid cloud (uplink) configured to compare with; make sure timedatectl shows the clock synchronised"))
	}
	base := strings.TrimRight(d.cfg.Uplink.Cloud.URL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fail(err.Error(), d.t("检查 uplink.cloud.url", "check uplink.cloud.url"))
	}
	sent := d.now()
	resp, err := (&http.Client{}).Do(req)
	answered := d.now()
	if err != nil {
		return fail(d.t("连不上云平台，无法比对时钟：", "cannot reach the cloud to compare clocks: ")+rootCause(err),
			d.t("先解决“网格云平台”一项", "fix the grid cloud check first"))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	date := resp.Header.Get("Date")
	if date == "" {
		return warn(d.t("云平台的应答没有 Date 头，无法比对", "the cloud's answer has no Date header to compare with"),
			d.t("请确认 timedatectl 显示 NTP 已同步", "make sure timedatectl shows the clock synchronised"))
	}
	skew, err := clockSkew(sent, answered, date)
	if err != nil {
		return warn(err.Error(), d.t("请确认 timedatectl 显示 NTP 已同步", "make sure timedatectl shows the clock synchronised"))
	}
	abs := skew.Abs()
	secs := fmt.Sprintf("%.1f", abs.Seconds())
	var detail string
	if skew >= 0 {
		detail = d.t("本机时钟比云平台快 "+secs+" 秒", "this clock is "+secs+" s ahead of the cloud")
	} else {
		detail = d.t("本机时钟比云平台慢 "+secs+" 秒", "this clock is "+secs+" s behind the cloud")
	}
	window := fmt.Sprintf("%.0f", api.ReplayWindow.Minutes())
	fix := d.t("开启时间同步：sudo timedatectl set-ntp true（或让 chrony 指向可达的 NTP 服务器）；偏差超过 ±"+window+" 分钟时云平台会拒绝网关的签名请求，报警将无法上报",
		"turn on time synchronisation: sudo timedatectl set-ntp true (or point chrony at a reachable NTP server); beyond ±"+window+" min the cloud refuses the gateway's signed requests and alarms cannot be reported")
	switch {
	case abs > failSkew:
		return fail(detail, fix)
	case abs > warnSkew:
		return warn(detail, fix)
	}
	return pass(detail)
}

func (d *Doctor) checkBroker(ctx context.Context) outcome {
	if d.cfg.Broker.Mode == "embedded" {
		return d.checkEmbeddedBroker(ctx)
	}
	x := d.cfg.Broker.External
	u, err := url.Parse(x.URL)
	if err != nil || u.Host == "" {
		return fail(d.t("broker.external.url 无法解析", "broker.external.url cannot be parsed"), d.t("写成 tcp://主机:1883 或 ssl://主机:8883", "write it as tcp://host:1883 or ssl://host:8883"))
	}
	host := u.Host
	if u.Port() == "" {
		port := "1883"
		if u.Scheme != "tcp" {
			port = "8883"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var dl net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	c, err := dl.DialContext(dctx, "tcp", host)
	cancel()
	if err != nil {
		return fail(d.t("连不上 "+host+"："+err.Error(), "cannot reach "+host+": "+err.Error()),
			d.t("确认 MQTT 服务器在运行（sudo systemctl status mosquitto）、broker.external.url 的地址和端口正确、防火墙放行该端口",
				"check the broker runs (sudo systemctl status mosquitto), broker.external.url's host and port, and that the firewall lets the port through"))
	}
	c.Close()
	tc, err := (subscriber.Config{URL: x.URL, CAFile: d.cfg.Path(x.CAFile), CertFile: d.cfg.Path(x.CertFile),
		KeyFile: d.cfg.Path(x.KeyFile), InsecureSkipVerify: x.InsecureSkipVerify}).TLS()
	if err != nil {
		return fail(err.Error(), d.t("检查 broker.external 的 ca_file、cert_file、key_file 路径和内容", "check broker.external's ca_file, cert_file and key_file"))
	}
	wait := 4 * time.Second // paho's own connect goroutine ends within this; keep it inside the check's time
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Until(dl)-100*time.Millisecond, 100*time.Millisecond))
	}
	opts := paho.NewClientOptions().AddBroker(x.URL).SetClientID(x.ClientID + "-doctor").SetUsername(x.Username).
		SetPassword(x.Password).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(wait).SetProtocolVersion(4)
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(wait+time.Second) || ctx.Err() != nil || tok.Error() != nil && strings.Contains(tok.Error().Error(), "i/o timeout") {
		return fail(d.t(host+" 接受了 TCP 连接，但没有回应 MQTT 登录", host+" accepts TCP but did not answer the MQTT login"),
			d.t("确认这个端口是 MQTT（不是 WebSocket 或 TLS 端口配成了 tcp://）", "make sure the port speaks MQTT (not WebSocket, nor a TLS port given as tcp://)"))
	}
	if err := tok.Error(); err != nil {
		return fail(d.t("MQTT 登录被拒绝："+err.Error(), "MQTT login refused: "+err.Error()), d.connackFix(err))
	}
	cl.Disconnect(100)
	tlsNote := ""
	if tc != nil {
		tlsNote = d.t("，TLS 证书已验证", ", TLS certificate verified")
		if x.InsecureSkipVerify {
			tlsNote = d.t("，TLS 证书未验证（insecure_skip_verify）", ", TLS certificate NOT verified (insecure_skip_verify)")
		}
	}
	detail := d.t(fmt.Sprintf("%s 可达，网关账号 %s 登录成功%s", host, x.Username, tlsNote), fmt.Sprintf("%s reachable, the gateway's login %s accepted%s", host, x.Username, tlsNote))
	if tc != nil && x.InsecureSkipVerify {
		return warn(detail, d.t("配置 broker.external.ca_file 并去掉 insecure_skip_verify", "set broker.external.ca_file and drop insecure_skip_verify"))
	}
	return pass(detail)
}

// connackFix says what to do about a refused MQTT login, by the CONNACK code or TLS error.
func (d *Doctor) connackFix(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "bad user name or password"), strings.Contains(msg, "not Authorized"):
		return d.t("用户名或密码错误，或该账号无权连接：核对 broker.external.username/password（或 GATEWAY_BROKER_PASSWORD）与 Mosquitto 密码文件（gateway mosquitto-passwd 生成）中的网关账号",
			"wrong username or password, or the login may not connect: compare broker.external.username/password (or GATEWAY_BROKER_PASSWORD) with the gateway's line in Mosquitto's password file (made by gateway mosquitto-passwd)")
	case strings.Contains(msg, "identifier rejected"):
		return d.t("服务器拒绝了客户端 ID：检查 broker.external.client_id", "the broker rejected the client id: check broker.external.client_id")
	case strings.Contains(msg, "server Unavailable"):
		return d.t("MQTT 服务器暂不可用：查看其日志（journalctl -u mosquitto）", "the broker is unavailable: read its log (journalctl -u mosquitto)")
	case strings.Contains(msg, "x509"), strings.Contains(msg, "certificate"), strings.Contains(msg, "tls"):
		return d.t("TLS 证书验证失败：broker.external.ca_file 要签发了服务器证书的 CA，且 URL 里的主机名要在证书中",
			"TLS verification failed: broker.external.ca_file must hold the CA that signed the broker's certificate, and the URL's host name must be in it")
	}
	return d.t("查看 MQTT 服务器日志（journalctl -u mosquitto）", "read the broker's log (journalctl -u mosquitto)")
}

func (d *Doctor) checkEmbeddedBroker(ctx context.Context) outcome {
	e := d.cfg.Broker.Embedded
	addrs := []string{e.Listen}
	if e.TLSListen != "" {
		addrs = append(addrs, e.TLSListen)
	}
	var notes []string
	for _, a := range addrs {
		if d.opts.InDaemon {
			var dl net.Dialer
			c, err := dl.DialContext(ctx, "tcp", localAddr(a))
			if err != nil {
				return fail(d.t("内置 MQTT 服务器没有在 "+a+" 上监听："+err.Error(), "the embedded broker is not listening on "+a+": "+err.Error()),
					d.t("查看网关日志：sudo journalctl -u community-gateway", "read the gateway's log: sudo journalctl -u community-gateway"))
			}
			c.Close()
			notes = append(notes, d.t(a+" 由本网关提供服务", a+" served by this gateway"))
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err == nil {
			ln.Close()
			notes = append(notes, d.t(a+" 空闲，可监听", a+" free to bind"))
			continue
		}
		if addrInUse(err) && d.gatewayRunning(ctx) {
			notes = append(notes, d.t(a+" 由正在运行的网关占用", a+" held by the running gateway"))
			continue
		}
		_, port, _ := net.SplitHostPort(a)
		return fail(d.t(a+" 无法监听："+err.Error(), "cannot bind "+a+": "+err.Error()),
			d.t(fmt.Sprintf("另一个程序占用了该端口（常见是系统自带的 mosquitto）：sudo ss -ltnp 'sport = :%s' 查出并停用它（sudo systemctl disable --now mosquitto），或改 broker.embedded.listen", port),
				fmt.Sprintf("another program holds the port (often the system's own mosquitto): find it with sudo ss -ltnp 'sport = :%s' and stop it (sudo systemctl disable --now mosquitto), or change broker.embedded.listen", port)))
	}
	return pass(d.t("内置 MQTT 服务器：", "embedded broker: ") + strings.Join(notes, d.t("；", "; ")))
}

func (d *Doctor) checkInflux(ctx context.Context) outcome {
	x := d.cfg.Influx
	if x.URL == "" {
		return skip(d.t("未配置 influx.url（时序数据关闭）", "influx.url not set (time series off)"))
	}
	base := strings.TrimRight(x.URL, "/")
	cl := &http.Client{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
	resp, err := cl.Do(req)
	if err != nil {
		return fail(d.t("连不上 InfluxDB：", "cannot reach InfluxDB: ")+rootCause(err),
			d.t("确认 InfluxDB 在运行（sudo systemctl status influxdb）且 influx.url 正确；断开期间遥测暂存在数据目录，恢复后补写",
				"check InfluxDB runs (sudo systemctl status influxdb) and influx.url; meanwhile telemetry is spooled in the data directory and written later"))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fail(d.t(fmt.Sprintf("%s/ping 应答 %s", base, resp.Status), fmt.Sprintf("%s/ping answered %s", base, resp.Status)),
			d.t("influx.url 要指向 InfluxDB 本身（默认端口 8086）", "influx.url must point at InfluxDB itself (port 8086 by default)"))
	}
	q := url.Values{"org": {x.Org}, "bucket": {x.Bucket}, "precision": {"ms"}}
	line := fmt.Sprintf("gateway_doctor,site=%s check=1i %d\n", d.cfg.Site.Code, d.now().UnixMilli())
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v2/write?"+q.Encode(), strings.NewReader(line))
	req.Header.Set("Authorization", "Token "+x.Token)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err = cl.Do(req)
	if err != nil {
		return fail(d.t("写入失败："+err.Error(), "write failed: "+err.Error()), d.t("查看 InfluxDB 日志", "read InfluxDB's log"))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	answer := fmt.Sprintf("%s: %s", resp.Status, short(string(body), 160))
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return pass(d.t(fmt.Sprintf("%s 可达，桶 %s 可写（测试点写入 gateway_doctor）", base, x.Bucket),
			fmt.Sprintf("%s reachable, bucket %s writable (test point in gateway_doctor)", base, x.Bucket)))
	case http.StatusUnauthorized:
		return fail(d.t("令牌被拒绝 "+answer, "token refused "+answer),
			d.t("influx.token（或 GATEWAY_INFLUX_TOKEN）错误：在 InfluxDB 里为该桶建一个写令牌（influx auth create --write-bucket 桶ID）；1.8 版写 用户名:密码",
				"influx.token (or GATEWAY_INFLUX_TOKEN) is wrong: make a write token for the bucket (influx auth create --write-bucket BUCKET_ID); on 1.8 use user:password"))
	case http.StatusForbidden:
		return fail(d.t("令牌无权写入 "+answer, "token may not write "+answer),
			d.t("给 influx.token 加上对桶 "+x.Bucket+" 的写权限，或换一个有写权限的令牌", "give influx.token write permission on bucket "+x.Bucket+", or use a token that has it"))
	case http.StatusNotFound:
		return fail(d.t("桶或组织不存在 "+answer, "bucket or organisation not found "+answer),
			d.t(fmt.Sprintf("创建桶（influx bucket create -n %s -o %s）或改 influx.bucket / influx.org；1.8 版写 数据库/保留策略", x.Bucket, x.Org),
				fmt.Sprintf("create the bucket (influx bucket create -n %s -o %s) or correct influx.bucket / influx.org; on 1.8 write database/retention_policy", x.Bucket, x.Org)))
	}
	return fail(d.t("写入被拒绝 "+answer, "write refused "+answer), d.t("查看 InfluxDB 日志", "read InfluxDB's log"))
}

func (d *Doctor) checkCloud(ctx context.Context) outcome {
	u := d.cfg.Uplink
	switch u.Mode {
	case "":
		return skip(d.t("未配置上报（uplink.mode 为空），报警只在本地处理", "no uplink configured (uplink.mode empty): alarms stay on this site"))
	case "webhook":
		wu, err := url.Parse(u.Webhook.URL)
		if err != nil {
			return fail(err.Error(), d.t("检查 uplink.webhook.url", "check uplink.webhook.url"))
		}
		host := wu.Host
		if wu.Port() == "" {
			host = net.JoinHostPort(wu.Hostname(), map[bool]string{true: "443", false: "80"}[wu.Scheme == "https"])
		}
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", host)
		if err != nil {
			return fail(d.t("连不上 "+host+"："+err.Error(), "cannot reach "+host+": "+err.Error()),
				d.t("检查 uplink.webhook.url、网络出口和防火墙", "check uplink.webhook.url, the way out to the internet and the firewall"))
		}
		c.Close()
		return pass(d.t(host+" 可达（webhook 的凭据在第一次报警时才验证）", host+" reachable (a webhook's credentials are checked by the first alert)"))
	}
	key, err := api.DecodeKey(u.Cloud.Key)
	if err != nil {
		return fail(err.Error(), d.t("uplink.cloud.key 要填 cloud gateway add 打印的密钥", "uplink.cloud.key must be the key printed by cloud gateway add"))
	}
	client := api.NewClient(u.Cloud.URL, u.Cloud.GatewayID, key, api.WithClock(d.now), api.WithHTTPClient(&http.Client{}))
	// a read-only signed request: the long poll for case updates past any cursor, without waiting
	_, err = client.PollCaseUpdatesWait(ctx, math.MaxInt64/2, 0)
	if err == nil {
		return pass(d.t(fmt.Sprintf("%s 可达，网关 %s 的密钥被接受", u.Cloud.URL, u.Cloud.GatewayID), fmt.Sprintf("%s reachable, gateway %s's key accepted", u.Cloud.URL, u.Cloud.GatewayID)))
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		return fail(d.t("连不上云平台：", "cannot reach the cloud: ")+rootCause(err),
			d.t("检查 uplink.cloud.url、网络出口、DNS 和防火墙；断开期间报警在本地发件箱里等待，恢复后补发",
				"check uplink.cloud.url, the way out, DNS and the firewall; meanwhile alarms wait in the local outbox and are sent later"))
	}
	detail := d.t(fmt.Sprintf("云平台拒绝：%d %s", ae.Status, ae.Code), fmt.Sprintf("the cloud refused: %d %s", ae.Status, ae.Code))
	switch {
	case ae.Code == "stale_timestamp":
		return fail(detail, d.t("本机时钟与云平台相差超过 ±5 分钟，签名请求被拒：先开启时间同步（sudo timedatectl set-ntp true）",
			"this clock is more than ±5 min off the cloud's, so signed requests are refused: turn on time synchronisation first (sudo timedatectl set-ntp true)"))
	case ae.Code == "unknown_gateway":
		return fail(detail, d.t(fmt.Sprintf("云平台不认识网关 ID %s（或已停用）：核对 uplink.cloud.gateway_id，或在云平台执行 cloud gateway add", u.Cloud.GatewayID),
			fmt.Sprintf("the cloud does not know gateway id %s (or it is disabled): check uplink.cloud.gateway_id, or run cloud gateway add on the cloud", u.Cloud.GatewayID)))
	case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
		return fail(detail, d.t("密钥与网关 ID 不匹配：把 cloud gateway add 打印的密钥填入 uplink.cloud.key（或 GATEWAY_CLOUD_KEY）",
			"the key does not match the gateway id: put the key printed by cloud gateway add in uplink.cloud.key (or GATEWAY_CLOUD_KEY)"))
	case ae.Status == http.StatusNotFound:
		return fail(detail, d.t("该地址不是网格云平台：检查 uplink.cloud.url（只写到主机和端口）", "this address is not the grid cloud: check uplink.cloud.url (host and port only)"))
	}
	return fail(detail, d.t("云平台出错：请联系平台管理员；报警在本地发件箱里等待", "the cloud is failing: tell its administrator; alarms wait in the local outbox"))
}

func (d *Doctor) checkNoCameras(context.Context) outcome {
	return skip(d.t("没有配置摄像头", "no cameras configured"))
}

// checkCamera probes one camera. key is its place in the configuration (cameras[i]), or ""
// for a camera added in the console.
func (d *Doctor) checkCamera(ctx context.Context, cam config.Camera, key string) outcome {
	// where the installer changes the camera's settings
	settings := func(field string) (string, string) {
		if key == "" {
			return "“摄像机接入”页上这路摄像头的" + map[string]string{"username/password": "用户名和密码", "url": "RTSP 地址"}[field] + "（删除后重新添加）",
				"the camera's " + map[string]string{"username/password": "username and password", "url": "RTSP URL"}[field] + " on the camera setup page (remove it and add it again)"
		}
		return key + "." + field, key + "." + field
	}
	up, upEN := settings("username/password")
	u, uEN := settings("url")
	timeout := d.opts.Timeout - time.Second
	res, err := rtsp.ProbeConfig(ctx, rtsp.Config{URL: cam.URL, Username: cam.Username, Password: cam.Password}, timeout)
	where := redactURL(cam.URL)
	if err == nil {
		fps := fmt.Sprintf("%.0f", res.FrameRate)
		if res.Profile != "" {
			return pass(fmt.Sprintf("%s: %s %s %dx%d %s fps", where, res.VideoCodec, res.Profile, res.Width, res.Height, fps))
		}
		return pass(fmt.Sprintf("%s: %s %dx%d %s fps", where, res.VideoCodec, res.Width, res.Height, fps))
	}
	msg := scrub(err.Error(), cam)
	switch {
	case errors.Is(err, rtsp.ErrUnauthorized):
		return fail(d.t(where+"：用户名或密码错误（401）", where+": wrong username or password (401)"),
			d.t(fmt.Sprintf("核对 %s 与摄像头网页里的账号；海康/大华需开启 RTSP 摘要认证", up),
				fmt.Sprintf("compare %s with the account in the camera's web page; Hikvision/Dahua need RTSP digest auth on", upEN)))
	case errors.Is(err, rtsp.ErrNotFound):
		return fail(d.t(where+"：码流路径不存在（404）", where+": no such stream path (404)"),
			d.t(fmt.Sprintf("改 %s 的路径（海康 /Streaming/Channels/101，大华 /cam/realmonitor?channel=1&subtype=0）", u),
				fmt.Sprintf("correct the path in %s (Hikvision /Streaming/Channels/101, Dahua /cam/realmonitor?channel=1&subtype=0)", uEN)))
	case errors.Is(err, rtsp.ErrUnreachable):
		return fail(d.t(where+"：无法连接："+msg, where+": unreachable: "+msg),
			d.t(fmt.Sprintf("确认摄像头通电、与网关同一网段、IP 和端口（默认 554）与 %s 一致：ping 一下它", u),
				fmt.Sprintf("check the camera has power, is on the gateway's network, and its IP and port (554 by default) match %s: ping it", uEN)))
	case errors.Is(err, rtsp.ErrNoPlayableTrack):
		return fail(d.t(where+"：没有可播放的视频轨（"+msg+"）", where+": no playable video track ("+msg+")"),
			d.t("在摄像头网页里把该码流的编码改为 H.264（H.265 浏览器无法播放）", "set the stream's encoding to H.264 in the camera's web page (browsers cannot play H.265)"))
	case errors.Is(err, rtsp.ErrTimeout):
		return fail(d.t(where+"：有应答，但在时限内没有送来画面", where+": answered but sent no picture in time"),
			d.t("摄像头负载过高或码流关闭：重启摄像头，检查码流是否启用", "the camera is overloaded or the stream is off: restart it and check the stream is enabled"))
	}
	return fail(where+": "+msg, d.t("用 gateway camera probe 单独测试这路摄像头", "try the camera alone with gateway camera probe"))
}

// rootCause is the innermost reason of a failed HTTP request (without the method and URL).
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redactURL drops any credentials from a camera URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "rtsp://…"
	}
	u.User = nil
	return u.String()
}

// scrub removes a camera's credentials from an error text.
func scrub(s string, cam config.Camera) string {
	if u, err := url.Parse(cam.URL); err == nil && u.User != nil {
		s = strings.ReplaceAll(s, u.User.String()+"@", "")
		if p, ok := u.User.Password(); ok && p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	if cam.Password != "" {
		s = strings.ReplaceAll(s, cam.Password, "***")
	}
	return s
}

func (d *Doctor) checkUDP(ctx context.Context) outcome {
	w := d.cfg.Video.WebRTC
	addr := net.JoinHostPort(w.ListenIP, strconv.Itoa(w.UDPPort))
	cams := len(d.cams)
	if d.opts.InDaemon && cams > 0 {
		return pass(d.t("UDP "+addr+" 由本网关使用", "UDP "+addr+" in use by this gateway"))
	}
	pc, err := net.ListenPacket("udp", addr)
	if err == nil {
		pc.Close()
		return pass(d.t("UDP "+addr+" 空闲，可监听", "UDP "+addr+" free to bind"))
	}
	if addrInUse(err) && cams > 0 && d.gatewayRunning(ctx) {
		return pass(d.t("UDP "+addr+" 由正在运行的网关占用", "UDP "+addr+" held by the running gateway"))
	}
	status := fail
	if cams == 0 {
		status = warn // the port is opened only for a site with cameras
	}
	return status(d.t("UDP "+addr+" 无法监听："+err.Error(), "cannot bind UDP "+addr+": "+err.Error()),
		d.t(fmt.Sprintf("另一个程序占用了该端口：sudo ss -lunp 'sport = :%d' 查出并停用它，或改 video.webrtc.udp_port（防火墙要放行新端口）", w.UDPPort),
			fmt.Sprintf("another program holds the port: find it with sudo ss -lunp 'sport = :%d' and stop it, or change video.webrtc.udp_port (and open the new port in the firewall)", w.UDPPort)))
}

func (d *Doctor) checkDevices(ctx context.Context) outcome {
	var never []string
	var total int
	var err error
	if d.opts.NeverConnected != nil {
		never, total, err = d.opts.NeverConnected(ctx)
	} else {
		never, total, err = d.neverConnectedFromDB(ctx)
	}
	if errors.Is(err, errNoDataDir) {
		return skip(d.t("数据目录不可用，未检查（见“数据目录与磁盘”）", "not checked: the data directory is unusable (see data directory and disk)"))
	}
	if err != nil {
		return warn(d.t("读不到设备状态：", "cannot read the devices' state: ")+err.Error(),
			d.t("确认网关运行过一次（sudo systemctl start community-gateway）", "make sure the gateway has run once (sudo systemctl start community-gateway)"))
	}
	switch {
	case total == 0:
		return pass(d.t("还没有登记设备", "no devices registered yet"))
	case len(never) == 0:
		return pass(d.t(fmt.Sprintf("%d 台设备都已连接过", total), fmt.Sprintf("all %d devices have connected", total)))
	}
	first := never
	if len(first) > 10 {
		first = first[:10]
	}
	list := strings.Join(first, ", ")
	if len(never) > len(first) {
		list += ", …"
	}
	return warn(d.t(fmt.Sprintf("%d/%d 台设备从未连接：%s", len(never), total, list), fmt.Sprintf("%d of %d devices never connected: %s", len(never), total, list)),
		d.t("逐台核对设备的 MQTT 设置：服务器地址和端口、用户名 = 设备 ID、密码（在“设备接入”页重新生成）；设备是否通电、有信号",
			"check each device's MQTT settings: broker address and port, username = device id, password (make a new one on the provisioning page); that it has power and signal"))
}

// errNoDataDir: the data directory is not a directory one can read.
var errNoDataDir = errors.New("doctor: data directory unusable")

// neverConnectedFromDB reads the gateway's database without disturbing a running gateway
// (read-only, query-only); configured devices not in it yet count as never connected.
func (d *Doctor) neverConnectedFromDB(ctx context.Context) ([]string, int, error) {
	path := filepath.Join(d.cfg.Path(d.cfg.DataDir), "gateway.db")
	declared := map[string]bool{}
	for _, dev := range d.cfg.Devices {
		declared[dev.ID] = true
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return nil, 0, errNoDataDir
		}
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		var ids []string
		for _, dev := range d.cfg.Devices {
			ids = append(ids, dev.ID)
		}
		return ids, len(ids), nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(3000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, 0, fmt.Errorf("doctor: open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT d.id, COALESCE(s.state, 'unknown'), COALESCE(s.last_seen_ms, 0)
		FROM devices d LEFT JOIN device_state s ON s.device_id = d.id ORDER BY d.id`)
	if err != nil {
		return nil, 0, fmt.Errorf("doctor: read %s: %w", path, err)
	}
	defer rows.Close()
	var never []string
	total := 0
	for rows.Next() {
		var id, state string
		var seen int64
		if err := rows.Scan(&id, &state, &seen); err != nil {
			return nil, 0, fmt.Errorf("doctor: read %s: %w", path, err)
		}
		total++
		delete(declared, id)
		if state == "unknown" && seen == 0 {
			never = append(never, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("doctor: read %s: %w", path, err)
	}
	for _, dev := range d.cfg.Devices { // declared since the gateway last started
		if declared[dev.ID] {
			never = append(never, dev.ID)
			total++
		}
	}
	return never, total, nil
}
