// Package config owns the gateway's configuration file: its shape, its defaults, strict
// decoding that reports every problem at once with the key it concerns, and the environment
// variables that may carry secrets.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/seal"
)

// Config is the whole gateway configuration.
type Config struct {
	Site     Site         `yaml:"site"`
	DataDir  string       `yaml:"data_dir"`
	Log      Log          `yaml:"log"`
	Broker   Broker       `yaml:"broker"`
	Ingest   Ingest       `yaml:"ingest"`
	HTTP     HTTP         `yaml:"http"`
	Security Security     `yaml:"security"`
	Alink    Alink        `yaml:"alink"`
	Alarms   rules.Config `yaml:"alarms"`  // alarm limits per family and per device
	Uplink   Uplink       `yaml:"uplink"`  // the grid case system
	Influx   Influx       `yaml:"influx"`  // time series (influx.go)
	Cameras  []Camera     `yaml:"cameras"` // RTSP cameras relayed to viewers (video.go)
	Video    Video        `yaml:"video"`   // the relay and WebRTC (video.go)
	Devices  []Device     `yaml:"devices"`
	// DevicesCSV names CSV files of devices (see DeviceCSVHeader), relative to the config file.
	DevicesCSV []string `yaml:"devices_csv"`
	// MemoryLimitMiB is the floor of the Go runtime's soft memory limit (gateway/internal/memlimit;
	// GOMEMLIMIT overrides it).
	MemoryLimitMiB int `yaml:"memory_limit_mib"`

	// dir is the config file's directory; relative paths are resolved against it.
	dir string
}

// Site is the community this gateway serves.
type Site struct {
	Code     string `yaml:"code"`      // used in MQTT topics: community/{code}/…
	Name     string `yaml:"name"`      // shown to people
	TimeZone string `yaml:"time_zone"` // IANA name, e.g. Asia/Shanghai
	GridCode string `yaml:"grid_code"` // 15 digits: division(6) street(3) community(3) grid(3)
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Broker says which MQTT broker the devices talk to.
type Broker struct {
	Mode     string         `yaml:"mode"` // embedded or external
	Embedded EmbeddedBroker `yaml:"embedded"`
	External ExternalBroker `yaml:"external"`
}

// EmbeddedBroker configures the broker that runs inside the gateway.
type EmbeddedBroker struct {
	Listen        string `yaml:"listen"`          // TCP address for devices, e.g. :1883
	TLSListen     string `yaml:"tls_listen"`      // optional TLS address, e.g. :8883
	TLSCertFile   string `yaml:"tls_cert_file"`   // with tls_listen
	TLSKeyFile    string `yaml:"tls_key_file"`    // with tls_listen
	MaxClients    int64  `yaml:"max_clients"`     // connected clients at most
	MaxInflight   int    `yaml:"max_inflight"`    // QoS 1 messages in flight per client
	MaxQueued     int    `yaml:"max_queued"`      // messages queued per client before the broker drops (counted)
	MaxPacketSize int    `yaml:"max_packet_size"` // bytes; larger packets are refused by the broker
	// Advertise is host[:port] devices reach the broker by, shown in new devices' connection
	// settings (QR code); empty: the host the installer's browser reached the console by, and
	// the port of listen (and of tls_listen). See DeviceEndpoint.
	Advertise string `yaml:"advertise"`
}

// ExternalBroker configures a Mosquitto or EMQX broker the gateway subscribes to.
type ExternalBroker struct {
	URL                string        `yaml:"url"` // tcp://host:1883 or ssl://host:8883
	ClientID           string        `yaml:"client_id"`
	Username           string        `yaml:"username"`
	Password           string        `yaml:"password"` // or GATEWAY_BROKER_PASSWORD
	CAFile             string        `yaml:"ca_file"`
	CertFile           string        `yaml:"cert_file"`
	KeyFile            string        `yaml:"key_file"`
	InsecureSkipVerify bool          `yaml:"insecure_skip_verify"`
	KeepAlive          time.Duration `yaml:"keep_alive"`
}

// Ingest tunes the path from the broker to the store.
type Ingest struct {
	MaxPayloadBytes int           `yaml:"max_payload_bytes"` // larger messages are rejected (oversize)
	BatchMax        int           `yaml:"batch_max"`         // events per store transaction at most
	QueueMax        int           `yaml:"queue_max"`         // events waiting for the store before intake waits
	StatusFlush     time.Duration `yaml:"status_flush"`      // how often last-seen, battery and signal are saved
}

// HTTP configures the gateway's web server.
type HTTP struct {
	Listen    string     `yaml:"listen"`
	APITokens []APIToken `yaml:"api_tokens"`
	// HTTPS: tls_cert_file and tls_key_file, or tls: self-signed for a certificate the gateway
	// makes and keeps under the data directory, valid for tls_hosts, localhost and 127.0.0.1.
	TLS         string   `yaml:"tls"` // "" (plain HTTP) or self-signed
	TLSCertFile string   `yaml:"tls_cert_file"`
	TLSKeyFile  string   `yaml:"tls_key_file"`
	TLSHosts    []string `yaml:"tls_hosts"` // host names and IP addresses the console is reached by
}

// Security configures logins and the encryption of residents' private data.
type Security struct {
	// DataKey (base64 of 32 bytes, or GATEWAY_DATA_KEY) encrypts residents' medical notes and
	// emergency contacts. Without one the gateway makes one in data_dir/data.key on first start.
	DataKey         string        `yaml:"data_key"`
	SessionLifetime time.Duration `yaml:"session_lifetime"` // a login lasts at most this long
	SessionIdle     time.Duration `yaml:"session_idle"`     // and ends after this long without a request
}

// APIToken is a bearer token for scripts.
type APIToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"` // at least 16 characters; ${ENV} allowed
	Role  string `yaml:"role"`  // admin, installer, duty, security
}

