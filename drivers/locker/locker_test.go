package locker_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
	dt "github.com/community-edge/edge/drivers/internal/drivertest"
	"github.com/community-edge/edge/drivers/locker"
)

var update = flag.Bool("update", false, "rewrite the .golden files under testdata/golden")

func suite(tb testing.TB) *dt.Suite { return dt.NewSuite(tb, locker.New()) }

const (
	event     = "community/site-1/locker/dev-001/event"
	telemetry = "community/site-1/locker/dev-001/telemetry"
	status    = "community/site-1/locker/dev-001/status"
	props     = "/sys/a1PclLocker/dev-001/thing/event/property/post"
	deposited = "/sys/a1PclLocker/dev-001/thing/event/ParcelDeposited/post"
	opened    = "/sys/a1PclLocker/dev-001/thing/event/DoorOpened/post"
)

func TestGolden(t *testing.T) { suite(t).Golden(t, *update) }

var cases = []dt.Case{
	{Name: "compartment as text", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened","data":{"compartment":"A07"}}`, Contains: `"compartment":"A07"`},
	{Name: "compartment as integer", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_closed","data":{"compartment":7}}`, Contains: `"compartment":"7"`},
	{Name: "resident optional", Topic: event, Payload: `{"id":"e1","ts":1,"type":"parcel_collected","data":{"compartment":"A1","parcel":"P1"}}`, Contains: `"data":{"compartment":"A1","parcel":"P1"}`},
	{Name: "power events carry no data", Topic: event, Payload: `{"id":"e1","ts":1,"type":"power_lost","data":{"compartment":"A1"}}`, Contains: `"type":"power_lost","data":{}`},
	{Name: "occupied and total", Topic: telemetry, Payload: `{"ts":1,"metrics":{"occupied":3,"total":60}}`, Contains: `"metrics":{"occupied":3,"total":60}`},
	{Name: "alink box number", Topic: opened, Payload: `{"id":"1","params":{"value":{"BoxNo":12},"time":9}}`, Contains: `"compartment":"12"`},

	{Name: "truncated", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened","data":{"compartment":"A`, Reason: drivers.ReasonMalformed, Contains: "unterminated string"},
	{Name: "bad escape", Topic: event, Payload: `{"id":"e\q","ts":1,"type":"tamper"}`, Reason: drivers.ReasonMalformed, Contains: "bad escape"},
	{Name: "compartment fractional", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened","data":{"compartment":7.5}}`, Reason: drivers.ReasonWrongType, Contains: "data.compartment: want a string or an integer, got 7.5"},
	{Name: "compartment an object", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened","data":{"compartment":{"row":1}}}`, Reason: drivers.ReasonWrongType, Contains: "data.compartment: want a string, got object"},
	{Name: "alink box number a boolean", Topic: opened, Payload: `{"id":"1","params":{"value":{"BoxNo":true}}}`, Reason: drivers.ReasonWrongType, Contains: "data.compartment (parameter BoxNo): want a string, got boolean"},
	{Name: "door without compartment", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened"}`, Reason: drivers.ReasonMissingField, Contains: "locker: event door_opened: data.compartment is missing"},
	{Name: "empty compartment", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened","data":{"compartment":""}}`, Reason: drivers.ReasonMissingField, Contains: "data.compartment is missing"},
	{Name: "parcel without parcel", Topic: event, Payload: `{"id":"e1","ts":1,"type":"parcel_deposited","data":{"compartment":"A1"}}`, Reason: drivers.ReasonMissingField, Contains: "data.parcel is missing"},
	{Name: "alink parcel without waybill", Topic: deposited, Payload: `{"id":"1","params":{"value":{"BoxNo":3}}}`, Reason: drivers.ReasonMissingField, Contains: "alink event ParcelDeposited (parcel_deposited): data.parcel is missing"},
	{Name: "callbutton type", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos"}`, Reason: drivers.ReasonUnknownType, Contains: `"sos" is not a locker event type`},
	{Name: "ts zero", Topic: telemetry, Payload: `{"ts":0,"metrics":{}}`, Reason: drivers.ReasonOutOfRange, Contains: "ts: 0 is not a positive"},
	{Name: "parcel too long", Topic: event, Payload: `{"id":"e1","ts":1,"type":"parcel_deposited","data":{"compartment":"A1","parcel":"` + strings.Repeat("9", 257) + `"}}`, Reason: drivers.ReasonOversize, Contains: "data.parcel: longer than 256 bytes"},
	{Name: "channel", Topic: "community/site-1/locker/dev-001/events", Payload: `{}`, Reason: drivers.ReasonBadTopic, Contains: `"events" is not a device channel`},
	{Name: "family", Topic: "community/site-1/lockers/dev-001/event", Payload: `{}`, Reason: drivers.ReasonUnknownFamily, Contains: `unknown family "lockers"`},
	{Name: "product", Topic: "/sys/a1NoSuchPrd/dev-001/thing/event/DoorOpened/post", Payload: `{}`, Reason: drivers.ReasonUnknownModel, Contains: `"a1NoSuchPrd" has no model`},
	{Name: "offline with bad ts", Topic: status, Payload: `{"state":"offline","ts":-1}`, Reason: drivers.ReasonOutOfRange, Contains: "ts: -1"},
	{Name: "alink property object", Topic: props, Payload: `{"id":"1","params":{"Temperature":[21]}}`, Reason: drivers.ReasonWrongType, Contains: "params.Temperature: want a number"},
}

func TestDecode(t *testing.T) {
	s := suite(t)
	s.Table(t, cases)
	dt.Reasons(t, cases, dt.RegistryReasons()...)
	s.WrongFamily(t)
}

func TestEventTypes(t *testing.T) {
	got := strings.Join(locker.New().EventTypes(), " ")
	if want := "door_opened door_closed parcel_deposited parcel_collected tamper power_lost power_restored"; got != want {
		t.Errorf("event types %q, want %q", got, want)
	}
}

func FuzzDecodeLocker(f *testing.F) {
	s := suite(f)
	s.Seeds(f)
	f.Fuzz(s.Fuzz)
}

func BenchmarkDecode(b *testing.B) {
	suite(b).Bench(b, []dt.BenchCase{
		{Name: "native_event", Topic: event, Payload: `{"id":"lk-evt-3","ts":1767225600300,"type":"parcel_deposited","data":{"compartment":"B12","parcel":"SF1234567890123","resident":"3-2-1101"}}`},
		{Name: "native_telemetry", Topic: telemetry, Payload: `{"ts":1767225600000,"metrics":{"temperature_c":23.4,"humidity_pct":61,"occupied":37,"total":60}}`},
		{Name: "alink_event", Topic: deposited, Payload: `{"id":"2004","version":"1.0","params":{"value":{"BoxNo":12,"WaybillNo":"YT9876543210","ResidentId":"3-2-1101"},"time":1767225603000},"method":"thing.event.ParcelDeposited.post"}`},
		{Name: "alink_property", Topic: props, Payload: `{"id":"2001","version":"1.0","params":{"Temperature":23.4,"Humidity":61,"OccupiedCount":37,"TotalCount":60},"method":"thing.event.property.post"}`},
	})
}
