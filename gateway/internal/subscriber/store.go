package subscriber

import (
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// outboundStore is paho's in-memory store without the inbound half. paho puts every QoS 1
// message it receives there until it is acknowledged, and on reconnect discards what it
// finds there: inbound entries matter only for QoS 2, which the gateway never subscribes
// with. The broker itself keeps unacknowledged messages for the session and delivers them
// again. Outbound packets (subscriptions) are kept as paho keeps them.
type outboundStore struct{ paho.Store }

func newOutboundStore() outboundStore { return outboundStore{paho.NewMemoryStore()} }

func inbound(key string) bool { return strings.HasPrefix(key, "i.") }

func (s outboundStore) Put(key string, m packets.ControlPacket) {
	if !inbound(key) {
		s.Store.Put(key, m)
	}
}

func (s outboundStore) Get(key string) packets.ControlPacket {
	if inbound(key) {
		return nil
	}
	return s.Store.Get(key)
}

func (s outboundStore) Del(key string) {
	if !inbound(key) {
		s.Store.Del(key)
	}
}