// Uplink configures the link to the city's grid case system.
type Uplink struct {
	Mode       string        `yaml:"mode"`       // "" (off), cloud (this project's cloud/) or webhook
	Cloud      UplinkCloud   `yaml:"cloud"`      // with mode cloud
	Webhook    UplinkWebhook `yaml:"webhook"`    // with mode webhook
	Severities []string      `yaml:"severities"` // alarms sent; default [critical, high]; escalated ones always
	Heartbeat  time.Duration `yaml:"heartbeat"`  // default 30s
	DownAfter  time.Duration `yaml:"down_after"` // no answer this long raises uplink_down; default 2m
}

// UplinkCloud is the grid case system of cloud/: its URL and this gateway's credential, as
// printed once by `cloud gateway add`.
type UplinkCloud struct {
	URL       string `yaml:"url"`
	GatewayID string `yaml:"gateway_id"`
	Key       string `yaml:"key"` // or GATEWAY_CLOUD_KEY
}

// UplinkWebhook feeds another grid system: each alert POSTed as JSON from a template.
type UplinkWebhook struct {
	URL          string            `yaml:"url"`
	Headers      map[string]string `yaml:"headers"`
	BodyTemplate string            `yaml:"body_template"` // JSON with {{json .Field}} / {{.Field}} placeholders; default: the alert as JSON
	CaseIDField  string            `yaml:"case_id_field"` // field of the JSON answer holding the case id
}

// Alink configures the Alibaba Cloud IoT thing-model dialect.
type Alink struct {
	ModelsDir string `yaml:"models_dir"` // directory of per-product model files
}

