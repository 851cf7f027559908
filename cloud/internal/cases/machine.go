// Package cases owns the grid case workflow: the state machine of a case (reported → registered
// → dispatched → handled → verified → closed → evaluated, plus returned and parked), who may take
// each step, the deadlines per priority and category with their overdue flags, the timeliness
// evaluation per department made at close, and the classification of alarm types into the
// 事件/部件 categories. It does no I/O: every function takes the time it acts at, so tests inject
// the clock.
package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

// Action is a workflow step a person takes on a case.
type Action string

// Actions.
const (
	Register Action = "register" // 立案
	Dispatch Action = "dispatch" // 派遣 (also re-dispatch after a return)
	Handle   Action = "handle"   // 处置
	Return   Action = "return"   // 退回: not our department
	Verify   Action = "verify"   // 核查 passed
	Reopen   Action = "reopen"   // 核查 failed: back to the department
	Close    Action = "close"    // 结案
	Evaluate Action = "evaluate" // 评价
	Park     Action = "park"     // 挂账
	Resume   Action = "resume"   // 挂账 lifted
)

// Actions lists every action in workflow order.
func Actions() []Action {
	return []Action{Register, Dispatch, Handle, Return, Verify, Reopen, Close, Evaluate, Park, Resume}
}

// Role is what a grid centre user may do.
type Role string

// Roles.
const (
	Dispatcher Role = "dispatcher" // 受理/派遣员: registers, dispatches, closes, evaluates, parks
	Handler    Role = "handler"    // 处置部门: handles, returns, parks
	Inspector  Role = "inspector"  // 核查员: verifies or reopens
	Admin      Role = "admin"      // may take every step
)

// Roles lists every role.
func Roles() []Role { return []Role{Dispatcher, Handler, Inspector, Admin} }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// rule is one edge set of the state machine.
type rule struct {
	from  []api.State
	roles []Role // besides Admin
}

// ruleOf returns the edges of action a.
func ruleOf(a Action) (rule, bool) {
	switch a {
	case Register:
		return rule{from: []api.State{api.Reported}, roles: []Role{Dispatcher}}, true
	case Dispatch:
		return rule{from: []api.State{api.Registered, api.Returned}, roles: []Role{Dispatcher}}, true
	case Handle:
		return rule{from: []api.State{api.Dispatched}, roles: []Role{Handler}}, true
	case Return:
		return rule{from: []api.State{api.Dispatched}, roles: []Role{Handler}}, true
	case Verify:
		return rule{from: []api.State{api.Handled}, roles: []Role{Inspector}}, true
	case Reopen:
		return rule{from: []api.State{api.Handled}, roles: []Role{Inspector}}, true
	case Close:
		return rule{from: []api.State{api.Verified}, roles: []Role{Dispatcher}}, true
	case Evaluate:
		return rule{from: []api.State{api.Closed}, roles: []Role{Dispatcher}}, true
	case Park:
		return rule{from: []api.State{api.Registered, api.Dispatched, api.Returned}, roles: []Role{Dispatcher, Handler}}, true
	case Resume:
		return rule{from: []api.State{api.Parked}, roles: []Role{Dispatcher}}, true
	}
	return rule{}, false
}

// Errors of Apply. Test with errors.Is.
var (
	ErrIllegal   = errors.New("illegal transition")
	ErrForbidden = errors.New("not allowed for this role")
	ErrInvalid   = errors.New("invalid step")
)

// TransitionError says why a step was refused.
type TransitionError struct {
	Action Action
	State  api.State
	Role   Role
	Kind   error // ErrIllegal, ErrForbidden or ErrInvalid
	Detail string
}

func (e *TransitionError) Error() string {
	switch e.Kind {
	case ErrIllegal:
		return fmt.Sprintf("cases: cannot %s a case that is %s (possible here: %s)",
			e.Action, e.State, joinActions(Possible(e.State)))
	case ErrForbidden:
		return fmt.Sprintf("cases: role %s may not %s a case", e.Role, e.Action)
	}
	return fmt.Sprintf("cases: %s: %s", e.Action, e.Detail)
}

