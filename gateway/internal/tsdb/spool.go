package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pos is a place in a spool: a segment and a byte offset in it.
type pos struct {
	seg uint64
	off int64
}

func (p pos) before(q pos) bool { return p.seg < q.seg || p.seg == q.seg && p.off < q.off }

func maxPos(a, b pos) pos {
	if a.before(b) {
		return b
	}
	return a
}

// region says which part of a spool a batch is read from.
type region int

const (
	regionLive    region = iota // data since InfluxDB last accepted writes, sent as it comes
	regionBacklog               // data kept while InfluxDB was away, replayed beside live data
)

func (r region) String() string {
	if r == regionBacklog {
		return "backlog"
	}
	return "live"
}

// segment is one append-only segment file.
type segment struct {
	id    uint64
	size  int64
	mtime time.Time
}

// spoolConfig describes one spool.
type spoolConfig struct {
	Name         string        // telemetry or events; the metrics' spool label
	Dir          string        // its own directory
	MaxBytes     int64         // 0: unbounded (events); else oldest segments are dropped beyond it
	MaxAge       time.Duration // 0: no age bound; else segments last written longer ago are dropped
	SegmentBytes int64         // a segment is closed once it would grow past this
}

// spool is a durable FIFO of line-protocol records in segment files, with two read regions:
// live (from the live cursor to the tail) and backlog ([bFrom, bTo), data written while
// InfluxDB was away). One appender goroutine appends; one sender goroutine reads and commits.
// The cursors are saved in a small state file after every commit, so a restart resends at
// most the batch that was in flight (InfluxDB overwrites identical points, so that is no
// duplicate).
type spool struct {
	cfg spoolConfig
	m   *spoolMetrics
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	segs      []segment // oldest first; the last one is written
	bytes     int64     // sum of segment sizes
	wf        *os.File  // the last segment, for the appender only
	live      pos
	bFrom     pos // bFrom == bTo: no backlog
	bTo       pos
	liveRead  pos // how far the sender has read, so drops do not count what it holds
	backRead  pos
	state     *os.File
	ageCheck  time.Time
	rf        *os.File // the sender's reader
	rfID      uint64
	notify    chan struct{}
	stateBuf  [52]byte
	metaBuf   [metaLen]byte
	recordBuf []byte
}

func segName(id uint64) string { return fmt.Sprintf("%020d.seg", id) }

// openSpool opens (or creates) the spool in cfg.Dir and starts a new segment to write.
func openSpool(cfg spoolConfig, m *spoolMetrics, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("tsdb: spool %s: %w", cfg.Name, err)
	}
	s := &spool{cfg: cfg, m: m, log: log, now: time.Now, notify: make(chan struct{}, 1)}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("tsdb: spool %s: %w", cfg.Name, err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("tsdb: spool %s: %w", cfg.Name, err)
		}
		if info.Size() == 0 {
			os.Remove(filepath.Join(cfg.Dir, e.Name()))
			continue
		}
		s.segs = append(s.segs, segment{id: id, size: info.Size(), mtime: info.ModTime()})
		s.bytes += info.Size()
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmpU64(a.id, b.id) })
	next := uint64(1)
	if len(s.segs) > 0 {
		next = s.segs[len(s.segs)-1].id + 1
	}
	if s.state, err = os.OpenFile(filepath.Join(cfg.Dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
		return nil, fmt.Errorf("tsdb: spool %s: %w", cfg.Name, err)
	}
	head := pos{seg: next}
	if len(s.segs) > 0 {
		head = pos{seg: s.segs[0].id}
	}
	s.live = head
	if n, _ := s.state.ReadAt(s.stateBuf[:], 0); n == len(s.stateBuf) {
		b := s.stateBuf[:]
		if crc32.Checksum(b[:48], crcTable) == binary.LittleEndian.Uint32(b[48:]) {
			get := func(i int) pos {
				return pos{seg: binary.LittleEndian.Uint64(b[i*16:]), off: int64(binary.LittleEndian.Uint64(b[i*16+8:]))}
			}
			s.live, s.bFrom, s.bTo = maxPos(get(0), head), maxPos(get(1), head), maxPos(get(2), head)
		} else {
			s.log.Warn("spool cursor file is corrupt; replaying the whole spool (InfluxDB overwrites what it has already)", "spool", cfg.Name)
		}
	}
	if !s.bFrom.before(s.bTo) {
		s.bFrom, s.bTo = pos{}, pos{}
	}
	s.liveRead, s.backRead = s.live, s.bFrom
	if err := s.newSegment(next); err != nil {
		s.state.Close()
		return nil, err
	}
	s.m.diskBytes.Set(float64(s.bytes))
	if u := s.unsentBytes(); u > 0 {
		s.log.Info("spool holds data from before the restart; it will be sent", "spool", cfg.Name, "bytes", u, "segments", len(s.segs)-1)
	}
	return s, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newSegment creates and switches to segment id. Called with mu held or before sharing.
func (s *spool) newSegment(id uint64) error {
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, segName(id)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("tsdb: spool %s: %w", s.cfg.Name, err)
	}
	s.wf = f
	s.segs = append(s.segs, segment{id: id, mtime: s.now()})
	return nil
}

