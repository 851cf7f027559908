package charger_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/charger"
	dt "github.com/community-edge/edge/drivers/internal/drivertest"
)

var update = flag.Bool("update", false, "rewrite the .golden files under testdata/golden")

func suite(tb testing.TB) *dt.Suite { return dt.NewSuite(tb, charger.New(), "code", "vendor_code") }

const (
	event     = "community/site-1/charger/dev-001/event"
	telemetry = "community/site-1/charger/dev-001/telemetry"
	props     = "/sys/a1EbikeChg1/dev-001/thing/event/property/post"
	started   = "/sys/a1EbikeChg1/dev-001/thing/event/ChargingStarted/post"
	fault     = "/sys/a1EbikeChg1/dev-001/thing/event/FaultAlarm/post"
	homeProps = "/sys/a1HomeChgS1/dev-001/thing/event/property/post"
	homeStop  = "/sys/a1HomeChgS1/dev-001/thing/event/ChargingStopped/post"
)

func TestGolden(t *testing.T) { suite(t).Golden(t, *update) }

var cases = []dt.Case{
	{Name: "ocpp code kept", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":1,"code":"HighTemperature","vendor_code":"T9"}}`, Contains: `"port":1,"code":"HighTemperature","vendor_code":"T9"`},
	{Name: "vendor code becomes OtherError", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":1,"code":"E12"}}`, Contains: `"code":"OtherError","vendor_code":"E12"`},
	{Name: "vendor code does not overwrite vendor_code", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":1,"code":"E12","vendor_code":"E12-3"}}`, Contains: `"code":"OtherError","vendor_code":"E12-3"`},
	{Name: "port zero is the whole post", Topic: event, Payload: `{"id":"e1","ts":1,"type":"over_temperature","data":{"port":0,"temp_c":90}}`, Contains: `"port":0,"temp_c":90`},
	{Name: "started without energy", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_started","data":{"port":2,"session":"S1"}}`, Contains: `"data":{"port":2,"session":"S1"}`},
	{Name: "session as integer", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_started","data":{"port":2,"session":20260101}}`, Contains: `"session":"20260101"`},
	{Name: "smoke is never rejected for its port", Topic: event, Payload: `{"id":"e1","ts":1,"type":"smoke","data":{"port":-3}}`, Contains: `"type":"smoke","data":{}`},
	{Name: "heartbeat needs no port", Topic: telemetry, Payload: `{"ts":1,"metrics":{}}`, Contains: `"telemetry":{"ts":1,"metrics":{}}`},
	{Name: "only unknown metrics need no port", Topic: telemetry, Payload: `{"ts":1,"metrics":{"gun_state":2}}`, Contains: `"unknown_metrics":["gun_state"]`},
	{Name: "alink gun number", Topic: props, Payload: `{"id":"1","params":{"ChargingPower":7,"GunNo":9}}`, Contains: `"port":9,"metrics":{"power_w":7}`},
	{Name: "alink scale", Topic: props, Payload: `{"id":"1","params":{"GunNo":1,"Voltage":2205}}`, Contains: `"voltage_v":220.5`},
	{Name: "alink fixed port", Topic: homeProps, Payload: `{"id":"1","params":{"Power":7}}`, Contains: `"port":1,"metrics":{"power_w":7}`},
	{Name: "alink fixed port on events", Topic: homeStop, Payload: `{"id":"1","params":{"value":{"OrderNo":"X","Energy":5}}}`, Contains: `"port":1,"session":"X","energy_wh":5`},
	{Name: "alink error code mapped", Topic: fault, Payload: `{"id":"1","params":{"value":{"GunNo":2,"ErrorCode":1}}}`, Contains: `"code":"OverCurrentFailure"`},

	{Name: "not json", Topic: event, Payload: `fault on port 3`, Reason: drivers.ReasonMalformed, Contains: "charger: event"},
	{Name: "bad number", Topic: telemetry, Payload: `{"ts":1,"port":01,"metrics":{}}`, Reason: drivers.ReasonMalformed, Contains: "want ',' or '}'"},
	{Name: "port a string", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":"2","code":"OverVoltage"}}`, Reason: drivers.ReasonWrongType, Contains: "event fault: data.port: want a number, got string"},
	{Name: "port fractional", Topic: telemetry, Payload: `{"ts":1,"port":1.5,"metrics":{}}`, Reason: drivers.ReasonWrongType, Contains: "port: want an integer, got 1.5"},
	{Name: "alink gun number fractional", Topic: props, Payload: `{"id":"1","params":{"GunNo":1.5,"ChargingPower":7}}`, Reason: drivers.ReasonWrongType, Contains: "GunNo: want an integer, got 1.5"},
	{Name: "fault without port", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"code":"OverVoltage"}}`, Reason: drivers.ReasonMissingField, Contains: "charger: event fault: data.port is missing"},
	{Name: "fault without code", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":1}}`, Reason: drivers.ReasonMissingField, Contains: "data.code is missing"},
	{Name: "session without session id", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_started","data":{"port":1}}`, Reason: drivers.ReasonMissingField, Contains: "data.session is missing"},
	{Name: "stopped without energy", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_stopped","data":{"port":1,"session":"S1"}}`, Reason: drivers.ReasonMissingField, Contains: "data.energy_wh is missing"},
	{Name: "over_temperature without temp", Topic: event, Payload: `{"id":"e1","ts":1,"type":"over_temperature","data":{"port":1}}`, Reason: drivers.ReasonMissingField, Contains: "data.temp_c is missing"},
	{Name: "metrics without port", Topic: telemetry, Payload: `{"ts":1,"metrics":{"power_w":5}}`, Reason: drivers.ReasonMissingField, Contains: "port is missing: charger metrics are per port"},
	{Name: "alink metrics without gun number", Topic: props, Payload: `{"id":"1","params":{"ChargingPower":7}}`, Reason: drivers.ReasonMissingField, Contains: "alink property post: port is missing"},
	{Name: "alink started without gun number", Topic: started, Payload: `{"id":"1","params":{"value":{"OrderNo":"S1"}}}`, Reason: drivers.ReasonMissingField, Contains: "alink event ChargingStarted (session_started): data.port is missing"},
	{Name: "locker type", Topic: event, Payload: `{"id":"e1","ts":1,"type":"door_opened"}`, Reason: drivers.ReasonUnknownType, Contains: `"door_opened" is not a charger event type`},
	{Name: "port above 255", Topic: event, Payload: `{"id":"e1","ts":1,"type":"fault","data":{"port":256,"code":"OverVoltage"}}`, Reason: drivers.ReasonOutOfRange, Contains: "data.port: 256 is outside [0, 255]"},
	{Name: "telemetry port negative", Topic: telemetry, Payload: `{"ts":1,"port":-1,"metrics":{}}`, Reason: drivers.ReasonOutOfRange, Contains: "port: -1 is outside [0, 255]"},
	{Name: "negative energy", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_stopped","data":{"port":1,"session":"S1","energy_wh":-4}}`, Reason: drivers.ReasonOutOfRange, Contains: "data.energy_wh: -4 is outside [0, ∞)"},
	{Name: "alink gun number out of range", Topic: props, Payload: `{"id":"1","params":{"GunNo":300}}`, Reason: drivers.ReasonOutOfRange, Contains: "GunNo: 300 is outside [0, 255]"},
	{Name: "session too long", Topic: event, Payload: `{"id":"e1","ts":1,"type":"session_started","data":{"port":1,"session":"` + strings.Repeat("s", 257) + `"}}`, Reason: drivers.ReasonOversize, Contains: "data.session: longer than 256 bytes"},
	{Name: "alink id too long", Topic: started, Payload: `{"id":"` + strings.Repeat("1", 129) + `","params":{"value":{}}}`, Reason: drivers.ReasonOversize, Contains: "id is 129 bytes"},
	{Name: "alink not a thing post", Topic: "/sys/a1EbikeChg1/dev-001/thing/service/property/set", Payload: `{}`, Reason: drivers.ReasonBadTopic, Contains: "not a thing/event post"},
	{Name: "no family", Topic: "community/site-1//dev-001/event", Payload: `{}`, Reason: drivers.ReasonBadTopic, Contains: "is not community/{site}/{family}/{device}/{channel}"},
	{Name: "unknown family", Topic: "community/site-1/evcharger/dev-001/event", Payload: `{}`, Reason: drivers.ReasonUnknownFamily, Contains: `unknown family "evcharger"`},
	{Name: "unknown product", Topic: "/sys/a1Other0000/dev-001/thing/event/property/post", Payload: `{}`, Reason: drivers.ReasonUnknownModel, Contains: "has no model"},
}

func TestDecode(t *testing.T) {
	s := suite(t)
	s.Table(t, cases)
	dt.Reasons(t, cases, dt.RegistryReasons()...)
	s.WrongFamily(t)
}

func TestEventTypes(t *testing.T) {
	got := strings.Join(charger.New().EventTypes(), " ")
	if want := "session_started session_stopped fault over_temperature smoke"; got != want {
		t.Errorf("event types %q, want %q", got, want)
	}
}

func TestOCPPErrorCodes(t *testing.T) {
	codes := charger.OCPPErrorCodes()
	if len(codes) != 16 {
		t.Errorf("%d OCPP 1.6 ChargePointErrorCode values, want 16: %v", len(codes), codes)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("%s listed twice", c)
		}
		seen[c] = true
	}
}

func FuzzDecodeCharger(f *testing.F) {
	s := suite(f)
	s.Seeds(f)
	f.Fuzz(s.Fuzz)
}

func BenchmarkDecode(b *testing.B) {
	suite(b).Bench(b, []dt.BenchCase{
		{Name: "native_event", Topic: event, Payload: `{"id":"ch-evt-2","ts":1767225600200,"type":"session_stopped","data":{"port":3,"session":"S-20260101-0003","energy_wh":812.5}}`},
		{Name: "native_telemetry", Topic: telemetry, Payload: `{"ts":1767225600000,"port":3,"metrics":{"power_w":231.5,"voltage_v":220.4,"current_a":1.05,"temp_c":41.2,"energy_wh":405}}`},
		{Name: "alink_event", Topic: fault, Payload: `{"id":"3006","version":"1.0","params":{"value":{"GunNo":2,"ErrorCode":5,"VendorErrorCode":"E05"},"time":1767225604000},"method":"thing.event.FaultAlarm.post"}`},
		{Name: "alink_property", Topic: props, Payload: `{"id":"3001","version":"1.0","params":{"GunNo":3,"ChargingPower":231.5,"Voltage":2204,"Current":105,"Temperature":41.2,"ChargedEnergy":405},"method":"thing.event.property.post"}`},
	})
}
