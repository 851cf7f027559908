package rtsp

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestReceptionReport(t *testing.T) {
	tests := []struct {
		name      string
		seqs      []uint16
		lost      uint32
		fraction  uint8
		extMaxSeq uint32
	}{
		{"in order", []uint16{10, 11, 12, 13}, 0, 0, 13},
		{"one lost of four", []uint16{10, 11, 13}, 1, 64, 13},
		{"wrap", []uint16{65534, 65535, 0, 1}, 0, 0, 1<<16 + 1},
		{"reordered and duplicate", []uint16{10, 12, 11, 12, 13}, 0, 0, 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st rtpStats
			for _, s := range tc.seqs {
				st.update(7, s)
			}
			// duplicates count as received, as in RFC 3550 A.3, so loss may go negative: clamped to 0
			rep, ok := st.report(time.Now())
			if !ok || rep.SSRC != 7 || rep.TotalLost != tc.lost || rep.FractionLost != tc.fraction || rep.LastSequenceNumber != tc.extMaxSeq {
				t.Errorf("report %+v", rep)
			}
		})
	}
	var st rtpStats
	if _, ok := st.report(time.Now()); ok {
		t.Error("report before any packet")
	}
	st.update(9, 1)
	st.onSenderReport(&rtcp.SenderReport{SSRC: 9, NTPTime: 0x1122334455667788}, time.Now().Add(-time.Second))
	rep, _ := st.report(time.Now())
	if rep.LastSenderReport != 0x33445566 || rep.Delay < 60000 || rep.Delay > 70000 {
		t.Errorf("LSR %x DLSR %d, want 33445566 and about 65536 (1 s)", rep.LastSenderReport, rep.Delay)
	}
}