func (e *TransitionError) Unwrap() error { return e.Kind }

func joinActions(as []Action) string {
	if len(as) == 0 {
		return "nothing"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// mustRule is ruleOf for the actions of Actions.
func mustRule(a Action) rule {
	r, _ := ruleOf(a)
	return r
}

// Possible lists the actions the workflow allows from state s, whatever the role.
func Possible(s api.State) []Action {
	var out []Action
	for _, a := range Actions() {
		if slices.Contains(mustRule(a).from, s) {
			out = append(out, a)
		}
	}
	return out
}

// Allowed lists the actions a user of role r in department dept may take on c now.
func Allowed(c api.Case, r Role, dept string) []Action {
	var out []Action
	for _, a := range Possible(c.State) {
		if permitted(a, c, r, dept) == nil {
			out = append(out, a)
		}
	}
	return out
}

func permitted(a Action, c api.Case, r Role, dept string) error {
	if r == Admin {
		return nil
	}
	if !slices.Contains(mustRule(a).roles, r) {
		return ErrForbidden
	}
	// A handler acts only on cases dispatched to their own department.
	if r == Handler && c.Department != dept {
		return ErrForbidden
	}
	return nil
}

// Command is one step requested by a person.
type Command struct {
	Action     Action
	Actor      string // username
	Role       Role
	Department string // the actor's department

	Target   string // dispatch: the department the case goes to
	Assignee string // dispatch: optional person
	Note     string // handle: the result; return, reopen, park: the reason (required)
	Score    int    // evaluate: 1–5
}

// Machine applies commands under a deadline policy.
type Machine struct {
	Policy Policy
	// Centre is the grid centre's department, charged with register, dispatch and close.
	Centre string
}

// NewMachine returns a machine with the default policy.
func NewMachine() *Machine { return &Machine{Policy: DefaultPolicy(), Centre: "网格中心"} }

// Open makes the case for a new alert received at now: state reported, the register deadline set.
// The caller has classified the alert (Classify) and fills ID and GatewayID.
func (m *Machine) Open(c api.Case, now time.Time) api.Case {
	c.State = api.Reported
	c.ReportedAt = now
	c.UpdatedAt = now
	due := now.Add(m.Policy.Limits(c.Category, c.Priority).Register)
	c.Deadlines.Register = &due
	c.Due = &due
	return c
}

// OpenEvent is the timeline entry of Open.
func OpenEvent(c api.Case) api.CaseEvent {
	return api.CaseEvent{CaseID: c.ID, Action: "report", To: api.Reported, At: c.ReportedAt, Actor: c.GatewayID, Role: "gateway"}
}

// Apply takes the step cmd on c at now. It returns the changed case and its timeline entry,
// or a *TransitionError.
func (m *Machine) Apply(c api.Case, cmd Command, now time.Time) (api.Case, api.CaseEvent, error) {
	fail := func(kind error, detail string) (api.Case, api.CaseEvent, error) {
		return c, api.CaseEvent{}, &TransitionError{Action: cmd.Action, State: c.State, Role: cmd.Role, Kind: kind, Detail: detail}
	}
	r, ok := ruleOf(cmd.Action)
	if !ok {
		return fail(ErrInvalid, "unknown action")
	}
	if !slices.Contains(r.from, c.State) {
		return fail(ErrIllegal, "")
	}
	if !cmd.Role.Valid() {
		return fail(ErrInvalid, fmt.Sprintf("unknown role %q", cmd.Role))
	}
	if permitted(cmd.Action, c, cmd.Role, cmd.Department) != nil {
		return fail(ErrForbidden, "")
	}
	note := strings.TrimSpace(cmd.Note)
	switch cmd.Action {
	case Dispatch:
		if strings.TrimSpace(cmd.Target) == "" {
			return fail(ErrInvalid, "a department to dispatch to is required")
		}
	case Handle, Return, Reopen, Park:
		if note == "" {
			return fail(ErrInvalid, "a note or reason is required")
		}
	case Evaluate:
		if cmd.Score < 1 || cmd.Score > 5 {
			return fail(ErrInvalid, "score must be 1 to 5")
		}
	}

	from := c.State
	c.Record = slices.Clone(c.Record)
	ev := api.CaseEvent{CaseID: c.ID, Action: string(cmd.Action), From: from, At: now,
		Actor: cmd.Actor, Role: string(cmd.Role), Department: cmd.Department, Note: note}
	t := now
	lim := m.Policy.Limits(c.Category, c.Priority)
	// complete records a deadline-bearing step done by dept.
	complete := func(step string, due *time.Time, dept string) {
		if due == nil {
			return
		}
		late := now.After(*due)
		ev.Late = late
		c.Record = append(c.Record, api.StepRecord{Step: step, Department: dept, Due: *due, Done: now, Late: late})
	}
	setDue := func(field **time.Time, d time.Duration) {
		due := now.Add(d)
		*field = &due
		c.Due = &due
	}
	c.Due = nil
	switch cmd.Action {
	case Register:
		complete("register", c.Deadlines.Register, m.Centre)
		c.State, c.Steps.Registered = api.Registered, &t
		setDue(&c.Deadlines.Dispatch, lim.Dispatch)
	case Dispatch:
		complete("dispatch", c.Deadlines.Dispatch, m.Centre)
		c.State, c.Steps.Dispatched = api.Dispatched, &t
		c.Department, c.Assignee = strings.TrimSpace(cmd.Target), strings.TrimSpace(cmd.Assignee)
		ev.Note = joinNote("→ "+c.Department, note)
		setDue(&c.Deadlines.Handle, lim.Handle)
	case Handle:
		complete("handle", c.Deadlines.Handle, c.Department)
		c.State, c.Steps.Handled = api.Handled, &t
		setDue(&c.Deadlines.Verify, lim.Verify)
	case Return:
		c.State, c.Steps.Returned, c.ReturnReason = api.Returned, &t, note
		c.Department, c.Assignee = "", ""
		setDue(&c.Deadlines.Dispatch, lim.Dispatch)
	case Verify:
		complete("verify", c.Deadlines.Verify, cmd.Department)
		c.State, c.Steps.Verified = api.Verified, &t
	case Reopen:
		c.State, c.Steps.Dispatched = api.Dispatched, &t
		setDue(&c.Deadlines.Handle, lim.Handle)
	case Close:
		c.State, c.Steps.Closed = api.Closed, &t
		c.Evaluation = &api.Evaluation{Timeliness: Timeliness(c.Record)}
	case Evaluate:
		c.State, c.Steps.Evaluated = api.Evaluated, &t
		ev2 := *c.Evaluation
		ev2.Score, ev2.Comment = cmd.Score, note
		c.Evaluation = &ev2
	case Park:
		c.ParkedFrom, c.ParkedReason = c.State, note
		c.State, c.Steps.Parked = api.Parked, &t
	case Resume:
		// The pending step starts afresh: the time spent parked does not count against it.
		c.State, c.ParkedFrom = c.ParkedFrom, ""
		switch c.State {
		case api.Registered, api.Returned:
			setDue(&c.Deadlines.Dispatch, lim.Dispatch)
		case api.Dispatched:
			setDue(&c.Deadlines.Handle, lim.Handle)
		}
	}
	c.UpdatedAt = now
	c.Version++
	ev.To = c.State
	return c, ev, nil
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}

// Timeliness sums the step record per department, in order of first appearance.
func Timeliness(record []api.StepRecord) []api.Timeliness {
	var out []api.Timeliness
	idx := map[string]int{}
	for _, r := range record {
		i, ok := idx[r.Department]
		if !ok {
			i = len(out)
			idx[r.Department] = i
			out = append(out, api.Timeliness{Department: r.Department, OnTime: true})
		}
		out[i].Steps++
		if r.Late {
			out[i].Late++
			out[i].OnTime = false
		}
	}
	return out
}

// WithOverdue returns c with Overdue set for now: the pending step's due time has passed.
// Parked, closed and evaluated cases are never overdue.
func WithOverdue(c api.Case, now time.Time) api.Case {
	c.Overdue = c.Due != nil && now.After(*c.Due) && c.State != api.Parked && !c.State.Final()
	return c
}