func (s *spool) tail() pos {
	w := s.segs[len(s.segs)-1]
	return pos{seg: w.id, off: w.size}
}

// append writes records (whole, as appendRecord makes them) at the tail, starting a new
// segment when the next record would not fit. On a failed or short write the segment is cut
// back, so a retry appends cleanly. Only the appender (and keep, after it) calls it.
func (s *spool) append(recs []byte) error {
	for len(recs) > 0 {
		s.mu.Lock()
		w := s.segs[len(s.segs)-1]
		room := s.cfg.SegmentBytes - w.size
		n := 0 // whole records that fit, at least one in an empty segment
		for n < len(recs) {
			size := recHeader + int(binary.LittleEndian.Uint32(recs[n:]))
			if n+size > int(room) && (n > 0 || w.size > 0) {
				break
			}
			n += size
		}
		if n == 0 {
			if err := s.rotate(w); err != nil {
				s.mu.Unlock()
				return err
			}
			s.mu.Unlock()
			continue
		}
		wf := s.wf
		s.mu.Unlock()

		if _, err := wf.Write(recs[:n]); err != nil {
			wf.Truncate(w.size)
			wf.Seek(w.size, io.SeekStart)
			return fmt.Errorf("tsdb: spool %s: append: %w", s.cfg.Name, err)
		}
		recs = recs[n:]

		s.mu.Lock()
		last := &s.segs[len(s.segs)-1]
		last.size += int64(n)
		last.mtime = s.now()
		s.bytes += int64(n)
		s.enforceBounds()
		s.m.diskBytes.Set(float64(s.bytes))
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// rotate syncs and closes the written segment w and starts the next; mu is held.
func (s *spool) rotate(w segment) error {
	s.wf.Sync()
	s.wf.Close()
	if err := s.newSegment(w.id + 1); err != nil {
		// keep writing the old one rather than fail
		f, oerr := os.OpenFile(filepath.Join(s.cfg.Dir, segName(w.id)), os.O_WRONLY, 0)
		if oerr != nil {
			return err
		}
		f.Seek(w.size, io.SeekStart)
		s.wf = f
		return err
	}
	return nil
}

// enforceBounds drops the oldest segments beyond the byte bound and those older than the age
// bound, counting the points not yet sent. The segment being written is never dropped.
func (s *spool) enforceBounds() {
	for s.cfg.MaxBytes > 0 && s.bytes > s.cfg.MaxBytes && len(s.segs) > 1 {
		s.dropOldest("spool_full")
	}
	if s.cfg.MaxAge > 0 {
		now := s.now()
		if now.Sub(s.ageCheck) < time.Second {
			return
		}
		s.ageCheck = now
		for len(s.segs) > 1 && now.Sub(s.segs[0].mtime) > s.cfg.MaxAge {
			s.dropOldest("too_old")
		}
	}
}

func (s *spool) backlog() bool { return s.bFrom.before(s.bTo) }

// unsentAt reports whether the record at p is neither sent nor held by the sender.
func (s *spool) unsentAt(p pos) bool {
	if !p.before(maxPos(s.live, s.liveRead)) {
		return true
	}
	return s.backlog() && !p.before(maxPos(s.bFrom, s.backRead)) && p.before(s.bTo)
}

func (s *spool) dropOldest(reason string) {
	seg := s.segs[0]
	var points uint64
	var meta [metaLen]byte // not s.metaBuf: the sender reads with that outside mu
	f, err := os.Open(filepath.Join(s.cfg.Dir, segName(seg.id)))
	if err == nil {
		for off := int64(0); off < seg.size; {
			if _, err := f.ReadAt(meta[:], off); err != nil {
				break
			}
			m, err := parseMeta(meta[:])
			if err != nil {
				break
			}
			if s.unsentAt(pos{seg.id, off}) {
				points += uint64(m.points)
			}
			off += m.size
		}
		f.Close()
	}
	if s.rf != nil && s.rfID == seg.id {
		s.rf.Close()
		s.rf = nil
	}
	os.Remove(filepath.Join(s.cfg.Dir, segName(seg.id)))
	s.segs = s.segs[1:]
	s.bytes -= seg.size
	next := pos{seg: seg.id + 1}
	s.live, s.liveRead = maxPos(s.live, next), maxPos(s.liveRead, next)
	if s.backlog() {
		s.bFrom, s.backRead = maxPos(s.bFrom, next), maxPos(s.backRead, next)
		if !s.bFrom.before(s.bTo) {
			s.bFrom, s.bTo = pos{}, pos{}
		}
	}
	s.m.dropped(reason).Add(float64(points))
	s.log.Warn("spool bound reached: dropped the oldest telemetry", "spool", s.cfg.Name, "reason", reason, "points", points,
		"segment_bytes", seg.size, "max_bytes", s.cfg.MaxBytes, "max_age", s.cfg.MaxAge)
	s.saveState()
}

// batch is line protocol read from one region of the spool, [from, to).
type batch struct {
	region   region
	from, to pos
	lines    []byte
	points   int
	oldestMS int64
	firstAt  time.Time // when its first record was read
}

func (b *batch) reset(at pos) {
	b.from, b.to = at, at
	b.lines = b.lines[:0]
	b.points = 0
	b.oldestMS = 0
	b.firstAt = time.Time{}
}

// fill reads whole records into b from b.to until its region ends or it holds maxPoints.
// A corrupt or torn record ends its segment: it is counted and reading goes on with the next.
func (s *spool) fill(b *batch, maxPoints int) {
	for b.points < maxPoints {
		s.mu.Lock()
		end := s.tail()
		if b.region == regionBacklog {
			if !s.backlog() {
				s.mu.Unlock()
				return
			}
			end = s.bTo
		}
		if head := s.segs[0].id; b.to.seg < head {
			b.to = pos{seg: head}
			if b.points == 0 {
				b.from = b.to
			}
		}
		if !b.to.before(end) {
			s.mu.Unlock()
			return
		}
		i, found := slices.BinarySearchFunc(s.segs, b.to.seg, func(sg segment, id uint64) int { return cmpU64(sg.id, id) })
		if !found { // a gap left by an empty segment: go on with the next one
			b.to = pos{seg: s.segs[i].id}
			s.mu.Unlock()
			continue
		}
		size, sealed := s.segs[i].size, i < len(s.segs)-1
		if b.to.seg == end.seg {
			size = end.off
		}
		if b.to.off >= size {
			if sealed {
				b.to = pos{seg: b.to.seg + 1}
			}
			s.mu.Unlock()
			if !sealed {
				return
			}
			continue
		}
		f, err := s.reader(b.to.seg)
		s.mu.Unlock()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // dropped meanwhile
			}
			s.log.Error("reading the spool failed", "spool", s.cfg.Name, "segment", b.to.seg, "err", err)
			return
		}
		m, lines, err := s.readRecord(f, b.to.off, size)
		if err != nil && !errors.Is(err, errShort) && !errors.Is(err, errCorrupt) {
			s.mu.Lock()
			gone := b.to.seg < s.segs[0].id
			s.mu.Unlock()
			if gone {
				continue // dropped (and its file closed) while being read
			}
			s.log.Error("reading the spool failed", "spool", s.cfg.Name, "segment", b.to.seg, "err", err)
			return
		}
		if err != nil {
			s.m.corrupt.Inc()
			s.log.Warn("spool record is torn or corrupt; skipping the rest of its segment", "spool", s.cfg.Name,
				"segment", b.to.seg, "offset", b.to.off, "err", err)
			s.mu.Lock()
			if sealed {
				b.to = pos{seg: b.to.seg + 1}
			} else {
				b.to = end
			}
			s.mu.Unlock()
			continue
		}
		if b.points == 0 {
			b.firstAt = s.now()
			b.oldestMS = m.oldestMS
		}
		b.oldestMS = min(b.oldestMS, m.oldestMS)
		b.lines = append(b.lines, lines...)
		b.points += int(m.points)
		b.to.off += m.size
		s.mu.Lock()
		if b.region == regionLive {
			s.liveRead = maxPos(s.liveRead, b.to)
		} else {
			s.backRead = maxPos(s.backRead, b.to)
		}
		s.mu.Unlock()
	}
}

