package api

import "time"

// Priority is how fast the city must act on a case.
type Priority string

// Priorities.
const (
	Urgent Priority = "urgent"
	Normal Priority = "normal"
)

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p == Urgent || p == Normal }

// State is a case's place in the grid workflow.
type State string

// Case states, in the order of the closed loop, plus returned (退回) and parked (挂账).
const (
	Reported   State = "reported"   // 上报
	Registered State = "registered" // 立案
	Dispatched State = "dispatched" // 派遣
	Handled    State = "handled"    // 处置
	Verified   State = "verified"   // 核查
	Closed     State = "closed"     // 结案
	Evaluated  State = "evaluated"  // 评价
	Returned   State = "returned"   // 退回: wrong department, back to dispatch
	Parked     State = "parked"     // 挂账: cannot be solved in time
)

// States lists every state in workflow order.
func States() []State {
	return []State{Reported, Registered, Dispatched, Handled, Verified, Closed, Evaluated, Returned, Parked}
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, k := range States() {
		if s == k {
			return true
		}
	}
	return false
}

// Final reports whether the case has left the city's hands (closed or evaluated).
func (s State) Final() bool { return s == Closed || s == Evaluated }

// Location is a WGS-84 coordinate.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Resident is the minimum about a person that the city needs to act. MedicalNotes is kept only
// when the alarm is medical (an elderly call for help); the cloud drops it otherwise.
type Resident struct {
	Name         string `json:"name,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Unit         string `json:"unit,omitempty"` // building / unit / room
	Contact      string `json:"contact,omitempty"`
	ContactPhone string `json:"contact_phone,omitempty"`
	MedicalNotes string `json:"medical_notes,omitempty"`
}

// Alert is what a gateway reports: one alarm that needs the city. AlarmID is the gateway's
// alarm id and the idempotency key of POST /api/v1/alerts.
type Alert struct {
	AlarmID  string   `json:"alarm_id"`
	Type     string   `json:"type"`             // alarm type as the gateway names it: sos, fall, smoke, …
	Family   string   `json:"family,omitempty"` // callbutton, locker, charger
	Device   string   `json:"device,omitempty"`
	Code     string   `json:"code,omitempty"`     // e.g. an OCPP error code of a charger fault
	Priority Priority `json:"priority,omitempty"` // empty: the cloud's mapping decides
	// OccurredAt is when the alarm was raised at the gateway.
	OccurredAt  time.Time `json:"occurred_at"`
	Site        string    `json:"site"`
	GridCode    string    `json:"grid_code"` // 15 digits: 6 division + 3 street + 3 community + 3 grid
	Address     string    `json:"address"`
	Location    *Location `json:"location,omitempty"`
	Resident    *Resident `json:"resident,omitempty"`
	Description string    `json:"description,omitempty"`
}

// Category is a class of the 事件/部件 classification of urban grid management.
type Category struct {
	Kind         string `json:"kind" yaml:"kind"` // "event" (事件) or "component" (部件)
	Class        string `json:"class" yaml:"class"`
	ClassName    string `json:"class_name" yaml:"class_name"`
	Subclass     string `json:"subclass" yaml:"subclass"`
	SubclassName string `json:"subclass_name" yaml:"subclass_name"`
}

// Deadlines are the due times of the workflow steps that have one. A step's due time is set
// when the step before it is done.
type Deadlines struct {
	Register *time.Time `json:"register,omitempty"`
	Dispatch *time.Time `json:"dispatch,omitempty"`
	Handle   *time.Time `json:"handle,omitempty"`
	Verify   *time.Time `json:"verify,omitempty"`
}

// StepTimes are when each workflow step was (last) done.
type StepTimes struct {
	Registered *time.Time `json:"registered,omitempty"`
	Dispatched *time.Time `json:"dispatched,omitempty"`
	Handled    *time.Time `json:"handled,omitempty"`
	Verified   *time.Time `json:"verified,omitempty"`
	Closed     *time.Time `json:"closed,omitempty"`
	Evaluated  *time.Time `json:"evaluated,omitempty"`
	Returned   *time.Time `json:"returned,omitempty"`
	Parked     *time.Time `json:"parked,omitempty"`
}

// StepRecord is one deadline-bearing step as it was done: by which department, when it was
// due and whether it was late.
type StepRecord struct {
	Step       string    `json:"step"` // register, dispatch, handle, verify
	Department string    `json:"department"`
	Due        time.Time `json:"due"`
	Done       time.Time `json:"done"`
	Late       bool      `json:"late"`
}

// Timeliness is the evaluation of one department's steps on a case, made at close.
type Timeliness struct {
	Department string `json:"department"`
	Steps      int    `json:"steps"`
	Late       int    `json:"late"`
	OnTime     bool   `json:"on_time"`
}

// Evaluation is the 评价 of a closed case.
type Evaluation struct {
	Timeliness []Timeliness `json:"timeliness"`      // made at close
	Score      int          `json:"score,omitempty"` // 1–5, given at evaluate
	Comment    string       `json:"comment,omitempty"`
}

// Case is one case of the grid case system.
type Case struct {
	ID        int64  `json:"id"`
	GatewayID string `json:"gateway_id"`
	AlarmID   string `json:"alarm_id"`
	AlarmType string `json:"alarm_type"`
	Family    string `json:"family,omitempty"`
	Device    string `json:"device,omitempty"`

	Category    Category  `json:"category"`
	Priority    Priority  `json:"priority"`
	GridCode    string    `json:"grid_code"`
	Site        string    `json:"site"`
	Address     string    `json:"address"`
	Location    *Location `json:"location,omitempty"`
	Resident    *Resident `json:"resident,omitempty"`
	Description string    `json:"description,omitempty"`

	State      State     `json:"state"`
	OccurredAt time.Time `json:"occurred_at"`
	ReportedAt time.Time `json:"reported_at"` // when the cloud received it
	UpdatedAt  time.Time `json:"updated_at"`
	Steps      StepTimes `json:"steps"`

	Department string `json:"department,omitempty"` // the department the case is dispatched to
	Assignee   string `json:"assignee,omitempty"`

	Deadlines Deadlines    `json:"deadlines"`
	Due       *time.Time   `json:"due,omitempty"`     // due time of the pending step, if it has one
	Overdue   bool         `json:"overdue,omitempty"` // Due has passed (computed when read)
	Record    []StepRecord `json:"record,omitempty"`

	ParkedFrom   State       `json:"parked_from,omitempty"`
	ParkedReason string      `json:"parked_reason,omitempty"`
	ReturnReason string      `json:"return_reason,omitempty"`
	Evaluation   *Evaluation `json:"evaluation,omitempty"`

	Version int64 `json:"version"`
}

// CaseEvent is one transition of a case: the timeline entry.
type CaseEvent struct {
	Seq        int64     `json:"seq"` // per gateway, increasing in commit order; the long-poll cursor
	CaseID     int64     `json:"case_id"`
	Action     string    `json:"action"`
	From       State     `json:"from,omitempty"`
	To         State     `json:"to"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor,omitempty"`
	Role       string    `json:"role,omitempty"`
	Department string    `json:"department,omitempty"`
	Note       string    `json:"note,omitempty"`
	Late       bool      `json:"late,omitempty"` // the step was done after its due time
}

// CaseUpdate is a case state change delivered to the gateway that reported the case.
type CaseUpdate struct {
	Seq        int64      `json:"seq"`
	CaseID     int64      `json:"case_id"`
	AlarmID    string     `json:"alarm_id"`
	Event      CaseEvent  `json:"event"`
	State      State      `json:"state"` // the case's state after this event
	Department string     `json:"department,omitempty"`
	Due        *time.Time `json:"due,omitempty"`
}

// Updates is the answer of the long poll. Next is the cursor for the next poll: the Seq of the
// last update, or the request's cursor when there are none.
type Updates struct {
	Updates []CaseUpdate `json:"updates"`
	Next    int64        `json:"next"`
}

// Heartbeat is what the gateway sends every Interval seconds.
type Heartbeat struct {
	IntervalS     int       `json:"interval_s"`
	Version       string    `json:"version,omitempty"`
	OutboxPending int       `json:"outbox_pending"`
	SentAt        time.Time `json:"sent_at"`
}

// HeartbeatReply tells the gateway the cloud's clock and after how long it is marked offline.
type HeartbeatReply struct {
	ServerTime    time.Time `json:"server_time"`
	OfflineAfterS int       `json:"offline_after_s"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}
