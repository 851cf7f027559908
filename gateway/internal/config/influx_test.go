package config

import (
	"strings"
	"testing"
	"time"
)

func TestInfluxSection(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		env    map[string]string
		want   []string // problems, each a substring
		expect func(t *testing.T, x Influx)
	}{
		{name: "off by default", yaml: minimal, expect: func(t *testing.T, x Influx) {
			if x.URL != "" || x.SpoolMaxBytes != 1<<30 || x.BatchSize != 5000 || x.FlushInterval != time.Second || x.SpoolMaxAge != 168*time.Hour {
				t.Errorf("defaults: %+v", x)
			}
		}},
		{name: "token from the environment", yaml: minimal + "influx: {url: \"http://127.0.0.1:8086\", bucket: db/rp, token: in-file}\n",
			env: map[string]string{"GATEWAY_INFLUX_TOKEN": "user:password"}, expect: func(t *testing.T, x Influx) {
				if x.Token != "user:password" || x.Bucket != "db/rp" {
					t.Errorf("%+v", x)
				}
			}},
		{name: "every problem named", yaml: minimal + "influx: {url: \"ftp://x\", bucket: \"\", batch_size: 0, flush_interval: 1ms, timeout: 1ms, spool_max_bytes: 10, spool_max_age: 1s}\n",
			want: []string{"influx.url:", "influx.bucket:", "influx.batch_size:", "influx.flush_interval:", "influx.timeout:", "influx.spool_max_bytes:", "influx.spool_max_age:"}},
		{name: "unknown key", yaml: minimal + "influx: {urll: x}\n", want: []string{"field urll not found"}},
		{name: "not checked when off", yaml: minimal + "influx: {url: \"\", batch_size: 0}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), env(tc.env))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if tc.expect != nil {
					tc.expect(t, c.Influx)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
