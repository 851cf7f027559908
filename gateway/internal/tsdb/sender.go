package tsdb

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unsafe"

	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// sender sends one spool to InfluxDB: live data as it comes, in batches of BatchSize points or
// after FlushInterval, and — while InfluxDB takes writes — one backlog batch after each live
// one, so a long replay neither starves live data nor is starved by it.
type sender struct {
	w     *Writer
	sp    *spool
	m     *spoolMetrics
	log   *slog.Logger
	flush time.Duration

	live, back batch
	down       bool
	downSince  time.Time
	backoff    time.Duration
}

const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 10 * time.Second
)

func (s *sender) run(ctx context.Context) {
	size := s.w.cfg.BatchSize
	s.live.region, s.back.region = regionLive, regionBacklog
	s.live.reset(s.sp.livePos())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		sent := false
		if s.live.points < size {
			s.sp.fill(&s.live, size)
		}
		if s.live.points > 0 && (s.live.points >= size || time.Since(s.live.firstAt) >= s.flush) {
			if !s.send(ctx, &s.live) {
				s.sleep(ctx)
				continue
			}
			sent = true
		}
		// while InfluxDB is away the live batch probes it; with no live data the backlog does
		if p, ok := s.sp.backlogPos(); ok && (!s.down || s.live.points == 0) {
			if s.back.points == 0 {
				s.back.reset(p)
			}
			s.sp.fill(&s.back, size)
			if s.back.points > 0 {
				if !s.send(ctx, &s.back) {
					s.sleep(ctx)
					continue
				}
				sent = true
			}
		}
		if sent {
			continue
		}
		wait := s.flush
		if s.live.points > 0 {
			wait = max(s.flush-time.Since(s.live.firstAt), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-s.sp.notify:
		case <-timer.C:
		}
		timer.Stop()
	}
	s.drain()
}

// drain sends the live data left at shutdown, for DrainTimeout at most.
func (s *sender) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), s.w.cfg.DrainTimeout)
	defer cancel()
	for ctx.Err() == nil {
		s.sp.fill(&s.live, s.w.cfg.BatchSize)
		if s.live.points == 0 || !s.send(ctx, &s.live) {
			break
		}
	}
	for _, b := range []*batch{&s.live, &s.back} {
		if err := s.sp.keep(b); err != nil {
			s.m.dropped("stopped").Add(float64(b.points))
			s.log.Error("cannot keep the batch in flight at shutdown; dropped it (counted)", "points", b.points, "err", err)
		}
	}
	if n := s.sp.UnsentBytes(); n > 0 {
		s.log.Info("stopping with data in the spool; it is sent after the next start", "bytes", n)
	}
}

func (s *sender) sleep(ctx context.Context) {
	t := time.NewTimer(s.backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// send writes b. It returns true when b is done with (written, or rejected as malformed and
// counted) and false when it must be retried after s.backoff.
func (s *sender) send(ctx context.Context, b *batch) bool {
	wctx, cancel := context.WithTimeout(ctx, s.w.cfg.Timeout)
	start := time.Now()
	// The client only reads the body during the call; no copy of a batch of megabytes.
	err := s.w.write.WriteRecord(wctx, unsafe.String(unsafe.SliceData(b.lines), len(b.lines)))
	cancel()
	s.w.m.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		s.m.written.Add(float64(b.points))
		if b.region == regionBacklog {
			s.m.replayed.Add(float64(b.points))
		}
		s.done(b)
		if s.down {
			s.down = false
			s.w.m.up.Set(1)
			live, backlog := s.sp.startBacklog()
			s.live.reset(live)
			s.log.Info("InfluxDB takes writes again; replaying what was spooled beside live data",
				"down_for", time.Since(s.downSince).Round(time.Millisecond), "backlog_bytes", backlog)
		}
		s.backoff = 0
		return true
	}
	kind, retry := classify(err)
	s.w.m.errors.WithLabelValues(kind).Inc()
	if !retry {
		s.w.m.dropped.WithLabelValues(s.m.name, "rejected").Add(float64(b.points))
		s.log.Error("InfluxDB rejected a batch as malformed; dropped it (counted)", "points", b.points, "err", err)
		s.done(b)
		return true
	}
	var he *ihttp.Error
	retryAfter := time.Duration(0)
	if errors.As(err, &he) && he.RetryAfter > 0 {
		retryAfter = min(time.Duration(he.RetryAfter)*time.Second, time.Minute)
	}
	s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
	s.backoff = max(s.backoff, retryAfter)
	if ctx.Err() != nil {
		return false
	}
	if !s.down {
		s.down, s.downSince = true, time.Now()
		s.w.m.up.Set(0)
		s.log.Warn("InfluxDB is not taking writes; spooling to disk and retrying", "kind", kind, "err", err)
	} else if kind == "refused" {
		s.log.Error("InfluxDB refuses writes: check influx.url, org, bucket and token; spooling meanwhile", "err", err)
	}
	return false
}

// done commits b and starts the next batch of its region where it ended.
func (s *sender) done(b *batch) {
	s.sp.commit(b)
	b.reset(b.to)
}

// classify names a failed write and says whether it is worth retrying: network errors,
// timeouts, 5xx, 408 and 429 are; so are 401, 403 and 404 (configuration, fixed without losing
// data); any other 4xx means InfluxDB found the batch malformed.
func classify(err error) (kind string, retry bool) {
	var he *ihttp.Error
	if !errors.As(err, &he) || he.StatusCode == 0 {
		return "unavailable", true
	}
	switch c := he.StatusCode; {
	case c == http.StatusTooManyRequests:
		return "throttled", true
	case c == http.StatusUnauthorized || c == http.StatusForbidden || c == http.StatusNotFound:
		return "refused", true
	case c == http.StatusRequestTimeout || c >= 500:
		return "unavailable", true
	}
	return "rejected", false
}
