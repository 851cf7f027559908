package fanout

import "testing"

func TestSlowSubscriberIsCutOffOthersGetEverything(t *testing.T) {
	var h Hub[int]
	slow, fast := h.Subscribe(2), h.Subscribe(10)
	h.Publish(1, 2, 3)
	h.Publish(4)
	var got []int
	for v := range slow.C {
		got = append(got, v)
	}
	if len(got) != 2 || !slow.Lagged {
		t.Fatalf("slow got %v, lagged %v", got, slow.Lagged)
	}
	for want := 1; want <= 4; want++ {
		if v := <-fast.C; v != want {
			t.Fatalf("fast got %d, want %d", v, want)
		}
	}
	fast.Close()
	fast.Close() // twice is fine
	if _, open := <-fast.C; open {
		t.Fatal("closed subscription still open")
	}
	s := h.Subscribe(1)
	h.CloseAll()
	if _, open := <-s.C; open || s.Lagged {
		t.Fatal("CloseAll did not close, or marked lagged")
	}
}
