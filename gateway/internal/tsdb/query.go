package tsdb

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SeriesQuery asks for one metric of one device over a time range.
type SeriesQuery struct {
	Site, Family, Device, Metric string
	From, To                     time.Time
}

// Series is a metric's values over time, one line per charger port (one line for other
// families). Every is the aggregation window when the range was downsampled.
type Series struct {
	Every string       `json:"every,omitempty"`
	Lines []SeriesLine `json:"series"`
}

// SeriesLine is one series: points are [Unix ms, value].
type SeriesLine struct {
	Port   *int         `json:"port,omitempty"`
	Points [][2]float64 `json:"points"`
}

// Ranges longer than rawRange are downsampled with aggregateWindow to about targetPoints
// points; a query returns maxRows rows at most.
const (
	rawRange     = 2 * time.Hour
	targetPoints = 360
	maxRows      = 20000
)

var (
	metricRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)
	// windows are the aggregation windows a downsampled query may use.
	windows = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
)

// window is the aggregation window for a range, 0 for raw points.
func window(span time.Duration) time.Duration {
	if span <= rawRange {
		return 0
	}
	for _, w := range windows {
		if span/w <= targetPoints {
			return w
		}
	}
	return windows[len(windows)-1]
}

// fluxString quotes s for Flux.
func fluxString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// fluxDuration writes a window as a Flux duration literal.
func fluxDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// seriesFlux is the Flux query for q and its window (0: raw).
func seriesFlux(bucket string, q SeriesQuery) (string, time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", fluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r.site == %s and r.device == %s and r._field == %s)\n",
		fluxString(q.Family), fluxString(q.Site), fluxString(q.Device), fluxString(q.Metric))
	w := window(q.To.Sub(q.From))
	if w > 0 {
		fmt.Fprintf(&b, "  |> aggregateWindow(every: %s, fn: mean, createEmpty: false)\n", fluxDuration(w))
	}
	fmt.Fprintf(&b, "  |> keep(columns: [\"_time\", \"_value\", \"port\"])\n  |> limit(n: %d)\n", maxRows)
	return b.String(), w
}

// ValidMetric reports whether name can be a metric (field) name in a series query.
func ValidMetric(name string) bool { return metricRe.MatchString(name) }

// Series returns one metric of one device between q.From and q.To, downsampled with
// aggregateWindow (mean) when the range is longer than two hours.
func (w *Writer) Series(ctx context.Context, q SeriesQuery) (Series, error) {
	if !metricRe.MatchString(q.Metric) {
		return Series{}, fmt.Errorf("tsdb: metric %q is not a metric name", q.Metric)
	}
	if !q.From.Before(q.To) {
		return Series{}, fmt.Errorf("tsdb: from (%s) must be before to (%s)", q.From, q.To)
	}
	flux, win := seriesFlux(w.cfg.Bucket, q)
	res, err := w.query.Query(ctx, flux)
	if err != nil {
		return Series{}, fmt.Errorf("tsdb: series query: %w", err)
	}
	defer res.Close()
	byPort := map[string]*SeriesLine{}
	rows := 0
	for res.Next() && rows < maxRows {
		r := res.Record()
		v, ok := r.Value().(float64)
		if !ok {
			continue
		}
		port, _ := r.ValueByKey("port").(string)
		line := byPort[port]
		if line == nil {
			line = &SeriesLine{Points: [][2]float64{}}
			if n, err := strconv.Atoi(port); err == nil {
				line.Port = &n
			}
			byPort[port] = line
		}
		line.Points = append(line.Points, [2]float64{float64(r.Time().UnixMilli()), v})
		rows++
	}
	if err := res.Err(); err != nil {
		return Series{}, fmt.Errorf("tsdb: series query: %w", err)
	}
	out := Series{Lines: []SeriesLine{}}
	if win > 0 {
		out.Every = win.String()
	}
	ports := make([]string, 0, len(byPort))
	for p := range byPort {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool {
		a, errA := strconv.Atoi(ports[i])
		b, errB := strconv.Atoi(ports[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return ports[i] < ports[j]
	})
	for _, p := range ports {
		out.Lines = append(out.Lines, *byPort[p])
	}
	return out, nil
}