// reader returns an open file of segment id; mu is held.
func (s *spool) reader(id uint64) (*os.File, error) {
	if s.rf != nil && s.rfID == id {
		return s.rf, nil
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, segName(id)))
	if err != nil {
		return nil, err
	}
	s.rf, s.rfID = f, id
	return f, nil
}

func (s *spool) readRecord(f *os.File, off, size int64) (recordMeta, []byte, error) {
	if size-off < metaLen {
		return recordMeta{}, nil, errShort
	}
	if _, err := f.ReadAt(s.metaBuf[:], off); err != nil {
		return recordMeta{}, nil, err
	}
	m, err := parseMeta(s.metaBuf[:])
	if err != nil {
		return m, nil, err
	}
	if off+m.size > size {
		return m, nil, errShort
	}
	if cap(s.recordBuf) < int(m.size) {
		s.recordBuf = make([]byte, m.size)
	}
	buf := s.recordBuf[:m.size]
	if _, err := f.ReadAt(buf, off); err != nil {
		return m, nil, err
	}
	m, lines, err := parseRecord(buf)
	return m, lines, err
}

// commit records that b is in InfluxDB (or given up on), deletes segments nothing needs any
// more and saves the cursors.
func (s *spool) commit(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.region == regionLive {
		s.live = maxPos(s.live, b.to)
	} else if s.backlog() {
		s.bFrom = maxPos(s.bFrom, b.to)
		if !s.bFrom.before(s.bTo) {
			s.bFrom, s.bTo, s.backRead = pos{}, pos{}, pos{}
		}
	}
	need := s.live
	if s.backlog() {
		need = s.bFrom
	}
	for len(s.segs) > 1 && s.segs[0].id < need.seg {
		seg := s.segs[0]
		if s.rf != nil && s.rfID == seg.id {
			s.rf.Close()
			s.rf = nil
		}
		os.Remove(filepath.Join(s.cfg.Dir, segName(seg.id)))
		s.segs = s.segs[1:]
		s.bytes -= seg.size
	}
	s.m.diskBytes.Set(float64(s.bytes))
	s.saveState()
}

