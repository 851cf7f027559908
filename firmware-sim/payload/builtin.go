package payload

import "github.com/community-edge/edge/drivers"

// BuiltinModels returns the simulator's own product models, one per family, used when no
// model files are given. Their identifiers follow Alibaba Cloud's standard thing-model
// naming. A charger reports one port per property post, its number in PortNo.
func BuiltinModels() []*drivers.AlinkModel {
	return []*drivers.AlinkModel{
		{ProductKey: "a1SimCallBtn", Family: drivers.CallButton, Name: "simulated SOS call button",
			Properties: map[string]drivers.AlinkProperty{
				"BatteryPercentage": {Metric: "battery_pct"},
				"RSSI":              {Metric: "rssi_dbm"},
			},
			Events: map[string]drivers.AlinkEvent{
				"SOSAlarm":        {Type: "sos", Fields: map[string]string{"Source": "source"}},
				"FallAlarm":       {Type: "fall"},
				"InactivityAlarm": {Type: "inactivity", Fields: map[string]string{"Hours": "hours"}},
				"CancelAlarm":     {Type: "cancel"},
				"LowBatteryAlarm": {Type: "low_battery", Fields: map[string]string{"BatteryPercentage": "battery_pct"}},
				"TamperAlarm":     {Type: "tamper"},
			}},
		{ProductKey: "a1SimLocker", Family: drivers.Locker, Name: "simulated parcel locker",
			Properties: map[string]drivers.AlinkProperty{
				"Temperature":   {Metric: "temperature_c"},
				"Humidity":      {Metric: "humidity_pct"},
				"OccupiedCount": {Metric: "occupied"},
				"TotalCount":    {Metric: "total"},
			},
			Events: map[string]drivers.AlinkEvent{
				"DoorOpened":      {Type: "door_opened", Fields: map[string]string{"CompartmentNo": "compartment"}},
				"DoorClosed":      {Type: "door_closed", Fields: map[string]string{"CompartmentNo": "compartment"}},
				"ParcelDeposited": {Type: "parcel_deposited", Fields: parcelFields()},
				"ParcelCollected": {Type: "parcel_collected", Fields: parcelFields()},
				"TamperAlarm":     {Type: "tamper"},
				"PowerLost":       {Type: "power_lost"},
				"PowerRestored":   {Type: "power_restored"},
			}},
		{ProductKey: "a1SimCharger", Family: drivers.Charger, Name: "simulated e-bike charging post",
			Properties: map[string]drivers.AlinkProperty{
				"PortNo":      {Metric: "port"},
				"Power":       {Metric: "power_w"},
				"Voltage":     {Metric: "voltage_v"},
				"Current":     {Metric: "current_a"},
				"Temperature": {Metric: "temp_c"},
				"Energy":      {Metric: "energy_wh", Scale: 1000}, // kWh on the wire
			},
			Events: map[string]drivers.AlinkEvent{
				"SessionStarted":  {Type: "session_started", Fields: map[string]string{"PortNo": "port", "SessionId": "session"}},
				"SessionStopped":  {Type: "session_stopped", Fields: map[string]string{"PortNo": "port", "SessionId": "session", "EnergyWh": "energy_wh"}},
				"Fault":           {Type: "fault", Fields: map[string]string{"PortNo": "port", "ErrorCode": "code", "VendorErrorCode": "vendor_code"}},
				"OverTemperature": {Type: "over_temperature", Fields: map[string]string{"PortNo": "port", "Temperature": "temp_c"}},
				"SmokeAlarm":      {Type: "smoke"},
			}},
	}
}

func parcelFields() map[string]string {
	return map[string]string{"CompartmentNo": "compartment", "ParcelNo": "parcel", "ResidentId": "resident"}
}
