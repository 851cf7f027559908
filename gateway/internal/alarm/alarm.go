// Package alarm owns the gateway's alarms: the built-in rules that turn device events,
// telemetry and silence into alarms (pure functions of their input and an injected clock),
// the alarm lifecycle (raised → acknowledged → resolved with an outcome), repeats, a
// resident's cancel, escalation of unacknowledged critical alarms, automatic clearing by
// restoral events, and the announcement of every change after it is stored. Every change is
// written to SQLite, with its audit entry, before anyone is told of it.
package alarm

import "github.com/community-edge/edge/gateway/internal/alarm/rules"

// State is where an alarm is in its lifecycle.
type State string

// Lifecycle states.
const (
	Raised       State = "raised"
	Acknowledged State = "acknowledged"
	Resolved     State = "resolved"
)

// Outcomes a person may close an alarm with.
var Outcomes = []Outcome{
	{"visited", "已上门", "visited on site"},
	{"phoned", "已电话联系", "reached by phone"},
	{"hospital", "已送医", "taken to hospital"},
	{"false_alarm", "误报", "false alarm"},
	{"repaired", "已维修", "repaired"},
	{"handed_over", "已移交网格/物业", "handed over to the grid or property staff"},
	{"other", "其他", "other"},
}

// Outcome is how an alarm ended.
type Outcome struct {
	Code string `json:"code"`
	ZH   string `json:"zh"`
	EN   string `json:"en"`
}

// ValidOutcome reports whether code is a known outcome.
func ValidOutcome(code string) bool {
	for _, o := range Outcomes {
		if o.Code == code {
			return true
		}
	}
	return false
}

// Alarm is one alarm as stored.
type Alarm struct {
	ID          string         `json:"id"`
	Site        string         `json:"site"`
	DeviceID    string         `json:"device"`
	Family      string         `json:"family"`
	Type        string         `json:"type"`
	Severity    rules.Severity `json:"severity"`
	State       State          `json:"state"`
	TitleZH     string         `json:"title_zh"`
	TitleEN     string         `json:"title_en"`
	Condition   string         `json:"condition,omitempty"` // for alarms a restoral clears: what clears them
	Detail      string         `json:"detail,omitempty"`    // JSON of the triggering data
	RaisedMS    int64          `json:"raised"`
	LastMS      int64          `json:"last"`
	Count       int            `json:"count"`
	AckBy       string         `json:"ack_by,omitempty"`
	AckMS       int64          `json:"ack_at,omitempty"`
	ResolvedBy  string         `json:"resolved_by,omitempty"`
	ResolvedMS  int64          `json:"resolved_at,omitempty"`
	Outcome     string         `json:"outcome,omitempty"`
	Note        string         `json:"note,omitempty"`
	Escalated   bool           `json:"escalated"`
	EscalatedMS int64          `json:"escalated_at,omitempty"`
	CancelledMS int64          `json:"cancelled_at,omitempty"` // the resident pressed cancel
	AutoCleared bool           `json:"auto_cleared"`
	CaseID      string         `json:"case_id,omitempty"`
	CaseState   string         `json:"case_state,omitempty"`
}

// Open reports whether the alarm still needs a person.
func (a *Alarm) Open() bool { return a.State != Resolved }

// Change kinds, as recorded in an alarm's timeline and announced.
const (
	ChangeRaised       = "raised"
	ChangeRepeated     = "repeated"
	ChangeAcknowledged = "acknowledged"
	ChangeResolved     = "resolved"
	ChangeEscalated    = "escalated"
	ChangeCancelled    = "cancelled" // the resident cancelled; a person still closes it
	ChangeCleared      = "cleared"   // a restoral event closed a condition alarm
	ChangeCase         = "case"      // the grid case system reported progress
	ChangeNote         = "note"
)

// Change is one entry of an alarm's timeline, and what is announced to consoles.
type Change struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	AtMS   int64  `json:"at"`
	Actor  string `json:"actor"`
	Detail string `json:"detail,omitempty"`
	Alarm  Alarm  `json:"alarm"`
}
