package rules

// Severity ranks alarms.
type Severity string

// Severities, most urgent first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rank orders severities: 0 is the most urgent.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 0
	case High:
		return 1
	case Medium:
		return 2
	}
	return 3
}

// Alarm types raised by the built-in rules.
const (
	TypeSOS               = "sos"
	TypeFall              = "fall"
	TypeInactivity        = "inactivity"
	TypeTamper            = "tamper"
	TypeLowBattery        = "low_battery"
	TypeDeviceOffline     = "device_offline"
	TypeDoorLeftOpen      = "door_left_open"
	TypePowerLost         = "power_lost"
	TypeParcelUncollected = "parcel_uncollected"
	TypeSmoke             = "smoke"
	TypeOverTemperature   = "over_temperature"
	TypeChargerFault      = "charger_fault"
	TypeTempHigh          = "temperature_high"
	TypeOverPower         = "over_power"
	TypeUplinkDown        = "uplink_down"    // the gateway cannot reach the grid case system
	TypeCameraOffline     = "camera_offline" // a camera cannot be reached (condition camera_offline:<id>)
)

// Title is an alarm type's name for people.
type Title struct{ ZH, EN string }

// Titles names every alarm type in Chinese and English.
var Titles = map[string]Title{
	TypeSOS:               {"紧急呼叫", "Emergency call (SOS)"},
	TypeFall:              {"跌倒报警", "Fall detected"},
	TypeInactivity:        {"长时间无活动", "No activity for a long time"},
	TypeTamper:            {"设备被拆动", "Device tampered with"},
	TypeLowBattery:        {"电量低", "Battery low"},
	TypeDeviceOffline:     {"设备离线", "Device offline"},
	TypeDoorLeftOpen:      {"柜门未关", "Locker door left open"},
	TypePowerLost:         {"快递柜断电", "Locker lost power"},
	TypeParcelUncollected: {"独居老人包裹久未取件", "Parcel uncollected by a resident living alone"},
	TypeSmoke:             {"充电桩烟雾报警", "Smoke at a charging post"},
	TypeOverTemperature:   {"充电桩过温", "Charging post over temperature"},
	TypeChargerFault:      {"充电桩故障", "Charging post fault"},
	TypeTempHigh:          {"充电端口温度持续过高", "Charging port temperature high"},
	TypeOverPower:         {"充电功率超过额定值", "Charging power above the port's rating"},
	TypeUplinkDown:        {"与网格中心的连接中断", "Link to the grid centre down"},
	TypeCameraOffline:     {"摄像机离线", "Camera offline"},
}
