package cases

import (
	"fmt"
	"strings"

	"github.com/community-edge/edge/cloud/api"
)

// Rule maps an alarm type to a category and a default priority. Medical rules keep the
// resident's medical notes; all others drop them.
type Rule struct {
	Category api.Category `yaml:"category"`
	Priority api.Priority `yaml:"priority"`
	Medical  bool         `yaml:"medical"`
}

// Classifier maps alarm types to rules. Keys, most specific first: "family.type:code",
// "type:code", "family.type", "type", and "*" for everything else.
type Classifier map[string]Rule

// Categories of the default mapping. Class codes follow the 事件/部件 classes of urban grid
// management (部件 01 公用设施; 事件 04 突发事件, 06 其他事件); the subclasses 老人求助, 消防隐患
// and 智能设施 are local extensions that a city renumbers in the configuration.
var (
	catElderlyHelp = api.Category{Kind: "event", Class: "04", ClassName: "突发事件", Subclass: "21", SubclassName: "老人求助"}
	catFireRisk    = api.Category{Kind: "event", Class: "04", ClassName: "突发事件", Subclass: "22", SubclassName: "消防隐患"}
	catCharger     = api.Category{Kind: "component", Class: "01", ClassName: "公用设施", Subclass: "41", SubclassName: "电动车充电设施"}
	catLocker      = api.Category{Kind: "component", Class: "01", ClassName: "公用设施", Subclass: "42", SubclassName: "智能快递柜"}
	catOther       = api.Category{Kind: "event", Class: "06", ClassName: "其他事件", Subclass: "99", SubclassName: "其他"}
)

// DefaultClassifier is the default mapping: sos, fall and inactivity are 老人求助 (urgent,
// medical); charger smoke, over-temperature and HighTemperature faults are 消防隐患 (urgent);
// other charger faults and locker tamper or power loss are facility cases (normal).
func DefaultClassifier() Classifier {
	elderly := Rule{Category: catElderlyHelp, Priority: api.Urgent, Medical: true}
	fire := Rule{Category: catFireRisk, Priority: api.Urgent}
	return Classifier{
		"sos":                           elderly,
		"fall":                          elderly,
		"inactivity":                    elderly,
		"smoke":                         fire,
		"over_temperature":              fire,
		"charger.fault:HighTemperature": fire,
		"charger.fault":                 {Category: catCharger, Priority: api.Normal},
		"locker.tamper":                 {Category: catLocker, Priority: api.Normal},
		"locker.power_lost":             {Category: catLocker, Priority: api.Normal},
		"*":                             {Category: catOther, Priority: api.Normal},
	}
}

// Merge returns the default classifier with the entries of over replacing or adding to it.
func (c Classifier) Merge(over Classifier) Classifier {
	out := Classifier{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// Rule returns the rule for an alert's family, type and code.
func (c Classifier) Rule(family, typ, code string) Rule {
	var keys []string
	if code != "" {
		keys = append(keys, family+"."+typ+":"+code, typ+":"+code)
	}
	keys = append(keys, family+"."+typ, typ, "*")
	for _, k := range keys {
		if r, ok := c[k]; ok {
			return r
		}
	}
	return Rule{Category: catOther, Priority: api.Normal}
}

// Validate checks every rule; errors name the key.
func (c Classifier) Validate() []error {
	var errs []error
	for k, r := range c {
		if r.Category.Kind != "event" && r.Category.Kind != "component" {
			errs = append(errs, fmt.Errorf("%s.category.kind: must be event or component", k))
		}
		if !isDigits(r.Category.Class, 2) {
			errs = append(errs, fmt.Errorf("%s.category.class: must be 2 digits", k))
		}
		if !isDigits(r.Category.Subclass, 2) {
			errs = append(errs, fmt.Errorf("%s.category.subclass: must be 2 digits", k))
		}
		if !r.Priority.Valid() {
			errs = append(errs, fmt.Errorf("%s.priority: must be urgent or normal", k))
		}
	}
	return errs
}

// ValidGridCode reports whether s is a 15-digit grid code (6 division + 3 street + 3 community
// + 3 grid).
func ValidGridCode(s string) bool { return isDigits(s, 15) }

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FromAlert validates an alert and makes the unopened case for it: classified, the priority
// from the alert or the rule, medical notes dropped unless the rule is medical, text trimmed
// to sane lengths. The caller then calls Machine.Open.
func (c Classifier) FromAlert(gatewayID string, a api.Alert) (api.Case, error) {
	var problems []string
	if a.AlarmID == "" || len(a.AlarmID) > 128 {
		problems = append(problems, "alarm_id: required, at most 128 bytes")
	}
	if a.Type == "" || len(a.Type) > 64 {
		problems = append(problems, "type: required, at most 64 bytes")
	}
	if !ValidGridCode(a.GridCode) {
		problems = append(problems, "grid_code: must be 15 digits (6 division + 3 street + 3 community + 3 grid)")
	}
	if a.Priority != "" && !a.Priority.Valid() {
		problems = append(problems, "priority: must be urgent or normal")
	}
	if a.Site == "" {
		problems = append(problems, "site: required")
	}
	if a.OccurredAt.IsZero() {
		problems = append(problems, "occurred_at: required")
	}
	if l := a.Location; l != nil && (l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180) {
		problems = append(problems, "location: out of range")
	}
	if len(problems) > 0 {
		return api.Case{}, fmt.Errorf("cases: alert: %w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	rule := c.Rule(a.Family, a.Type, a.Code)
	pr := a.Priority
	if pr == "" {
		pr = rule.Priority
	}
	var res *api.Resident
	if a.Resident != nil {
		r := *a.Resident
		if !rule.Medical {
			r.MedicalNotes = ""
		}
		res = &r
	}
	return api.Case{
		GatewayID: gatewayID, AlarmID: a.AlarmID, AlarmType: a.Type, Family: a.Family, Device: a.Device,
		Category: rule.Category, Priority: pr, GridCode: a.GridCode, Site: clip(a.Site, 200),
		Address: clip(a.Address, 500), Location: a.Location, Resident: res,
		Description: clip(a.Description, 2000), OccurredAt: a.OccurredAt.UTC(),
	}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