// keep appends b again at the tail when the segment it started in was dropped while it was
// being sent, so stopping does not lose what the bound did not count as dropped. Called by
// the sender when it stops, after the appender has stopped.
func (s *spool) keep(b *batch) error {
	s.mu.Lock()
	gone := b.points > 0 && b.from.seg < s.segs[0].id
	s.mu.Unlock()
	if !gone {
		return nil
	}
	return s.append(appendRecord(nil, uint32(b.points), b.oldestMS, b.lines))
}

// startBacklog turns what was written since the live cursor into the backlog, when there is
// none yet, so live data goes first again; it returns the live cursor and the backlog's bytes.
func (s *spool) startBacklog() (pos, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.backlog() && s.live.before(s.tail()) {
		s.bFrom, s.bTo = s.live, s.tail()
		s.live, s.liveRead, s.backRead = s.bTo, s.bTo, s.bFrom
		s.saveState()
	}
	return s.live, s.between(s.bFrom, s.bTo)
}

// livePos is where the live region starts.
func (s *spool) livePos() pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// backlogPos is where the backlog starts; ok is false when there is none.
func (s *spool) backlogPos() (pos, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bFrom, s.backlog()
}

// between is the number of bytes from a to b; mu is held.
func (s *spool) between(a, b pos) int64 {
	var n int64
	for _, sg := range s.segs {
		lo, hi := int64(0), sg.size
		if sg.id < a.seg || sg.id > b.seg {
			continue
		}
		if sg.id == a.seg {
			lo = min(a.off, sg.size)
		}
		if sg.id == b.seg {
			hi = min(b.off, sg.size)
		}
		n += max(0, hi-lo)
	}
	return n
}

