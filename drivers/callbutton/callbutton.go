// Package callbutton is the driver of elderly call buttons (一键呼叫): SOS pendants, wall
// buttons and pull cords, which also report falls and inactivity. See README.md for the
// messages it accepts and what it rejects.
package callbutton

import (
	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/codec"
)

// SOS sources. An sos whose source is missing or not one of these is still an alarm; its
// source becomes SourceUnknown.
const (
	SourcePendant  = "pendant"
	SourceWall     = "wall"
	SourcePullCord = "pull_cord"
	SourceUnknown  = "unknown"
)

// New returns the call button driver.
func New() drivers.Driver { return codec.New(spec()) }

func spec() codec.Spec {
	return codec.Spec{
		Family: drivers.CallButton,
		Events: []codec.EventType{
			{Name: "sos", Fields: []codec.Field{
				{Name: "source", Kind: codec.Enum, Lenient: true,
					Values:   []string{SourcePendant, SourceWall, SourcePullCord},
					Fallback: SourceUnknown},
			}},
			{Name: "fall"},
			{Name: "inactivity", Fields: []codec.Field{
				{Name: "hours", Kind: codec.Number, Lenient: true, Min: 0, Max: 24 * 366},
			}},
			{Name: "cancel"},
			{Name: "low_battery", Fields: []codec.Field{
				{Name: "battery_pct", Kind: codec.Number, Required: true, Min: 0, Max: 100},
			}},
			{Name: "tamper"},
		},
		Metrics: []string{"battery_pct", "rssi_dbm"},
	}
}
