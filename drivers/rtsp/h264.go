package rtsp

import (
	"errors"
	"fmt"
)

// H.264 NAL unit types used here (ITU-T H.264 table 7-1, RFC 6184).
const (
	nalSlice = 1
	nalIDR   = 5
	nalSPS   = 7
	nalPPS   = 8
	nalAUD   = 9
	nalSTAPA = 24
	nalFUA   = 28
)

// DefaultMaxAccessUnit bounds one reassembled access unit (all NAL units of one frame).
// A 4K IDR frame at high quality is around 1-2 MiB.
const DefaultMaxAccessUnit = 4 << 20

// maxNALUsPerAU bounds the NAL units of one access unit (slices, SEI, parameter sets).
const maxNALUsPerAU = 256

// h264Depacketizer turns RTP packets (RFC 6184: single NAL unit, STAP-A, FU-A) into
// access units: every NAL unit of one RTP timestamp, completed by the marker bit or by
// the next timestamp. It reuses its buffers; it is not safe for concurrent use.
type h264Depacketizer struct {
	maxAU int
	// emit receives each complete access unit. nalus and their bytes are valid only
	// during the call. lost reports that packets were missing before this unit.
	emit func(ts uint32, nalus [][]byte, lost bool)

	buf     []byte   // NAL unit bytes of the current access unit, back to back
	offs    []int    // start offset of each NAL unit in buf; ends are the next start
	nalus   [][]byte // scratch handed to emit
	ts      uint32
	active  bool // buf holds part of an access unit with timestamp ts
	inFU    bool // an FU-A fragmented NAL unit is open at the end of buf
	broken  bool // the current access unit lost packets: drop it
	lost    bool // a unit was dropped since the last emit
	drops   int  // units dropped; the owner reads and resets it
	seq     uint16
	haveSeq bool
}

func newH264Depacketizer(maxAU int, emit func(uint32, [][]byte, bool)) *h264Depacketizer {
	if maxAU <= 0 {
		maxAU = DefaultMaxAccessUnit
	}
	return &h264Depacketizer{maxAU: maxAU, emit: emit}
}

var errShortPacket = errors.New("rtsp: h264: short packet")

// push adds one RTP packet's payload. It never panics on hostile input; malformed
// packets mark the current access unit broken and it is dropped.
func (d *h264Depacketizer) push(seq uint16, ts uint32, marker bool, payload []byte) {
	// A sequence gap may have eaten the tail of the open unit and the head of the
	// unit this packet belongs to: both are dropped.
	gap := d.haveSeq && seq != d.seq+1
	d.seq, d.haveSeq = seq, true
	if d.active && ts != d.ts {
		d.broken = d.broken || gap
		d.finish()
	}
	if !d.active {
		d.active, d.ts = true, ts
		d.buf, d.offs = d.buf[:0], d.offs[:0]
		d.inFU, d.broken = false, false
	}
	if gap {
		d.broken = true
	}
	if err := d.add(payload); err != nil {
		d.broken = true
	}
	if marker {
		d.finish()
	}
}

func (d *h264Depacketizer) add(p []byte) error {
	if len(p) < 1 {
		return errShortPacket
	}
	switch typ := p[0] & 0x1f; {
	case typ >= 1 && typ <= 23:
		d.inFU = false
		return d.appendNALU(p)
	case typ == nalSTAPA:
		d.inFU = false
		p = p[1:]
		for len(p) > 0 {
			if len(p) < 2 {
				return errShortPacket
			}
			n := int(p[0])<<8 | int(p[1])
			if n == 0 || len(p) < 2+n {
				return errShortPacket
			}
			if err := d.appendNALU(p[2 : 2+n]); err != nil {
				return err
			}
			p = p[2+n:]
		}
		return nil
	case typ == nalFUA:
		if len(p) < 3 {
			return errShortPacket
		}
		start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
		if start {
			if err := d.appendNALU(nil); err != nil {
				return err
			}
			d.buf = append(d.buf, p[0]&0xe0|p[1]&0x1f) // the fragmented unit's header
			d.inFU = true
		} else if !d.inFU {
			return fmt.Errorf("rtsp: h264: fu-a continuation without start")
		}
		if len(d.buf)+len(p)-2 > d.maxAU {
			d.inFU = false
			return fmt.Errorf("rtsp: h264: access unit exceeds %d bytes", d.maxAU)
		}
		d.buf = append(d.buf, p[2:]...)
		if end {
			d.inFU = false
		}
		return nil
	default: // STAP-B, MTAP, FU-B, reserved: not used by cameras in non-interleaved mode
		return fmt.Errorf("rtsp: h264: unsupported nal type %d", typ)
	}
}

