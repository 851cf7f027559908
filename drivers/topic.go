package drivers

import "strings"

// Channel is the last segment of a native topic.
type Channel string

// Native channels.
const (
	ChanEvent     Channel = "event"
	ChanTelemetry Channel = "telemetry"
	ChanStatus    Channel = "status"
	ChanCmd       Channel = "cmd"
	ChanCmdAck    Channel = "cmd_ack"
)

// NativePrefix is the first segment of every native-dialect topic.
const NativePrefix = "community"

// Topic is a parsed MQTT topic of either dialect.
type Topic struct {
	Alink bool
	// native: community/{Site}/{Family}/{Device}/{Channel}
	Site    string
	Family  Family
	Device  string
	Channel Channel
	// Alink: /sys/{ProductKey}/{Device}/thing/event/property/post or /sys/{ProductKey}/{Device}/thing/event/{Identifier}/post
	ProductKey string
	Identifier string // "property" for property posts
}

// NativeTopic builds the native topic of a device's channel.
func NativeTopic(site string, f Family, device string, ch Channel) string {
	return NativePrefix + "/" + site + "/" + string(f) + "/" + device + "/" + string(ch)
}

// AlinkPropertyTopic is the thing-model topic a device posts its properties on.
func AlinkPropertyTopic(productKey, device string) string {
	return "/sys/" + productKey + "/" + device + "/thing/event/property/post"
}

// AlinkEventTopic is the thing-model topic a device posts the event identifier on.
func AlinkEventTopic(productKey, device, identifier string) string {
	return "/sys/" + productKey + "/" + device + "/thing/event/" + identifier + "/post"
}

// ParseTopic parses a topic of either dialect without allocating. A topic of neither shape is
// rejected with ReasonBadTopic.
func ParseTopic(topic string) (Topic, error) {
	if rest, ok := strings.CutPrefix(topic, "/sys/"); ok {
		return parseAlink(topic, rest)
	}
	rest, ok := strings.CutPrefix(topic, NativePrefix+"/")
	if !ok {
		return Topic{}, Reject(ReasonBadTopic, "topic %q is of neither dialect", topic)
	}
	var t Topic
	var fam, ch string
	t.Site, rest, _ = strings.Cut(rest, "/")
	fam, rest, _ = strings.Cut(rest, "/")
	t.Device, ch, ok = strings.Cut(rest, "/")
	if !ok || t.Site == "" || fam == "" || t.Device == "" || ch == "" || strings.Contains(ch, "/") {
		return Topic{}, Reject(ReasonBadTopic, "topic %q is not community/{site}/{family}/{device}/{channel}", topic)
	}
	t.Family = Family(fam)
	if !t.Family.Valid() {
		return Topic{}, Reject(ReasonUnknownFamily, "topic %q names unknown family %q", topic, fam)
	}
	t.Channel = Channel(ch)
	switch t.Channel {
	case ChanEvent, ChanTelemetry, ChanStatus, ChanCmdAck:
	default:
		return Topic{}, Reject(ReasonBadTopic, "topic %q: %q is not a device channel", topic, ch)
	}
	return t, nil
}

func parseAlink(topic, rest string) (Topic, error) {
	t := Topic{Alink: true}
	var ok bool
	t.ProductKey, rest, _ = strings.Cut(rest, "/")
	t.Device, rest, ok = strings.Cut(rest, "/")
	if !ok || t.ProductKey == "" || t.Device == "" {
		return Topic{}, Reject(ReasonBadTopic, "alink topic %q has no product key or device name", topic)
	}
	rest, ok = strings.CutPrefix(rest, "thing/event/")
	if !ok {
		return Topic{}, Reject(ReasonBadTopic, "alink topic %q is not a thing/event post", topic)
	}
	ident, post, ok := strings.Cut(rest, "/")
	if !ok || post != "post" || ident == "" {
		return Topic{}, Reject(ReasonBadTopic, "alink topic %q is not a thing/event post", topic)
	}
	t.Identifier = ident
	return t, nil
}
