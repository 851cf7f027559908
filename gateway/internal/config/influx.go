package config

import (
	"fmt"
	"strings"
	"time"
)

// Influx says where the gateway writes time series. An empty URL turns the writer off:
// telemetry then only updates the device registry.
type Influx struct {
	URL           string        `yaml:"url"`             // http(s)://host:8086; empty: off
	Org           string        `yaml:"org"`             // InfluxDB 2.x organisation (1.8: any)
	Bucket        string        `yaml:"bucket"`          // InfluxDB 2.x bucket, or database/retention_policy on 1.8
	Token         string        `yaml:"token"`           // API token (1.8: user:password); or GATEWAY_INFLUX_TOKEN
	BatchSize     int           `yaml:"batch_size"`      // points per write at most
	FlushInterval time.Duration `yaml:"flush_interval"`  // a batch waits at most this for more points
	Timeout       time.Duration `yaml:"timeout"`         // one write
	SpoolMaxBytes int64         `yaml:"spool_max_bytes"` // telemetry kept while InfluxDB is away, at most
	SpoolMaxAge   time.Duration `yaml:"spool_max_age"`   // telemetry older than this in the spool is dropped; 0: no bound
}

func defaultInflux() Influx {
	return Influx{Org: "community", Bucket: "community", BatchSize: 5000, FlushInterval: time.Second,
		Timeout: 10 * time.Second, SpoolMaxBytes: 1 << 30, SpoolMaxAge: 7 * 24 * time.Hour}
}

func (x Influx) validate() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, "influx."+key+": "+fmt.Sprintf(format, args...)) }
	if x.URL == "" {
		return nil
	}
	if !strings.HasPrefix(x.URL, "http://") && !strings.HasPrefix(x.URL, "https://") {
		add("url", "must start with http:// or https://, got %q", x.URL)
	}
	if x.Bucket == "" {
		add("bucket", "required (InfluxDB 1.8: database/retention_policy)")
	}
	if x.BatchSize < 1 || x.BatchSize > 100000 {
		add("batch_size", "must be 1-100000, got %d", x.BatchSize)
	}
	if x.FlushInterval < 10*time.Millisecond || x.FlushInterval > time.Minute {
		add("flush_interval", "must be 10ms to 1m, got %s", x.FlushInterval)
	}
	if x.Timeout < time.Second {
		add("timeout", "must be at least 1s, got %s", x.Timeout)
	}
	if x.SpoolMaxBytes < 1<<20 {
		add("spool_max_bytes", "must be at least 1 MiB (1048576), got %d", x.SpoolMaxBytes)
	}
	if x.SpoolMaxAge != 0 && x.SpoolMaxAge < time.Minute {
		add("spool_max_age", "must be 0 (no bound) or at least 1m, got %s", x.SpoolMaxAge)
	}
	return p
}
