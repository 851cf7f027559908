package rtsp

import (
	"errors"
	"testing"
)

const camsimSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=camsim\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 packetization-mode=1;profile-level-id=42C01F;sprop-parameter-sets=Z0LAH9kAUAW7ARAAAAMAEAAAAwMg8YMkgA==,aM4yyA==\r\n" +
	"a=control:trackID=0\r\nm=audio 0 RTP/AVP 8\r\na=control:trackID=1\r\n"

// Shapes of SDP seen from real cameras: absolute controls, H.265, AAC, odd spacing.
const hikvisionLikeSDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=Media Presentation\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
	"a=control:rtsp://10.0.0.5:554/Streaming/Channels/101/?transportmode=unicast\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n" +
	"a=control:rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r\n" +
	"m=audio 0 RTP/AVP 104\r\na=rtpmap:104 mpeg4-generic/16000/1\r\na=fmtp:104 profile-level-id=15; streamtype=5; mode=AAC-hbr; config=1408\r\n" +
	"a=control:rtsp://10.0.0.5:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r\n"

func TestParseSDP(t *testing.T) {
	tracks, err := parseSDP([]byte(camsimSDP), "rtsp://127.0.0.1:8554/main/")
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 {
		t.Fatalf("tracks %+v", tracks)
	}
	v, a := tracks[0], tracks[1]
	if v.Codec != CodecH264 || !v.Playable || v.ClockRate != 90000 || v.PayloadType != 96 ||
		v.ProfileLevelID != "42c01f" || v.PacketizationMode != 1 || v.Control != "rtsp://127.0.0.1:8554/main/trackID=0" {
		t.Errorf("video %+v", v)
	}
	if si, err := ParseSPS(v.SPS); err != nil || si.Width != 1280 || len(v.PPS) == 0 {
		t.Errorf("sprop-parameter-sets: %+v %v pps %x", si, err, v.PPS)
	}
	if a.Codec != CodecPCMA || !a.Playable || a.ClockRate != 8000 || a.Control != "rtsp://127.0.0.1:8554/main/trackID=1" {
		t.Errorf("audio (static payload type 8, no rtpmap) %+v", a)
	}

	tracks, err = parseSDP([]byte(hikvisionLikeSDP), "rtsp://10.0.0.5/Streaming/Channels/101")
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 || tracks[0].Codec != CodecH265 || tracks[0].Playable ||
		tracks[1].Codec != CodecAAC || tracks[1].Playable || tracks[1].ClockRate != 16000 {
		t.Fatalf("tracks %+v", tracks)
	}
	if c := tracks[0].Control; c != "rtsp://10.0.0.5:554/Streaming/Channels/101/trackID=1?transportmode=unicast" {
		t.Errorf("absolute control with credentials: %q", c)
	}
}

func TestParseSDPErrors(t *testing.T) {
	for _, in := range []string{"", "hello", "v=0\r\nm=video\r\n"} {
		if _, err := parseSDP([]byte(in), "rtsp://h/"); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseSDP(%q) err = %v, want ErrProtocol", in, err)
		}
	}
}

func TestResolveControl(t *testing.T) {
	tests := []struct{ base, control, want string }{
		{"rtsp://h/s/", "trackID=0", "rtsp://h/s/trackID=0"},
		{"rtsp://h/s", "trackID=0", "rtsp://h/s/trackID=0"},
		{"rtsp://h/s", "*", "rtsp://h/s"},
		{"rtsp://h/s", "rtsp://u:p@h/x", "rtsp://h/x"},
		{"rtsp://h:554/s?q=1", "/other", "rtsp://h:554/other"},
	}
	for _, tc := range tests {
		if got := resolveControl(tc.base, tc.control); got != tc.want {
			t.Errorf("resolveControl(%q, %q) = %q, want %q", tc.base, tc.control, got, tc.want)
		}
	}
}
