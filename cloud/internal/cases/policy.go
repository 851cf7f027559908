package cases

import (
	"fmt"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

// Limits are the time allowed for each deadline-bearing step, counted from the step before:
// register from the report, dispatch from registering (or a return), handle from dispatch,
// verify from handling.
type Limits struct {
	Register time.Duration `yaml:"register"`
	Dispatch time.Duration `yaml:"dispatch"`
	Handle   time.Duration `yaml:"handle"`
	Verify   time.Duration `yaml:"verify"`
}

// Validate checks that every limit is positive.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"register", l.Register}, {"dispatch", l.Dispatch}, {"handle", l.Handle}, {"verify", l.Verify}} {
		if f.d <= 0 {
			return fmt.Errorf("%s: must be positive", f.name)
		}
	}
	return nil
}

// CategoryLimits overrides the limits of one priority for one category (subclass empty: the
// whole class).
type CategoryLimits struct {
	Class    string       `yaml:"class"`
	Subclass string       `yaml:"subclass"`
	Priority api.Priority `yaml:"priority"`
	Limits   Limits       `yaml:"limits"`
}

// Policy is the deadline policy: limits per priority, with overrides per category.
type Policy struct {
	Urgent    Limits           `yaml:"urgent"`
	Normal    Limits           `yaml:"normal"`
	Overrides []CategoryLimits `yaml:"overrides"`
}

// DefaultPolicy: urgent cases registered and dispatched within 10 minutes each, normal ones
// within 30; handled within 2 h (urgent) or 24 h (normal); verified within 1 h.
func DefaultPolicy() Policy {
	return Policy{
		Urgent: Limits{Register: 10 * time.Minute, Dispatch: 10 * time.Minute, Handle: 2 * time.Hour, Verify: time.Hour},
		Normal: Limits{Register: 30 * time.Minute, Dispatch: 30 * time.Minute, Handle: 24 * time.Hour, Verify: time.Hour},
	}
}

// Limits returns the limits for a case of category cat and priority p: the most specific
// override (class and subclass, then class) or the priority's defaults.
func (p Policy) Limits(cat api.Category, pr api.Priority) Limits {
	var classOnly *Limits
	for i := range p.Overrides {
		o := &p.Overrides[i]
		if o.Priority != pr || o.Class != cat.Class {
			continue
		}
		if o.Subclass == cat.Subclass {
			return o.Limits
		}
		if o.Subclass == "" && classOnly == nil {
			classOnly = &o.Limits
		}
	}
	if classOnly != nil {
		return *classOnly
	}
	if pr == api.Urgent {
		return p.Urgent
	}
	return p.Normal
}

// Validate checks the policy; errors name the key.
func (p Policy) Validate() []error {
	var errs []error
	if err := p.Urgent.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("urgent.%w", err))
	}
	if err := p.Normal.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("normal.%w", err))
	}
	for i, o := range p.Overrides {
		if o.Class == "" {
			errs = append(errs, fmt.Errorf("overrides[%d].class: required", i))
		}
		if !o.Priority.Valid() {
			errs = append(errs, fmt.Errorf("overrides[%d].priority: must be urgent or normal", i))
		}
		if err := o.Limits.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("overrides[%d].limits.%w", i, err))
		}
	}
	return errs
}
