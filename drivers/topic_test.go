package drivers_test

import (
	"testing"

	"github.com/community-edge/edge/drivers"
)

func TestParseTopic(t *testing.T) {
	for _, c := range []struct {
		topic  string
		want   drivers.Topic
		reason drivers.Reason
	}{
		{"community/s1/callbutton/cb-1/event", drivers.Topic{Site: "s1", Family: drivers.CallButton, Device: "cb-1", Channel: drivers.ChanEvent}, ""},
		{"community/s1/charger/c-1/cmd_ack", drivers.Topic{Site: "s1", Family: drivers.Charger, Device: "c-1", Channel: drivers.ChanCmdAck}, ""},
		{"/sys/a1PK/dev/thing/event/property/post", drivers.Topic{Alink: true, ProductKey: "a1PK", Device: "dev", Identifier: "property"}, ""},
		{"/sys/a1PK/dev/thing/event/SOSAlarm/post", drivers.Topic{Alink: true, ProductKey: "a1PK", Device: "dev", Identifier: "SOSAlarm"}, ""},
		{"community/s1/callbutton/cb-1/cmd", drivers.Topic{}, drivers.ReasonBadTopic},
		{"community/s1/callbutton/cb-1/event/x", drivers.Topic{}, drivers.ReasonBadTopic},
		{"community/s1/callbutton/cb-1", drivers.Topic{}, drivers.ReasonBadTopic},
		{"community//callbutton/cb-1/event", drivers.Topic{}, drivers.ReasonBadTopic},
		{"community/s1/fridge/f-1/event", drivers.Topic{}, drivers.ReasonUnknownFamily},
		{"/sys/a1PK/dev/thing/event/SOSAlarm/post_reply", drivers.Topic{}, drivers.ReasonBadTopic},
		{"/sys/a1PK/dev/thing/service/property/set", drivers.Topic{}, drivers.ReasonBadTopic},
		{"/sys//dev/thing/event/property/post", drivers.Topic{}, drivers.ReasonBadTopic},
		{"other/topic", drivers.Topic{}, drivers.ReasonBadTopic},
	} {
		got, err := drivers.ParseTopic(c.topic)
		if r := drivers.ReasonOf(err); r != c.reason || got != c.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v, reason %q", c.topic, got, err, c.want, c.reason)
		}
	}
}

func TestTopicBuilders(t *testing.T) {
	for _, topic := range []string{
		drivers.NativeTopic("s", drivers.Locker, "d", drivers.ChanTelemetry),
		drivers.AlinkPropertyTopic("pk", "d"),
		drivers.AlinkEventTopic("pk", "d", "E"),
	} {
		if _, err := drivers.ParseTopic(topic); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}
}
