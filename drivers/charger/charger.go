// Package charger is the driver of e-bike charging posts (电动自行车充电桩): charging
// sessions, faults with OCPP 1.6 error codes, over-temperature and smoke, and per-port
// telemetry. See README.md for the messages it accepts and what it rejects.
package charger

import (
	"slices"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/codec"
)

// OCPPErrorCodes lists the OCPP 1.6 ChargePointErrorCode values a fault may carry.
func OCPPErrorCodes() []string {
	return []string{"ConnectorLockFailure", "EVCommunicationError", "GroundFailure",
		"HighTemperature", "InternalError", "LocalListConflict", "NoError", "OtherError",
		"OverCurrentFailure", "OverVoltage", "PowerMeterFailure", "PowerSwitchFailure",
		"ReaderFailure", "ResetFailure", "UnderVoltage", "WeakSignal"}
}

// New returns the charging post driver.
func New() drivers.Driver {
	codes := OCPPErrorCodes()
	return codec.New(spec(func(d *drivers.EventData) error { return normaliseFault(d, codes) }))
}

// normaliseFault keeps OCPP codes as they are; any other code (a vendor's own) becomes
// OtherError with the vendor's code in vendor_code, as OCPP's StatusNotification does.
func normaliseFault(d *drivers.EventData, codes []string) error {
	if slices.Contains(codes, d.Code) {
		return nil
	}
	if d.VendorCode == "" {
		d.VendorCode = d.Code
	}
	d.Code = "OtherError"
	return nil
}

func spec(checkFault func(*drivers.EventData) error) codec.Spec {
	port := codec.Field{Name: "port", Kind: codec.Int, Required: true, Min: 0, Max: codec.MaxPort}
	session := func(energyRequired bool) []codec.Field {
		return []codec.Field{
			port,
			{Name: "session", Kind: codec.Text, Required: true},
			{Name: "energy_wh", Kind: codec.Number, Required: energyRequired, Min: 0, Max: codec.Unbounded},
		}
	}
	return codec.Spec{
		Family: drivers.Charger,
		Events: []codec.EventType{
			{Name: "session_started", Fields: session(false)},
			{Name: "session_stopped", Fields: session(true)},
			{Name: "fault", Fields: []codec.Field{
				port,
				{Name: "code", Kind: codec.Text, Required: true},
				{Name: "vendor_code", Kind: codec.Text},
			}, Check: checkFault},
			{Name: "over_temperature", Fields: []codec.Field{
				port,
				{Name: "temp_c", Kind: codec.Number, Required: true},
			}},
			{Name: "smoke", Fields: []codec.Field{
				{Name: "port", Kind: codec.Int, Lenient: true, Min: 0, Max: codec.MaxPort},
			}},
		},
		Metrics: []string{"power_w", "voltage_v", "current_a", "temp_c", "energy_wh"},
		PerPort: true,
	}
}