func (d *h264Depacketizer) appendNALU(n []byte) error {
	if len(d.offs) >= maxNALUsPerAU {
		return fmt.Errorf("rtsp: h264: more than %d nal units in one access unit", maxNALUsPerAU)
	}
	if len(d.buf)+len(n)+1 > d.maxAU {
		return fmt.Errorf("rtsp: h264: access unit exceeds %d bytes", d.maxAU)
	}
	d.offs = append(d.offs, len(d.buf))
	d.buf = append(d.buf, n...)
	return nil
}

// finish emits the current access unit unless it is broken or incomplete.
func (d *h264Depacketizer) finish() {
	if !d.active {
		return
	}
	d.active = false
	if d.broken || d.inFU || len(d.offs) == 0 {
		d.broken, d.inFU = false, false
		d.lost = true
		d.drops++
		return
	}
	d.nalus = d.nalus[:0]
	for i, start := range d.offs {
		end := len(d.buf)
		if i+1 < len(d.offs) {
			end = d.offs[i+1]
		}
		if end > start {
			d.nalus = append(d.nalus, d.buf[start:end])
		}
	}
	lost := d.lost
	d.lost = false
	if len(d.nalus) > 0 {
		d.emit(d.ts, d.nalus, lost)
	}
}

// IsKeyframe reports whether an access unit contains an IDR slice.
func IsKeyframe(nalus [][]byte) bool {
	for _, n := range nalus {
		if len(n) > 0 && n[0]&0x1f == nalIDR {
			return true
		}
	}
	return false
}

// AppendAnnexB appends the NAL units to dst in Annex-B form (4-byte start codes), the
// form WebRTC's H.264 payloader and ffmpeg expect.
func AppendAnnexB(dst []byte, nalus [][]byte) []byte {
	for _, n := range nalus {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, n...)
	}
	return dst
}

// SPSInfo is what a sequence parameter set says about the picture.
type SPSInfo struct {
	Profile, Constraints, Level uint8
	Width, Height               int
	// FrameRate from the VUI timing info, 0 when absent.
	FrameRate float64
}

// ProfileName is the usual name of the profile_idc.
func (s SPSInfo) ProfileName() string {
	switch s.Profile {
	case 66:
		if s.Constraints&0x40 != 0 {
			return "constrained baseline"
		}
		return "baseline"
	case 77:
		return "main"
	case 88:
		return "extended"
	case 100:
		return "high"
	case 110:
		return "high 10"
	case 122:
		return "high 4:2:2"
	case 244:
		return "high 4:4:4"
	}
	return fmt.Sprintf("profile %d", s.Profile)
}

