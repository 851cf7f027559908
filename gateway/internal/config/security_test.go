package config

import (
	"strings"
	"testing"
	"time"
)

func TestSecurityKeys(t *testing.T) {
	key := "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=" // 32 bytes
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string // problems; none means valid
		// check, when valid
		check func(*Config) bool
	}{
		{"defaults", minimal, nil, nil, func(c *Config) bool {
			return c.HTTP.TLS == "" && c.Security.SessionLifetime == 12*time.Hour && c.Security.SessionIdle == 2*time.Hour
		}},
		{"self-signed with hosts", minimal + "http:\n  tls: self-signed\n  tls_hosts: [gw.local, 192.168.1.2, \"fe80::1\"]\n", nil, nil,
			func(c *Config) bool { return len(c.HTTP.TLSHosts) == 3 }},
		{"own certificate", minimal + "http:\n  tls_cert_file: a.crt\n  tls_key_file: a.key\n", nil, nil, nil},
		{"data key from config", minimal + "security:\n  data_key: " + key + "\n", nil, nil, func(c *Config) bool { return c.Security.DataKey == key }},
		{"data key from the environment", minimal, map[string]string{"GATEWAY_DATA_KEY": key}, nil, func(c *Config) bool { return c.Security.DataKey == key }},
		{"unknown tls mode", minimal + "http:\n  tls: on\n", nil, []string{"http.tls:"}, nil},
		{"self-signed and files", minimal + "http:\n  tls: self-signed\n  tls_cert_file: a.crt\n  tls_key_file: a.key\n", nil, []string{"http.tls:"}, nil},
		{"cert without key", minimal + "http:\n  tls_cert_file: a.crt\n", nil, []string{"http.tls_cert_file:"}, nil},
		{"bad host", minimal + "http:\n  tls: self-signed\n  tls_hosts: [\"https://gw.local/\"]\n", nil, []string{"http.tls_hosts[0]:"}, nil},
		{"short data key", minimal + "security:\n  data_key: c2hvcnQ=\n", nil, []string{"security.data_key:", "32 bytes"}, nil},
		{"data key not base64", minimal + "security:\n  data_key: \"not a key!\"\n", nil, []string{"security.data_key:"}, nil},
		{"bad key in the environment", minimal, map[string]string{"GATEWAY_DATA_KEY": "nope"}, []string{"security.data_key:"}, nil},
		{"idle longer than lifetime", minimal + "security:\n  session_lifetime: 1h\n  session_idle: 2h\n", nil, []string{"security.session_idle:"}, nil},
		{"lifetime too short", minimal + "security:\n  session_lifetime: 1m\n  session_idle: 1m\n", nil, []string{"security.session_lifetime:"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), env(tc.env))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil && !tc.check(c) {
					t.Fatalf("parsed wrongly: %+v %+v", c.HTTP, c.Security)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
