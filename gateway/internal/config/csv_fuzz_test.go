package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzReadDeviceCSV feeds the parser the console's CSV import receives from the network:
// whatever the bytes, it answers rows and problems or an error, never a crash; every problem
// has a line, every row a line past the header, the row limit holds, and a row without
// problems is a valid device.
func FuzzReadDeviceCSV(f *testing.F) {
	f.Add([]byte("family,id,name,heartbeat_interval,resident_name,resident_age\ncallbutton,cb-1,x,30s,张,80\n"))
	f.Add([]byte("\ufefffamily,id\nlocker,lk-1\n\ncharger,\"ch\"\"1\"\n"))
	f.Add([]byte("family,id,contact_name\ncallbutton,cb-1,a\ncallbutton,cb-1\"x\n"))
	f.Add([]byte("id,id,family\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, problems, err := ReadDeviceCSV(bytes.NewReader(data), 5)
		if err != nil {
			if !errors.Is(err, ErrTooManyRows) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(rows) > 5 {
			t.Fatalf("%d rows past the limit of 5", len(rows))
		}
		bad := map[int]bool{}
		for _, p := range problems {
			if p.Msg == "" || p.Line < 0 {
				t.Fatalf("problem without a line or message: %+v", p)
			}
			bad[p.Line] = true
		}
		for _, r := range rows {
			if r.Line < 2 {
				t.Fatalf("row on line %d", r.Line)
			}
			if !bad[r.Line] && len(ValidateDevice(r.Device)) > 0 {
				t.Fatalf("line %d has no problem but %+v is invalid: %v", r.Line, r.Device, ValidateDevice(r.Device))
			}
		}
		if len(problems) > 0 && !strings.Contains(problems[0].String(), ":") {
			t.Fatalf("problem %q names no line", problems[0])
		}
	})
}

func TestDeviceEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       Broker
		want    DeviceEndpoint
		problem string
	}{
		{"embedded defaults", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883"}}, DeviceEndpoint{Port: 1883}, ""},
		{"embedded with TLS", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: "0.0.0.0:1883", TLSListen: ":8883"}}, DeviceEndpoint{Port: 1883, TLSPort: 8883}, ""},
		{"advertised host", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "192.168.1.10"}}, DeviceEndpoint{Host: "192.168.1.10", Port: 1883}, ""},
		{"advertised host and port", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "gw.example.org:21883"}}, DeviceEndpoint{Host: "gw.example.org", Port: 21883}, ""},
		{"advertised IPv6", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "[fd00::1]:1884"}}, DeviceEndpoint{Host: "fd00::1", Port: 1884}, ""},
		{"external", Broker{Mode: "external", External: ExternalBroker{URL: "tcp://10.0.0.5:1883"}}, DeviceEndpoint{Host: "10.0.0.5", Port: 1883}, ""},
		{"external TLS", Broker{Mode: "external", External: ExternalBroker{URL: "ssl://mq.example.org"}}, DeviceEndpoint{Host: "mq.example.org", TLSPort: 8883}, ""},
		{"a URL is not a host", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "mqtt://gw:1883"}}, DeviceEndpoint{}, "broker.embedded.advertise: must be a host name"},
		{"bad port", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "gw:99999"}}, DeviceEndpoint{}, "broker.embedded.advertise: port must be 1-65535"},
		{"empty port", Broker{Mode: "embedded", Embedded: EmbeddedBroker{Listen: ":1883", Advertise: "gw:"}}, DeviceEndpoint{}, "broker.embedded.advertise: port must be 1-65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.b.Embedded.validateAdvertise()
			if tc.problem != "" {
				if len(p) != 1 || !strings.HasPrefix(p[0], tc.problem) {
					t.Fatalf("problems %v, want %q", p, tc.problem)
				}
				return
			}
			if len(p) > 0 {
				t.Fatalf("problems %v", p)
			}
			if got := tc.b.DeviceEndpoint(); got != tc.want {
				t.Fatalf("endpoint %+v, want %+v", got, tc.want)
			}
		})
	}
}
