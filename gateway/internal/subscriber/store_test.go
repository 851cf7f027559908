package subscriber

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestOutboundStoreKeepsOnlyOutbound(t *testing.T) {
	s := newOutboundStore()
	s.Open()
	defer s.Close()
	sub := packets.NewControlPacket(packets.Subscribe)
	pub := packets.NewControlPacket(packets.Publish)
	s.Put("o.7", sub)
	s.Put("i.7", pub)
	if got := s.Get("o.7"); got != sub {
		t.Errorf("outbound o.7: got %v, want the subscription", got)
	}
	if got := s.Get("i.7"); got != nil {
		t.Errorf("inbound i.7 kept: %v", got)
	}
	if all := s.All(); len(all) != 1 || all[0] != "o.7" {
		t.Errorf("All: %v, want [o.7]", all)
	}
	s.Del("i.7")
	s.Del("o.7")
	if all := s.All(); len(all) != 0 {
		t.Errorf("after Del: %v", all)
	}
}
