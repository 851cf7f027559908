package video

// gop is the group of pictures since the last keyframe: what a decoder needs to show the
// current picture. It holds at most max frames; a longer group is dropped until the next
// keyframe.
type gop struct {
	frames []*Frame
	ok     bool
	max    int
}

// newGOP returns an empty group bounded to what a viewer's queue can take at once.
func (h *Hub) newGOP() gop { return gop{max: h.cfg.ViewerQueue - 16} }

// add appends f, starting over at a keyframe.
func (g *gop) add(f *Frame) {
	switch {
	case f.Keyframe:
		g.frames, g.ok = append(g.frames[:0], f), true
	case g.ok && len(g.frames) < g.max:
		g.frames = append(g.frames, f)
	default:
		g.reset()
	}
}

// reset forgets the group (the stream broke).
func (g *gop) reset() {
	clear(g.frames)
	g.frames, g.ok = g.frames[:0], false
}

// get returns the group from its keyframe, or nil when there is none. The slice is valid
// until the next add or reset.
func (g *gop) get() []*Frame {
	if !g.ok {
		return nil
	}
	return g.frames
}
