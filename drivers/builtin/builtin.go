// Package builtin assembles the registry of every device family the gateway ships with.
package builtin

import (
	"errors"
	"fmt"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/callbutton"
	"github.com/community-edge/edge/drivers/charger"
	"github.com/community-edge/edge/drivers/locker"
)

// Drivers returns a new driver of every built-in family.
func Drivers() []drivers.Driver {
	return []drivers.Driver{callbutton.New(), locker.New(), charger.New()}
}

// New returns a registry with every built-in family and the given Alink product models
// (usually from drivers.LoadAlinkModels). It checks every model and reports every problem
// at once.
func New(models ...*drivers.AlinkModel) (*drivers.Registry, error) {
	return NewWith(nil, models...)
}

// NewWith is New with registry options, e.g. drivers.WithClock in tests.
func NewWith(opts []drivers.Option, models ...*drivers.AlinkModel) (*drivers.Registry, error) {
	r := drivers.NewRegistry(opts...)
	for _, d := range Drivers() {
		if err := r.Register(d); err != nil {
			return nil, fmt.Errorf("builtin: %w", err)
		}
	}
	var errs []error
	for _, m := range models {
		if err := r.AddModel(m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("builtin: %w", errors.Join(errs...))
	}
	return r, nil
}
