package video

import "testing"

func TestGOP(t *testing.T) {
	key := func() *Frame { return &Frame{Keyframe: true} }
	delta := func() *Frame { return &Frame{} }
	for _, tc := range []struct {
		name   string
		frames []*Frame
		want   int // frames returned by get; -1 for none
	}{
		{"empty", nil, -1},
		{"no keyframe yet", []*Frame{delta(), delta()}, -1},
		{"keyframe only", []*Frame{key()}, 1},
		{"from the last keyframe", []*Frame{delta(), key(), delta(), key(), delta(), delta()}, 3},
		{"at the bound", []*Frame{key(), delta(), delta()}, 3},
		{"over the bound until the next keyframe", []*Frame{key(), delta(), delta(), delta(), delta()}, -1},
		{"next keyframe after an overlong group", []*Frame{key(), delta(), delta(), delta(), key(), delta()}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gop{max: 3}
			for _, f := range tc.frames {
				g.add(f)
			}
			got := g.get()
			switch {
			case tc.want < 0 && got != nil:
				t.Fatalf("got %d frames, want none", len(got))
			case tc.want >= 0 && len(got) != tc.want:
				t.Fatalf("got %d frames, want %d", len(got), tc.want)
			case tc.want > 0 && !got[0].Keyframe:
				t.Fatal("the group does not start at its keyframe")
			}
			g.reset()
			if g.get() != nil {
				t.Fatal("a group after reset")
			}
		})
	}
}