// unsentBytes is how much the spool holds that InfluxDB does not have yet; mu is held.
func (s *spool) unsentBytes() int64 {
	n := s.between(s.live, s.tail())
	if s.backlog() {
		n += s.between(s.bFrom, s.bTo)
	}
	return n
}

// UnsentBytes is how much the spool holds that InfluxDB does not have yet.
func (s *spool) UnsentBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsentBytes()
}

// oldestUnsentMS is the oldest point timestamp of the first record not yet sent, if any.
func (s *spool) oldestUnsentMS() (int64, bool) {
	s.mu.Lock()
	p, end := s.live, s.tail()
	if s.backlog() {
		p, end = s.bFrom, s.bTo
	}
	segs := slices.Clone(s.segs)
	s.mu.Unlock()
	for _, sg := range segs {
		if sg.id < p.seg {
			continue
		}
		off := int64(0)
		if sg.id == p.seg {
			off = p.off
		}
		if sg.id > end.seg || sg.id == end.seg && off >= end.off {
			return 0, false
		}
		if off+metaLen > sg.size {
			continue
		}
		f, err := os.Open(filepath.Join(s.cfg.Dir, segName(sg.id)))
		if err != nil {
			continue
		}
		var b [metaLen]byte
		_, err = f.ReadAt(b[:], off)
		f.Close()
		if err != nil {
			continue
		}
		if m, err := parseMeta(b[:]); err == nil {
			return m.oldestMS, true
		}
	}
	return 0, false
}

// saveState writes the cursors; mu is held. No fsync: a killed process loses nothing the
// kernel has, and after a power loss a stale or torn cursor only resends (CRC-checked).
func (s *spool) saveState() {
	b := s.stateBuf[:]
	for i, p := range []pos{s.live, s.bFrom, s.bTo} {
		binary.LittleEndian.PutUint64(b[i*16:], p.seg)
		binary.LittleEndian.PutUint64(b[i*16+8:], uint64(p.off))
	}
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], crcTable))
	if _, err := s.state.WriteAt(b, 0); err != nil {
		s.log.Warn("saving the spool cursor failed; a restart may resend", "spool", s.cfg.Name, "err", err)
	}
}

// close syncs and closes the files; an empty last segment is removed.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.wf != nil {
		errs = append(errs, s.wf.Sync(), s.wf.Close())
		if w := s.segs[len(s.segs)-1]; w.size == 0 {
			os.Remove(filepath.Join(s.cfg.Dir, segName(w.id)))
		}
		s.wf = nil
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	s.saveState()
	errs = append(errs, s.state.Sync(), s.state.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tsdb: spool %s: close: %w", s.cfg.Name, err)
	}
	return nil
}
