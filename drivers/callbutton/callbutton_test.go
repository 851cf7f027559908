package callbutton_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/callbutton"
	dt "github.com/community-edge/edge/drivers/internal/drivertest"
)

var update = flag.Bool("update", false, "rewrite the .golden files under testdata/golden")

func suite(tb testing.TB) *dt.Suite { return dt.NewSuite(tb, callbutton.New(), "source") }

const (
	event     = "community/site-1/callbutton/dev-001/event"
	telemetry = "community/site-1/callbutton/dev-001/telemetry"
	status    = "community/site-1/callbutton/dev-001/status"
	cmdAck    = "community/site-1/callbutton/dev-001/cmd_ack"
	props     = "/sys/a1SOSbtn001/dev-001/thing/event/property/post"
	sosAlarm  = "/sys/a1SOSbtn001/dev-001/thing/event/SOSAlarm/post"
	lowBatt   = "/sys/a1SOSbtn001/dev-001/thing/event/LowBatteryAlarm/post"
)

func TestGolden(t *testing.T) { suite(t).Golden(t, *update) }

var cases = []dt.Case{
	// What is accepted, and how it is normalised.
	{Name: "sos source kept", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos","data":{"source":"wall"}}`, Contains: `"source":"wall"`},
	{Name: "sos without source is still an alarm", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos"}`, Contains: `"source":"unknown"`},
	{Name: "sos with an unknown source is still an alarm", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos","data":{"source":"remote"}}`, Contains: `"source":"unknown"`},
	{Name: "sos with a mistyped source is still an alarm", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos","data":{"source":7}}`, Contains: `"source":"unknown"`},
	{Name: "inactivity with bad hours is still an alarm", Topic: event, Payload: `{"id":"e1","ts":1,"type":"inactivity","data":{"hours":"many"}}`, Contains: `"type":"inactivity","data":{}`},
	{Name: "unknown data fields ignored", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fall","data":{"confidence":0.9}}`, Contains: `"type":"fall","data":{}`},
	{Name: "last repeated member wins", Topic: event, Payload: `{"id":"e1","ts":1,"type":"low_battery","data":{"battery_pct":5,"battery_pct":7}}`, Contains: `"battery_pct":7`},
	{Name: "id of 128 bytes", Topic: event, Payload: `{"id":"` + strings.Repeat("x", 128) + `","ts":1,"type":"fall"}`, Contains: `"type":"fall"`},
	{Name: "unknown metric kept aside", Topic: telemetry, Payload: `{"ts":1,"metrics":{"battery_pct":50,"snr_db":3}}`, Contains: `"metrics":{"battery_pct":50},"unknown_metrics":["snr_db"]`},
	{Name: "null metric is absent", Topic: telemetry, Payload: `{"ts":1,"metrics":{"battery_pct":null,"rssi_dbm":-80}}`, Contains: `"metrics":{"rssi_dbm":-80}`},
	{Name: "port ignored outside chargers", Topic: telemetry, Payload: `{"ts":1,"port":2,"metrics":{"battery_pct":50}}`, Contains: `{"ts":1,"metrics":{"battery_pct":50}}`},
	{Name: "last will without ts", Topic: status, Payload: `{"state":"offline"}`, Contains: `"status":{"state":"offline"}`},
	{Name: "alink unmapped property kept aside", Topic: props, Payload: `{"id":"1","params":{"RSSI":-60,"Wifi":"x"}}`, Contains: `"unknown_metrics":["Wifi"]`},
	{Name: "alink source mapped", Topic: sosAlarm, Payload: `{"id":"1","params":{"value":{"TriggerSource":2},"time":5}}`, Contains: `"source":"pull_cord"`},

	// malformed_json: not JSON, or JSON this decoder does not take.
	{Name: "empty payload", Topic: event, Payload: ``, Reason: drivers.ReasonMalformed, Contains: "callbutton: event"},
	{Name: "truncated", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos"`, Reason: drivers.ReasonMalformed, Contains: "unterminated object"},
	{Name: "trailing data", Topic: telemetry, Payload: `{"ts":1,"metrics":{}} {}`, Reason: drivers.ReasonMalformed, Contains: "data after the document"},
	{Name: "syntax error after a semantic one", Topic: event, Payload: `{"id":5,"ts":1,"type":"sos",}`, Reason: drivers.ReasonMalformed, Contains: "want a string key"},
	{Name: "invalid utf-8", Topic: event, Payload: "{\"id\":\"\xff\",\"ts\":1,\"type\":\"sos\"}", Reason: drivers.ReasonMalformed, Contains: "invalid utf-8"},
	{Name: "nested too deeply", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, Reason: drivers.ReasonMalformed, Contains: "nested too deeply"},
	{Name: "alink malformed", Topic: props, Payload: `{"params":{"RSSI":-6-}}`, Reason: drivers.ReasonMalformed, Contains: "alink property post"},

	// wrong_type
	{Name: "payload not an object", Topic: event, Payload: `["sos"]`, Reason: drivers.ReasonWrongType, Contains: "payload is a array, want an object"},
	{Name: "id a number", Topic: event, Payload: `{"id":17,"ts":1,"type":"sos"}`, Reason: drivers.ReasonWrongType, Contains: "id: want a string, got number"},
	{Name: "ts a string", Topic: event, Payload: `{"id":"e1","ts":"1767225600000","type":"sos"}`, Reason: drivers.ReasonWrongType, Contains: "ts: want an integer, got string"},
	{Name: "ts fractional", Topic: event, Payload: `{"id":"e1","ts":1.5,"type":"sos"}`, Reason: drivers.ReasonWrongType, Contains: "ts: want an integer, got 1.5"},
	{Name: "data an array", Topic: event, Payload: `{"id":"e1","ts":1,"type":"sos","data":[]}`, Reason: drivers.ReasonWrongType, Contains: "data: want an object, got array"},
	{Name: "battery_pct a string", Topic: event, Payload: `{"id":"e1","ts":1,"type":"low_battery","data":{"battery_pct":"8"}}`, Reason: drivers.ReasonWrongType, Contains: "event low_battery: data.battery_pct: want a number, got string"},
	{Name: "metric a string", Topic: telemetry, Payload: `{"ts":1,"metrics":{"battery_pct":"87"}}`, Reason: drivers.ReasonWrongType, Contains: "metrics.battery_pct: want a number, got string"},
	{Name: "metrics an array", Topic: telemetry, Payload: `{"ts":1,"metrics":[]}`, Reason: drivers.ReasonWrongType, Contains: "metrics: want an object"},
	{Name: "ok a string", Topic: cmdAck, Payload: `{"id":"c1","ok":"yes"}`, Reason: drivers.ReasonWrongType, Contains: "ok: want a boolean, got string"},
	{Name: "alink property a string", Topic: props, Payload: `{"id":"1","params":{"RSSI":"-60"}}`, Reason: drivers.ReasonWrongType, Contains: "params.RSSI: want a number"},
	{Name: "alink params an array", Topic: sosAlarm, Payload: `{"id":"1","params":[]}`, Reason: drivers.ReasonWrongType, Contains: "params: want an object"},
	{Name: "alink param mistyped", Topic: lowBatt, Payload: `{"id":"1","params":{"value":{"BatteryPercentage":"low"}}}`, Reason: drivers.ReasonWrongType, Contains: "data.battery_pct (parameter BatteryPercentage): want a number, got string"},

	// missing_field
	{Name: "no id", Topic: event, Payload: `{"ts":1,"type":"sos"}`, Reason: drivers.ReasonMissingField, Contains: "callbutton: event: id is missing"},
	{Name: "empty id", Topic: event, Payload: `{"id":"","ts":1,"type":"sos"}`, Reason: drivers.ReasonMissingField, Contains: "id is empty"},
	{Name: "no ts", Topic: event, Payload: `{"id":"e1","type":"sos"}`, Reason: drivers.ReasonMissingField, Contains: "ts is missing"},
	{Name: "no type", Topic: event, Payload: `{"id":"e1","ts":1}`, Reason: drivers.ReasonMissingField, Contains: "type is missing"},
	{Name: "low_battery without battery_pct", Topic: event, Payload: `{"id":"e1","ts":1,"type":"low_battery"}`, Reason: drivers.ReasonMissingField, Contains: "data.battery_pct is missing"},
	{Name: "telemetry without metrics", Topic: telemetry, Payload: `{"ts":1}`, Reason: drivers.ReasonMissingField, Contains: "metrics is missing"},
	{Name: "telemetry without ts", Topic: telemetry, Payload: `{"metrics":{}}`, Reason: drivers.ReasonMissingField, Contains: "ts is missing"},
	{Name: "online without ts", Topic: status, Payload: `{"state":"online","fw":"1"}`, Reason: drivers.ReasonMissingField, Contains: "ts is missing"},
	{Name: "status without state", Topic: status, Payload: `{"ts":1}`, Reason: drivers.ReasonMissingField, Contains: "state is missing"},
	{Name: "ack without ok", Topic: cmdAck, Payload: `{"id":"c1"}`, Reason: drivers.ReasonMissingField, Contains: "ok is missing"},
	{Name: "alink event without id", Topic: sosAlarm, Payload: `{"params":{"value":{}}}`, Reason: drivers.ReasonMissingField, Contains: "id is missing"},
	{Name: "alink without params", Topic: props, Payload: `{"id":"1"}`, Reason: drivers.ReasonMissingField, Contains: "params is missing"},
	{Name: "alink value object without value", Topic: props, Payload: `{"id":"1","params":{"RSSI":{"time":5}}}`, Reason: drivers.ReasonMissingField, Contains: "params.RSSI.value is missing"},

	// unknown_event_type
	{Name: "another family's type", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened"}`, Reason: drivers.ReasonUnknownType, Contains: `"door_opened" is not a callbutton event type`},
	{Name: "alink event not in the model", Topic: "/sys/a1SOSbtn001/dev-001/thing/event/Explosion/post", Payload: `{"id":"1","params":{"value":{}}}`, Reason: drivers.ReasonUnknownType, Contains: `product "a1SOSbtn001" has no event "Explosion"`},

	// out_of_range
	{Name: "ts zero", Topic: event, Payload: `{"id":"e1","ts":0,"type":"sos"}`, Reason: drivers.ReasonOutOfRange, Contains: "ts: 0 is not a positive unix time"},
	{Name: "ts negative", Topic: telemetry, Payload: `{"ts":-5,"metrics":{}}`, Reason: drivers.ReasonOutOfRange, Contains: "ts: -5 is not a positive"},
	{Name: "ts beyond int64", Topic: event, Payload: `{"id":"e1","ts":92233720368547758070,"type":"sos"}`, Reason: drivers.ReasonOutOfRange, Contains: "out of range"},
	{Name: "battery_pct above 100", Topic: event, Payload: `{"id":"e1","ts":1,"type":"low_battery","data":{"battery_pct":101}}`, Reason: drivers.ReasonOutOfRange, Contains: "data.battery_pct: 101 is outside [0, 100]"},
	{Name: "metric beyond float64", Topic: telemetry, Payload: `{"ts":1,"metrics":{"rssi_dbm":1e999}}`, Reason: drivers.ReasonOutOfRange, Contains: "metrics.rssi_dbm: 1e999 is out of range"},
	{Name: "unknown state", Topic: status, Payload: `{"state":"sleeping","ts":1}`, Reason: drivers.ReasonOutOfRange, Contains: `state "sleeping" is not online or offline`},
	{Name: "alink time zero", Topic: sosAlarm, Payload: `{"id":"1","params":{"value":{},"time":0}}`, Reason: drivers.ReasonOutOfRange, Contains: "params.time: 0 is not a positive"},

	// oversize
	{Name: "id of 129 bytes", Topic: event, Payload: `{"id":"` + strings.Repeat("x", 129) + `","ts":1,"type":"sos"}`, Reason: drivers.ReasonOversize, Contains: "id is 129 bytes, longer than 128"},
	{Name: "payload over the limit", Topic: telemetry, Payload: `{"ts":1,"metrics":{},"pad":"` + strings.Repeat(" ", drivers.MaxPayload) + `"}`, Reason: drivers.ReasonOversize, Contains: "larger than 16384"},
	{Name: "fw too long", Topic: status, Payload: `{"state":"online","ts":1,"fw":"` + strings.Repeat("v", 300) + `"}`, Reason: drivers.ReasonOversize, Contains: "fw is 300 bytes"},
	{Name: "ack error too long", Topic: cmdAck, Payload: `{"id":"c1","ok":false,"error":"` + strings.Repeat("e", 1025) + `"}`, Reason: drivers.ReasonOversize, Contains: "error is 1025 bytes"},

	// bad_topic, unknown_family, unknown_product
	{Name: "not a device channel", Topic: "community/site-1/callbutton/dev-001/cmd", Payload: `{}`, Reason: drivers.ReasonBadTopic, Contains: "not a device channel"},
	{Name: "neither dialect", Topic: "devices/dev-001/event", Payload: `{}`, Reason: drivers.ReasonBadTopic, Contains: "neither dialect"},
	{Name: "alink method of another event", Topic: sosAlarm, Payload: `{"id":"1","params":{"value":{}},"method":"thing.event.FallAlarm.post"}`, Reason: drivers.ReasonBadTopic, Contains: `method "thing.event.FallAlarm.post" does not match`},
	{Name: "unknown family", Topic: "community/site-1/doorbell/dev-001/event", Payload: `{}`, Reason: drivers.ReasonUnknownFamily, Contains: `unknown family "doorbell"`},
	{Name: "unknown product", Topic: "/sys/a1Unknown00/dev-001/thing/event/property/post", Payload: `{}`, Reason: drivers.ReasonUnknownModel, Contains: `"a1Unknown00" has no model`},
}

func TestDecode(t *testing.T) {
	s := suite(t)
	s.Table(t, cases)
	dt.Reasons(t, cases, dt.RegistryReasons()...)
	s.WrongFamily(t)
}

func TestEventTypes(t *testing.T) {
	got := strings.Join(callbutton.New().EventTypes(), " ")
	if want := "sos fall inactivity cancel low_battery tamper"; got != want {
		t.Errorf("event types %q, want %q", got, want)
	}
}

func FuzzDecodeCallButton(f *testing.F) {
	s := suite(f)
	s.Seeds(f)
	f.Fuzz(s.Fuzz)
}

func BenchmarkDecode(b *testing.B) {
	suite(b).Bench(b, []dt.BenchCase{
		{Name: "native_event", Topic: event, Payload: `{"id":"evt-000101","ts":1767225600123,"type":"sos","data":{"source":"pendant"}}`},
		{Name: "native_telemetry", Topic: telemetry, Payload: `{"ts":1767225600000,"metrics":{"battery_pct":87,"rssi_dbm":-71}}`},
		{Name: "alink_event", Topic: sosAlarm, Payload: `{"id":"1004","version":"1.0","params":{"value":{"TriggerSource":1},"time":1767225602000},"method":"thing.event.SOSAlarm.post"}`},
		{Name: "alink_property", Topic: props, Payload: `{"id":"1002","version":"1.0","params":{"BatteryPercentage":{"value":86,"time":1767225601000},"RSSI":{"value":-70,"time":1767225601500}},"method":"thing.event.property.post"}`},
	})
}
