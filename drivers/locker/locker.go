// Package locker is the driver of parcel lockers (智能快递柜): door, parcel, tamper and
// power events and cabinet telemetry. See README.md for the messages it accepts and what it
// rejects.
package locker

import (
	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/codec"
)

// New returns the parcel locker driver.
func New() drivers.Driver { return codec.New(spec()) }

func spec() codec.Spec {
	compartment := codec.Field{Name: "compartment", Kind: codec.Text, Required: true}
	door := []codec.Field{compartment}
	parcel := []codec.Field{
		compartment,
		{Name: "parcel", Kind: codec.Text, Required: true},
		{Name: "resident", Kind: codec.Text},
	}
	return codec.Spec{
		Family: drivers.Locker,
		Events: []codec.EventType{
			{Name: "door_opened", Fields: door},
			{Name: "door_closed", Fields: door},
			{Name: "parcel_deposited", Fields: parcel},
			{Name: "parcel_collected", Fields: parcel},
			{Name: "tamper"},
			{Name: "power_lost"},
			{Name: "power_restored"},
		},
		Metrics: []string{"temperature_c", "humidity_pct", "occupied", "total"},
	}
}
