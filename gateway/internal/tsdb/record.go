package tsdb

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A spool record is
//
//	u32 payload length | u32 CRC-32C of the payload | payload
//
// and its payload is
//
//	u32 points | i64 oldest point timestamp (Unix ms) | line protocol, one point per line
//
// all little endian. A record is written with one write(2), so a process kill leaves it whole
// or absent; a torn record (power loss, disk error) fails the length or CRC check.
const (
	recHeader  = 8
	payHeader  = 12
	metaLen    = recHeader + payHeader
	maxPayload = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	errShort   = errors.New("tsdb: spool record cut short")
	errCorrupt = errors.New("tsdb: spool record corrupt")
)

// recordMeta is what a record's first bytes say.
type recordMeta struct {
	size     int64 // the whole record, header included
	points   uint32
	oldestMS int64
}

// appendRecord appends a record holding lines to dst.
func appendRecord(dst []byte, points uint32, oldestMS int64, lines []byte) []byte {
	n := payHeader + len(lines)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, points)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(oldestMS))
	dst = append(dst, lines...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+recHeader:], crcTable))
	return dst
}

// parseMeta reads a record's header and payload header from b (at least metaLen bytes).
func parseMeta(b []byte) (recordMeta, error) {
	if len(b) < metaLen {
		return recordMeta{}, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if n < payHeader || n > maxPayload {
		return recordMeta{}, errCorrupt
	}
	return recordMeta{size: recHeader + int64(n), points: binary.LittleEndian.Uint32(b[8:]),
		oldestMS: int64(binary.LittleEndian.Uint64(b[12:]))}, nil
}

// parseRecord checks the record at the start of b and returns its metadata and lines (which
// alias b).
func parseRecord(b []byte) (recordMeta, []byte, error) {
	m, err := parseMeta(b)
	if err != nil {
		return m, nil, err
	}
	if int64(len(b)) < m.size {
		return m, nil, errShort
	}
	if crc32.Checksum(b[recHeader:m.size], crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return m, nil, errCorrupt
	}
	return m, b[metaLen:m.size], nil
}
