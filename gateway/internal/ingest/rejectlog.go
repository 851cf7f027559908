package ingest

import (
	"log/slog"
	"sync"
	"time"

	"github.com/community-edge/edge/drivers"
)

// rejectLog logs rejected messages without flooding: the first of each reason at once, then
// at most one line per reason per interval, saying how many were left out.
type rejectLog struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[drivers.Reason]time.Time
	skipped  map[drivers.Reason]int
}

func newRejectLog(log *slog.Logger, interval time.Duration) *rejectLog {
	return &rejectLog{log: log, interval: interval, last: map[drivers.Reason]time.Time{}, skipped: map[drivers.Reason]int{}}
}

func (r *rejectLog) record(reason drivers.Reason, topic string, err error) {
	now := time.Now()
	r.mu.Lock()
	if now.Sub(r.last[reason]) < r.interval {
		r.skipped[reason]++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped[reason]
	r.skipped[reason] = 0
	r.last[reason] = now
	r.mu.Unlock()
	r.log.Warn("device message rejected", "reason", string(reason), "topic", topic, "err", err, "similar_not_logged", skipped)
}
