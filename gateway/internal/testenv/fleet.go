package testenv

import (
	"fmt"
	"strings"

	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/credential"
)

// The logins the benchmark programs give their gateway, devices and broker.
const (
	BenchSite            = "bench"
	BenchToken           = "bench-admin-token-0123456789"
	BenchDevicePassword  = "bench-device-password"
	BenchGatewayPassword = "bench-gateway-password"
)

// Fleet is the load generator's devices as a benchmark's gateway and broker declare them, all
// logging in with BenchDevicePassword.
type Fleet struct {
	Members  []load.Member
	Hash     string // of BenchDevicePassword
	GateHash string // of BenchGatewayPassword
}

// NewFleet declares the first n devices of a load run with the default prefix and families.
func NewFleet(n int) (Fleet, error) {
	h, err := credential.Hash(BenchDevicePassword)
	if err != nil {
		return Fleet{}, err
	}
	g, err := credential.Hash(BenchGatewayPassword)
	if err != nil {
		return Fleet{}, err
	}
	return Fleet{Members: load.Members(n, "", nil), Hash: h, GateHash: g}, nil
}

// DeviceItems returns the devices as items of a gateway configuration's devices: list.
func (f Fleet) DeviceItems() string {
	var b strings.Builder
	for _, m := range f.Members {
		fmt.Fprintf(&b, "  - {id: %s, family: %s, heartbeat_interval: 1h, password_hash: %q}\n", m.ID, m.Family, f.Hash)
	}
	return b.String()
}

// Passwd returns Mosquitto password-file lines for the gateway and every device.
func (f Fleet) Passwd() []string {
	out := []string{"gateway:" + f.GateHash}
	for _, m := range f.Members {
		out = append(out, m.ID+":"+f.Hash)
	}
	return out
}

// ExternalBrokerYAML is the broker section of a gateway logging in to a broker at addr.
func ExternalBrokerYAML(addr string) string {
	return fmt.Sprintf("broker:\n  mode: external\n  external: {url: \"tcp://%s\", client_id: gateway-bench, username: gateway, password: %s}\n",
		addr, BenchGatewayPassword)
}

// BaseYAML is the site, data directory, logging and HTTP sections of a benchmark gateway.
func BaseYAML(dataDir string, httpPort int) string {
	return fmt.Sprintf("site: {code: %s}\ndata_dir: %s\nlog: {level: warn}\n", BenchSite, dataDir) +
		fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\n  api_tokens: [{name: bench, token: %s, role: admin}]\n", httpPort, BenchToken)
}