// ParseSPS parses an H.264 sequence parameter set NAL unit (with its one-byte header).
func ParseSPS(nal []byte) (SPSInfo, error) {
	var s SPSInfo
	if len(nal) < 4 || nal[0]&0x1f != nalSPS {
		return s, errors.New("rtsp: sps: not an sps")
	}
	r := bitReader{b: unescapeRBSP(nal[1:])}
	s.Profile = uint8(r.u(8))
	s.Constraints = uint8(r.u(8))
	s.Level = uint8(r.u(8))
	r.ue() // seq_parameter_set_id
	chroma := uint32(1)
	switch s.Profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			r.u(1) // separate_colour_plane_flag
		}
		r.ue()           // bit_depth_luma_minus8
		r.ue()           // bit_depth_chroma_minus8
		r.u(1)           // qpprime_y_zero_transform_bypass_flag
		if r.u(1) == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := 0; i < lists; i++ {
				if r.u(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					last, next := int32(8), int32(8)
					for j := 0; j < size && r.err == nil; j++ {
						if next != 0 {
							next = (last + r.se() + 256) % 256
						}
						if next != 0 {
							last = next
						}
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.u(1) // delta_pic_order_always_zero_flag
		r.se() // offset_for_non_ref_pic
		r.se() // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return s, errors.New("rtsp: sps: bad num_ref_frames_in_pic_order_cnt_cycle")
		}
		for i := uint32(0); i < n; i++ {
			r.se()
		}
	}
	r.ue()                 // max_num_ref_frames
	r.u(1)                 // gaps_in_frame_num_value_allowed_flag
	wMbs := r.ue() + 1     // pic_width_in_mbs_minus1
	hUnits := r.ue() + 1   // pic_height_in_map_units_minus1
	frameMbsOnly := r.u(1) // frame_mbs_only_flag
	if frameMbsOnly == 0 {
		r.u(1) // mb_adaptive_frame_field_flag
	}
	r.u(1) // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.u(1) == 1 { // frame_cropping_flag
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return s, fmt.Errorf("rtsp: sps: %w", r.err)
	}
	if wMbs > 1024 || hUnits > 1024 {
		return s, errors.New("rtsp: sps: picture size out of range")
	}
	subW, subH := uint32(2), uint32(2) // 4:2:0
	switch chroma {
	case 0:
		subW, subH = 1, 1
	case 2:
		subH = 1
	case 3:
		subW, subH = 1, 1
	}
	cropX, cropY := subW, subH*(2-frameMbsOnly)
	if chroma == 0 {
		cropX, cropY = 1, 2-frameMbsOnly
	}
	w := int64(wMbs)*16 - int64(cropX)*(int64(cl)+int64(cr))
	h := int64(2-frameMbsOnly)*int64(hUnits)*16 - int64(cropY)*(int64(ct)+int64(cb))
	if w <= 0 || h <= 0 {
		return s, errors.New("rtsp: sps: cropping exceeds the picture")
	}
	s.Width, s.Height = int(w), int(h)

	if r.u(1) == 1 { // vui_parameters_present_flag
		if r.u(1) == 1 && r.u(8) == 255 { // aspect_ratio_info_present_flag, Extended_SAR
			r.u(16)
			r.u(16)
		}
		if r.u(1) == 1 { // overscan_info_present_flag
			r.u(1)
		}
		if r.u(1) == 1 { // video_signal_type_present_flag
			r.u(4)
			if r.u(1) == 1 { // colour_description_present_flag
				r.u(24)
			}
		}
		if r.u(1) == 1 { // chroma_loc_info_present_flag
			r.ue()
			r.ue()
		}
		if r.u(1) == 1 { // timing_info_present_flag
			tick, scale := r.u(32), r.u(32)
			if r.err == nil && tick > 0 {
				s.FrameRate = float64(scale) / float64(2*tick)
			}
		}
	}
	return s, nil
}

// unescapeRBSP removes emulation prevention bytes (00 00 03 -> 00 00).
func unescapeRBSP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// bitReader reads big-endian bits and Exp-Golomb codes; after an error it returns zeros.
type bitReader struct {
	b   []byte
	pos int // in bits
	err error
}

var errBitsExhausted = errors.New("truncated")

func (r *bitReader) u(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		if r.pos >= len(r.b)*8 {
			r.err = errBitsExhausted
			return 0
		}
		v = v<<1 | uint32(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.u(1) == 0 {
		if r.err != nil {
			return 0
		}
		zeros++
		if zeros > 31 {
			r.err = errors.New("exp-golomb code too long")
			return 0
		}
	}
	return (1<<zeros - 1) + r.u(zeros)
}

func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32((v + 1) / 2)
	}
	return -int32(v / 2)
}