// Device is a device declared in the configuration.
type Device struct {
	ID                string        `yaml:"id"`
	Family            string        `yaml:"family"`
	Name              string        `yaml:"name"`
	ProductKey        string        `yaml:"product_key"` // Alink devices: the product's key
	Location          Location      `yaml:"location"`
	GridCode          string        `yaml:"grid_code"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	Password          string        `yaml:"password"`      // plain (hashed on load) or
	PasswordHash      string        `yaml:"password_hash"` // Mosquitto $7$ PBKDF2-SHA512 hash
	Resident          *Resident     `yaml:"resident"`
}

// Location is where a device is installed.
type Location struct {
	Building string `yaml:"building" json:"building"`
	Unit     string `yaml:"unit" json:"unit"`
	Room     string `yaml:"room" json:"room"`
}

// Resident is the person a call button belongs to.
type Resident struct {
	Name              string    `yaml:"name" json:"name"`
	Age               int       `yaml:"age" json:"age"`
	Phone             string    `yaml:"phone" json:"phone"`
	MedicalNotes      string    `yaml:"medical_notes" json:"medical_notes,omitempty"`
	LivesAlone        bool      `yaml:"lives_alone" json:"lives_alone"`
	EmergencyContacts []Contact `yaml:"emergency_contacts" json:"emergency_contacts,omitempty"`
}

// Contact is an emergency contact of a resident.
type Contact struct {
	Name     string `yaml:"name" json:"name"`
	Relation string `yaml:"relation" json:"relation"`
	Phone    string `yaml:"phone" json:"phone"`
}

// Default returns a configuration with every default set: an embedded broker on :1883 and the
// web server on :8080, data under ./data.
func Default() *Config {
	return &Config{
		Site:    Site{TimeZone: "Asia/Shanghai"},
		DataDir: "data",
		Log:     Log{Level: "info", Format: "text"},
		// a box is 1–2 GB shared with InfluxDB; a 44 MiB floor keeps a quiet site of a
		// thousand devices on the embedded broker under 64 MiB resident (README, BENCHMARKS)
		MemoryLimitMiB: 44,
		Broker: Broker{
			Mode: "embedded",
			Embedded: EmbeddedBroker{
				Listen: ":1883", MaxClients: 5000, MaxInflight: 1024, MaxQueued: 64,
				MaxPacketSize: 256 << 10,
			},
			External: ExternalBroker{KeepAlive: 30 * time.Second},
		},
		Ingest:   Ingest{MaxPayloadBytes: 64 << 10, BatchMax: 4096, QueueMax: 8192, StatusFlush: 10 * time.Second},
		HTTP:     HTTP{Listen: ":8080"},
		Security: Security{SessionLifetime: 12 * time.Hour, SessionIdle: 2 * time.Hour},
		Influx:   defaultInflux(),
		Video:    defaultVideo(),
	}
}

// Dir is the directory relative paths in the configuration are resolved against.
func (c *Config) Dir() string { return c.dir }

// Path resolves p against the configuration file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Errors is every problem found in a configuration.
type Errors []string

func (e Errors) Error() string {
	return "config: " + fmt.Sprint(len(e)) + " problem(s):\n  " + strings.Join(e, "\n  ")
}

// Load reads, decodes and validates the configuration file at path. Every problem found is
// returned at once as Errors; the partly decoded config is returned too, so callers can show it.
func Load(path string, getenv func(string) string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(raw, getenv)
	if c != nil {
		abs, _ := filepath.Abs(filepath.Dir(path))
		c.dir = abs
		if err == nil {
			err = c.loadDeviceCSV()
		}
	}
	return c, err
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse decodes and validates configuration text. ${NAME} is replaced by the environment
// variable NAME (an unset one is an error), and GATEWAY_BROKER_PASSWORD, when set, overrides
// broker.external.password.
func Parse(raw []byte, getenv func(string) string) (*Config, error) {
	var problems Errors
	lines := bytes.Split(raw, []byte("\n"))
	for i, line := range lines {
		code, comment := SplitComment(line)
		code = envRef.ReplaceAllFunc(code, func(m []byte) []byte {
			name := string(envRef.FindSubmatch(m)[1])
			v := getenv(name)
			if v == "" {
				problems = append(problems, fmt.Sprintf("line %d: environment variable %s is referenced but not set", i+1, name))
			}
			return []byte(v)
		})
		lines[i] = append(code, comment...)
	}
	raw = bytes.Join(lines, []byte("\n"))
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			problems = append(problems, te.Errors...)
		} else {
			return nil, Errors{"yaml: " + err.Error()}
		}
	}
	if v := getenv("GATEWAY_CLOUD_KEY"); v != "" {
		c.Uplink.Cloud.Key = v
	}
	if v := getenv("GATEWAY_BROKER_PASSWORD"); v != "" {
		c.Broker.External.Password = v
	}
	if v := getenv("GATEWAY_DATA_KEY"); v != "" {
		c.Security.DataKey = v
	}
	if v := getenv("GATEWAY_INFLUX_TOKEN"); v != "" {
		c.Influx.Token = v
	}
	problems = append(problems, c.Validate()...)
	if len(problems) > 0 {
		return c, problems
	}
	return c, nil
}

// SplitComment splits a YAML line before a comment: a '#' at the start or after a space, and
// outside quotes.
func SplitComment(line []byte) (code, comment []byte) {
	var quote byte
	for i, c := range line {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return append([]byte(nil), line[:i]...), line[i:]
		}
	}
	return append([]byte(nil), line...), nil
}

func (u Uplink) validate() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, "uplink."+key+": "+fmt.Sprintf(format, args...)) }
	isURL := func(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }
	switch u.Mode {
	case "":
	case "cloud":
		if !isURL(u.Cloud.URL) {
			add("cloud.url", "must be an http:// or https:// URL, got %q", u.Cloud.URL)
		}
		if u.Cloud.GatewayID == "" {
			add("cloud.gateway_id", "required (printed by `cloud gateway add`)")
		}
		if k, err := api.DecodeKey(u.Cloud.Key); err != nil || len(k) < 16 {
			add("cloud.key", "must be the key printed by `cloud gateway add` (or GATEWAY_CLOUD_KEY)")
		}
	case "webhook":
		if !isURL(u.Webhook.URL) {
			add("webhook.url", "must be an http:// or https:// URL, got %q", u.Webhook.URL)
		}
	default:
		add("mode", "must be cloud, webhook or empty, got %q", u.Mode)
	}
	for i, s := range u.Severities {
		switch s {
		case "critical", "high", "medium", "low":
		default:
			add(fmt.Sprintf("severities[%d]", i), "must be critical, high, medium or low, got %q", s)
		}
	}
	if u.Heartbeat < 0 || u.DownAfter < 0 {
		add("heartbeat", "heartbeat and down_after must not be negative")
	}
	return p
}

var (
	siteCodeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	deviceIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	gridCodeRe = regexp.MustCompile(`^[0-9]{15}$`)
)

// Roles are the roles a login may have.
var Roles = []string{"admin", "installer", "duty", "security"}

// Validate checks a site's code, time zone and grid code (an empty grid code is allowed), each
// problem naming its key (site.code, …). The first-run setup checks what it stores with it too.
func (s Site) Validate() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if !siteCodeRe.MatchString(s.Code) {
		add("site.code", "must be 1-63 lowercase letters, digits, '-' or '_' (it is part of every MQTT topic), got %q", s.Code)
	}
	// "Local" would load too, but it is this machine's setting, not an IANA name
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		add("site.time_zone", "unknown time zone %q", s.TimeZone)
	}
	if s.GridCode != "" && !gridCodeRe.MatchString(s.GridCode) {
		add("site.grid_code", "must be 15 digits (division 6, street 3, community 3, grid 3), got %q", s.GridCode)
	}
	return p
}

// Validate checks the configuration without I/O and returns every problem, each naming its key.
func (c *Config) Validate() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }

	p = append(p, c.Site.Validate()...)
	if c.DataDir == "" {
		add("data_dir", "required")
	}
	if c.MemoryLimitMiB != 0 && c.MemoryLimitMiB < 16 {
		add("memory_limit_mib", "must be 0 (no limit) or at least 16, got %d", c.MemoryLimitMiB)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	switch c.Broker.Mode {
	case "embedded":
		e := c.Broker.Embedded
		if e.Listen == "" {
			add("broker.embedded.listen", "required")
		}
		if e.TLSListen != "" && (e.TLSCertFile == "" || e.TLSKeyFile == "") {
			add("broker.embedded.tls_listen", "needs tls_cert_file and tls_key_file")
		}
		p = append(p, e.validateAdvertise()...)
		if e.MaxInflight < 1 || e.MaxInflight > 65535 {
			add("broker.embedded.max_inflight", "must be 1-65535, got %d", e.MaxInflight)
		}
		if e.MaxQueued < 1 {
			add("broker.embedded.max_queued", "must be positive, got %d", e.MaxQueued)
		}
		if e.MaxPacketSize < c.Ingest.MaxPayloadBytes {
			add("broker.embedded.max_packet_size", "must be at least ingest.max_payload_bytes (%d), got %d", c.Ingest.MaxPayloadBytes, e.MaxPacketSize)
		}
	case "external":
		x := c.Broker.External
		if !strings.HasPrefix(x.URL, "tcp://") && !strings.HasPrefix(x.URL, "ssl://") && !strings.HasPrefix(x.URL, "tls://") {
			add("broker.external.url", "must start with tcp://, ssl:// or tls://, got %q", x.URL)
		}
		if x.ClientID == "" {
			add("broker.external.client_id", "required: a fixed client id keeps the gateway's persistent session")
		}
		if (x.CertFile == "") != (x.KeyFile == "") {
			add("broker.external.cert_file", "cert_file and key_file go together")
		}
		if x.KeepAlive < time.Second {
			add("broker.external.keep_alive", "must be at least 1s, got %s", x.KeepAlive)
		}
	default:
		add("broker.mode", "must be embedded or external, got %q", c.Broker.Mode)
	}
	if c.Ingest.MaxPayloadBytes < 256 || c.Ingest.MaxPayloadBytes > 16<<20 {
		add("ingest.max_payload_bytes", "must be 256 bytes to 16 MiB, got %d", c.Ingest.MaxPayloadBytes)
	}
	if c.Ingest.BatchMax < 1 {
		add("ingest.batch_max", "must be positive, got %d", c.Ingest.BatchMax)
	}
	if c.Ingest.QueueMax < c.Ingest.BatchMax {
		add("ingest.queue_max", "must be at least ingest.batch_max (%d), got %d", c.Ingest.BatchMax, c.Ingest.QueueMax)
	}
	if c.Ingest.StatusFlush < time.Second {
		add("ingest.status_flush", "must be at least 1s, got %s", c.Ingest.StatusFlush)
	}
	if c.HTTP.Listen == "" {
		add("http.listen", "required")
	}
	for i, t := range c.HTTP.APITokens {
		key := fmt.Sprintf("http.api_tokens[%d]", i)
		if t.Name == "" {
			add(key+".name", "required")
		}
		if len(t.Token) < 16 {
			add(key+".token", "must be at least 16 characters")
		}
		if !validRole(t.Role) {
			add(key+".role", "must be one of %s, got %q", strings.Join(Roles, ", "), t.Role)
		}
	}
	p = append(p, c.Alarms.Validate("alarms")...)
	p = append(p, c.Uplink.validate()...)
	p = append(p, c.Influx.validate()...)
	p = append(p, c.validateVideo()...)
	p = append(p, c.validateSecurity()...)
	p = append(p, c.validateDevices()...)
	return p
}

func (c *Config) validateSecurity() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	h := c.HTTP
	switch h.TLS {
	case "":
	case "self-signed":
		if h.TLSCertFile != "" || h.TLSKeyFile != "" {
			add("http.tls", "give tls: self-signed or tls_cert_file and tls_key_file, not both")
		}
	default:
		add("http.tls", "must be self-signed or empty (use tls_cert_file and tls_key_file for your own certificate), got %q", h.TLS)
	}
	if (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		add("http.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	for i, host := range h.TLSHosts {
		if host == "" || (strings.ContainsAny(host, " /:") && net.ParseIP(host) == nil) {
			add(fmt.Sprintf("http.tls_hosts[%d]", i), "must be a host name or an IP address, got %q", host)
		}
	}
	if k := c.Security.DataKey; k != "" {
		if _, err := seal.ParseKey(k); err != nil {
			add("security.data_key", "%v (make one with: head -c 32 /dev/urandom | base64)", strings.TrimPrefix(err.Error(), "seal: "))
		}
	}
	sec := c.Security
	if sec.SessionLifetime < 5*time.Minute || sec.SessionLifetime > 30*24*time.Hour {
		add("security.session_lifetime", "must be 5m to 720h, got %s", sec.SessionLifetime)
	}
	if sec.SessionIdle < time.Minute || sec.SessionIdle > sec.SessionLifetime {
		add("security.session_idle", "must be at least 1m and at most session_lifetime (%s), got %s", sec.SessionLifetime, sec.SessionIdle)
	}
	return p
}

func validRole(r string) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

func (c *Config) validateDevices() Errors {
	var p Errors
	seen := map[string]string{}
	for i, d := range c.Devices {
		key := fmt.Sprintf("devices[%d]", i)
		if d.ID != "" {
			key = fmt.Sprintf("devices[%d] (%s)", i, d.ID)
		}
		for _, e := range ValidateDevice(d) {
			p = append(p, key+"."+e)
		}
		if prev, dup := seen[d.ID]; dup && d.ID != "" {
			p = append(p, key+".id: duplicate of "+prev)
		}
		seen[d.ID] = key
	}
	return p
}

// ValidateDevice checks one device and returns its problems as "field: message".
func ValidateDevice(d Device) []string {
	var p []string
	if !deviceIDRe.MatchString(d.ID) {
		p = append(p, fmt.Sprintf("id: must be 1-64 letters, digits, '.', '-' or '_' (it is the MQTT username), got %q", d.ID))
	}
	if !drivers.Family(d.Family).Valid() {
		p = append(p, fmt.Sprintf("family: must be callbutton, locker or charger, got %q", d.Family))
	}
	if d.GridCode != "" && !gridCodeRe.MatchString(d.GridCode) {
		p = append(p, fmt.Sprintf("grid_code: must be 15 digits, got %q", d.GridCode))
	}
	if d.HeartbeatInterval != 0 && (d.HeartbeatInterval < time.Second || d.HeartbeatInterval > 24*time.Hour) {
		p = append(p, fmt.Sprintf("heartbeat_interval: must be 1s to 24h, got %s", d.HeartbeatInterval))
	}
	if d.Password != "" && d.PasswordHash != "" {
		p = append(p, "password: give password or password_hash, not both")
	}
	if d.Password != "" && len(d.Password) < 8 {
		p = append(p, "password: must be at least 8 characters")
	}
	if d.PasswordHash != "" && !strings.HasPrefix(d.PasswordHash, "$7$") && !strings.HasPrefix(d.PasswordHash, "$6$") {
		p = append(p, "password_hash: must be a Mosquitto $7$ (PBKDF2-SHA512) or $6$ hash")
	}
	if d.Resident != nil && d.Family != string(drivers.CallButton) {
		p = append(p, "resident: only call buttons have a resident")
	}
	if r := d.Resident; r != nil {
		if r.Name == "" {
			p = append(p, "resident.name: required")
		}
		if r.Age < 0 || r.Age > 130 {
			p = append(p, fmt.Sprintf("resident.age: must be 0-130, got %d", r.Age))
		}
	}
	return p
}

// DeviceCSVHeader is the header a devices CSV file must start with.
var DeviceCSVHeader = []string{"family", "id", "name", "building", "unit", "room", "grid_code",
	"heartbeat_interval", "password", "product_key", "resident_name", "resident_age", "resident_phone",
	"resident_medical_notes", "resident_lives_alone", "contact_name", "contact_relation", "contact_phone"}
