package rtsp

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/pion/rtp"
)

type nopSink struct{}

func (nopSink) OnState(StateEvent)       {}
func (nopSink) OnAccessUnit(*AccessUnit) {}
func (nopSink) OnAudio(*AudioPacket)     {}

// BenchmarkReadPathTCP measures the whole TCP read path per RTP packet: interleaved
// framing, RTP parsing, FU-A reassembly, copy into a delivery slot, the Sink call.
// 720p 2 Mb/s is about 200 packets/s; the target is no allocation per packet.
func BenchmarkReadPathTCP(b *testing.B) {
	// one 30-packet frame of FU-A fragments, repeated
	var stream bytes.Buffer
	body := make([]byte, 1200)
	const perFrame = 30
	for i := 0; i < perFrame*8; i++ {
		fu := []byte{0x7c, 0x01}
		switch i % perFrame {
		case 0:
			fu[1] |= 0x80
		case perFrame - 1:
			fu[1] |= 0x40
		}
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i),
			Timestamp: uint32(i/perFrame) * 3600, Marker: i%perFrame == perFrame-1}, Payload: append(fu, body...)}
		raw, _ := p.Marshal()
		stream.Write([]byte{'$', 0})
		binary.Write(&stream, binary.BigEndian, uint16(len(raw)))
		stream.Write(raw)
	}
	data := stream.Bytes()
	c, _ := New(Config{URL: "rtsp://h/s"}, nopSink{})
	d := newDispatcher(nopSink{}, 32, &c.cnt)
	d.start()
	defer d.stop()
	s := &session{c: c, d: d, vch: 0, ach: -1}
	s.info.Video = &Track{PayloadType: 96, ClockRate: 90000}
	s.depack = newH264Depacketizer(0, s.onAccessUnit)
	r := bytes.NewReader(data)
	s.wr = newWireReader(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	seqBase := uint16(0)
	for b.Loop() {
		_, ch, frame, err := s.wr.next()
		if err == io.EOF {
			r.Reset(data)
			s.wr.br.Reset(r)
			seqBase += perFrame * 8
			s.depack.haveSeq = false
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if int(ch) == s.vch {
			s.onVideoRTP(frame)
		}
	}
}
