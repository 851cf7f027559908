package tsdb

import (
	"bytes"
	"errors"
	"testing"
)

func TestRecordRoundTripAndDamage(t *testing.T) {
	lines := []byte("callbutton,device=a,site=s battery_pct=1 5\n")
	rec := appendRecord(nil, 1, 5, lines)
	m, got, err := parseRecord(rec)
	if err != nil || m.points != 1 || m.oldestMS != 5 || !bytes.Equal(got, lines) || m.size != int64(len(rec)) {
		t.Fatalf("round trip: %+v %q %v", m, got, err)
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errShort},
		{"torn header", rec[:10], errShort},
		{"torn payload", rec[:len(rec)-1], errShort},
		{"flipped bit", func() []byte { b := bytes.Clone(rec); b[len(b)-3] ^= 1; return b }(), errCorrupt},
		{"length too small", func() []byte { b := bytes.Clone(rec); b[0], b[1], b[2], b[3] = 3, 0, 0, 0; return b }(), errCorrupt},
		{"length too large", func() []byte { b := bytes.Clone(rec); b[3] = 0x7f; return b }(), errCorrupt},
	}
	for _, tc := range tests {
		if _, _, err := parseRecord(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzRecordReader feeds arbitrary bytes to the record parser as the spool reader does: it
// must never panic, never read past the input, and what it accepts must encode back to the
// same bytes.
func FuzzRecordReader(f *testing.F) {
	f.Add(appendRecord(nil, 2, 7, []byte("a f=1 7\na f=2 8\n")))
	f.Add(append(appendRecord(nil, 1, 1, []byte("x")), 1, 2, 3))
	f.Add([]byte{12, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			m, lines, err := parseRecord(b)
			if err != nil {
				return
			}
			if m.size > int64(len(b)) || m.size < metaLen {
				t.Fatalf("bad size %d of %d", m.size, len(b))
			}
			if again := appendRecord(nil, m.points, m.oldestMS, lines); !bytes.Equal(again, b[:m.size]) {
				t.Fatalf("accepted record does not encode back")
			}
			b = b[m.size:]
		}
	})
}
