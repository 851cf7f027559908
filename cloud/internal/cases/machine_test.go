package cases

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// clock is the injected clock of the tests.
type clock struct{ now time.Time }

func (c *clock) advance(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

// tl is one department's expected timeliness.
func tl(dept string, steps, late int) api.Timeliness {
	return api.Timeliness{Department: dept, Steps: steps, Late: late, OnTime: late == 0}
}

func urgentCase(m *Machine, at time.Time) api.Case {
	return m.Open(api.Case{ID: 7, GatewayID: "gw-1", AlarmID: "a-1", AlarmType: "sos",
		Category: catElderlyHelp, Priority: api.Urgent, GridCode: "110105001002003"}, at)
}

// cmdFor is a valid command for action a, taken by an admin of department 物业.
func cmdFor(a Action) Command {
	c := Command{Action: a, Actor: "root", Role: Admin, Department: "物业"}
	switch a {
	case Dispatch:
		c.Target = "物业"
	case Handle, Return, Reopen, Park:
		c.Note = "note"
	case Evaluate:
		c.Score = 5
	}
	return c
}

// pathTo brings a fresh case into state s.
func pathTo(t *testing.T, m *Machine, s api.State) api.Case {
	t.Helper()
	paths := map[api.State][]Action{
		api.Reported:   nil,
		api.Registered: {Register},
		api.Dispatched: {Register, Dispatch},
		api.Handled:    {Register, Dispatch, Handle},
		api.Verified:   {Register, Dispatch, Handle, Verify},
		api.Closed:     {Register, Dispatch, Handle, Verify, Close},
		api.Evaluated:  {Register, Dispatch, Handle, Verify, Close, Evaluate},
		api.Returned:   {Register, Dispatch, Return},
		api.Parked:     {Register, Park},
	}
	c := urgentCase(m, t0)
	for _, a := range paths[s] {
		var err error
		if c, _, err = m.Apply(c, cmdFor(a), t0.Add(time.Minute)); err != nil {
			t.Fatalf("path to %s: %v", s, err)
		}
	}
	if c.State != s {
		t.Fatalf("path to %s ended in %s", s, c.State)
	}
	return c
}

// TestTransitions tries every action in every state: the legal ones lead where the workflow
// says, every other one is refused with ErrIllegal and a message naming what is possible.
func TestTransitions(t *testing.T) {
	legal := map[api.State]map[Action]api.State{
		api.Reported:   {Register: api.Registered},
		api.Registered: {Dispatch: api.Dispatched, Park: api.Parked},
		api.Dispatched: {Handle: api.Handled, Return: api.Returned, Park: api.Parked},
		api.Handled:    {Verify: api.Verified, Reopen: api.Dispatched},
		api.Verified:   {Close: api.Closed},
		api.Closed:     {Evaluate: api.Evaluated},
		api.Evaluated:  {},
		api.Returned:   {Dispatch: api.Dispatched, Park: api.Parked},
		api.Parked:     {Resume: api.Registered}, // parked from registered in pathTo
	}
	m := NewMachine()
	n := 0
	for _, s := range api.States() {
		for _, a := range Actions() {
			t.Run(string(s)+"/"+string(a), func(t *testing.T) {
				c := pathTo(t, m, s)
				got, ev, err := m.Apply(c, cmdFor(a), t0.Add(2*time.Minute))
				want, ok := legal[s][a]
				if !ok {
					var te *TransitionError
					if !errors.Is(err, ErrIllegal) || !errors.As(err, &te) {
						t.Fatalf("err = %v, want ErrIllegal", err)
					}
					if got.State != s || got.Version != c.Version {
						t.Fatalf("refused step changed the case: %s v%d", got.State, got.Version)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal step refused: %v", err)
				}
				if got.State != want || ev.From != s || ev.To != want || ev.Action != string(a) {
					t.Fatalf("got %s (event %s→%s %s), want %s", got.State, ev.From, ev.To, ev.Action, want)
				}
				if got.Version != c.Version+1 {
					t.Fatalf("version %d, want %d", got.Version, c.Version+1)
				}
			})
			n++
		}
	}
	if n != len(api.States())*len(Actions()) {
		t.Fatalf("tried %d pairs", n)
	}
}

func TestIllegalMessage(t *testing.T) {
	m := NewMachine()
	c := pathTo(t, m, api.Dispatched)
	_, _, err := m.Apply(c, cmdFor(Close), t0)
	want := "cases: cannot close a case that is dispatched (possible here: handle, return, park)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestResumeReturnsWhereParked(t *testing.T) {
	m := NewMachine()
	for _, s := range []api.State{api.Registered, api.Dispatched, api.Returned} {
		c := pathTo(t, m, s)
		c, _, err := m.Apply(c, cmdFor(Park), t0.Add(time.Hour))
		if err != nil || c.ParkedFrom != s || c.ParkedReason != "note" {
			t.Fatalf("park from %s: %v %+v", s, err, c)
		}
		c, _, err = m.Apply(c, Command{Action: Resume, Role: Dispatcher, Actor: "d"}, t0.Add(2*time.Hour))
		if err != nil || c.State != s || c.ParkedFrom != "" {
			t.Fatalf("resume to %s: %v state %s", s, err, c.State)
		}
	}
}

// TestRoles checks who may take each step (admin may take all; a handler only on cases of
// their own department).
func TestRoles(t *testing.T) {
	want := map[Action][]Role{
		Register: {Dispatcher, Admin},
		Dispatch: {Dispatcher, Admin},
		Handle:   {Handler, Admin},
		Return:   {Handler, Admin},
		Verify:   {Inspector, Admin},
		Reopen:   {Inspector, Admin},
		Close:    {Dispatcher, Admin},
		Evaluate: {Dispatcher, Admin},
		Park:     {Dispatcher, Handler, Admin},
		Resume:   {Dispatcher, Admin},
	}
	from := map[Action]api.State{
		Register: api.Reported, Dispatch: api.Registered, Handle: api.Dispatched, Return: api.Dispatched,
		Verify: api.Handled, Reopen: api.Handled, Close: api.Verified, Evaluate: api.Closed,
		Park: api.Dispatched, Resume: api.Parked,
	}
	m := NewMachine()
	for _, a := range Actions() {
		for _, r := range Roles() {
			t.Run(string(a)+"/"+string(r), func(t *testing.T) {
				c := pathTo(t, m, from[a])
				cmd := cmdFor(a)
				cmd.Role = r
				_, _, err := m.Apply(c, cmd, t0)
				if slices.Contains(want[a], r) {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if !slices.Contains(Allowed(c, r, "物业"), a) {
						t.Fatalf("Allowed does not list %s", a)
					}
				} else {
					if !errors.Is(err, ErrForbidden) {
						t.Fatalf("err = %v, want ErrForbidden", err)
					}
					if slices.Contains(Allowed(c, r, "物业"), a) {
						t.Fatalf("Allowed lists %s", a)
					}
				}
			})
		}
	}
}

func TestHandlerOwnDepartmentOnly(t *testing.T) {
	m := NewMachine()
	c := pathTo(t, m, api.Dispatched) // dispatched to 物业
	_, _, err := m.Apply(c, Command{Action: Handle, Role: Handler, Department: "城管", Note: "done"}, t0)
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("other department: err = %v", err)
	}
	if _, _, err := m.Apply(c, Command{Action: Handle, Role: Handler, Department: "物业", Note: "done"}, t0); err != nil {
		t.Fatalf("own department: %v", err)
	}
}

func TestRequiredFields(t *testing.T) {
	m := NewMachine()
	tests := []struct {
		from api.State
		cmd  Command
	}{
		{api.Registered, Command{Action: Dispatch, Role: Admin}},
		{api.Dispatched, Command{Action: Handle, Role: Admin, Note: "  "}},
		{api.Dispatched, Command{Action: Return, Role: Admin}},
		{api.Dispatched, Command{Action: Park, Role: Admin}},
		{api.Handled, Command{Action: Reopen, Role: Admin}},
		{api.Closed, Command{Action: Evaluate, Role: Admin, Score: 6}},
		{api.Closed, Command{Action: Evaluate, Role: Admin}},
		{api.Reported, Command{Action: "escalate", Role: Admin}},
		{api.Reported, Command{Action: Register, Role: "mayor"}},
	}
	for _, tt := range tests {
		c := pathTo(t, m, tt.from)
		if _, _, err := m.Apply(c, tt.cmd, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s %+v: err = %v, want ErrInvalid", tt.from, tt.cmd, err)
		}
	}
}

// TestDeadlines walks an urgent and a normal case through the loop on an injected clock and
// checks due times, overdue flags, late steps and the timeliness evaluation at close.
func TestDeadlines(t *testing.T) {
	m := NewMachine()
	type step struct {
		after    time.Duration // clock advance before the check and the step
		overdue  bool          // before the step is taken
		cmd      Command
		late     bool
		dueAfter time.Duration // due time of the next step, from the step's time; 0: none
	}
	centre, dept, insp := "网格中心", "物业", "核查组"
	reg := Command{Action: Register, Role: Dispatcher, Actor: "d", Department: centre}
	disp := Command{Action: Dispatch, Role: Dispatcher, Actor: "d", Department: centre, Target: dept}
	handle := Command{Action: Handle, Role: Handler, Actor: "h", Department: dept, Note: "已上门"}
	verify := Command{Action: Verify, Role: Inspector, Actor: "i", Department: insp}
	closeC := Command{Action: Close, Role: Dispatcher, Actor: "d", Department: centre}
	tests := []struct {
		name     string
		priority api.Priority
		steps    []step
		eval     []api.Timeliness
	}{
		{"urgent on time", api.Urgent, []step{
			{9 * time.Minute, false, reg, false, 10 * time.Minute},
			{10 * time.Minute, false, disp, false, 2 * time.Hour},
			{time.Hour, false, handle, false, time.Hour},
			{59 * time.Minute, false, verify, false, 0},
			{time.Minute, false, closeC, false, 0},
		}, []api.Timeliness{tl(centre, 2, 0), tl(dept, 1, 0), tl(insp, 1, 0)}},
		{"urgent late register and verify", api.Urgent, []step{
			{10*time.Minute + time.Second, true, reg, true, 10 * time.Minute},
			{5 * time.Minute, false, disp, false, 2 * time.Hour},
			{2 * time.Hour, false, handle, false, time.Hour},
			{61 * time.Minute, true, verify, true, 0},
			{24 * time.Hour, false, closeC, false, 0},
		}, []api.Timeliness{tl(centre, 2, 1), tl(dept, 1, 0), tl(insp, 1, 1)}},
		{"normal: 30 minutes is on time, the handler late", api.Normal, []step{
			{30 * time.Minute, false, reg, false, 30 * time.Minute},
			{29 * time.Minute, false, disp, false, 24 * time.Hour},
			{25 * time.Hour, true, handle, true, time.Hour},
			{time.Minute, false, verify, false, 0},
			{time.Minute, false, closeC, false, 0},
		}, []api.Timeliness{tl(centre, 2, 0), tl(dept, 1, 1), tl(insp, 1, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: t0}
			c := urgentCase(m, clk.now)
			c.Priority = tt.priority
			c = m.Open(c, clk.now)
			for i, s := range tt.steps {
				clk.advance(s.after)
				if got := WithOverdue(c, clk.now).Overdue; got != s.overdue {
					t.Fatalf("step %d (%s): overdue = %v, want %v (due %v, now %v)", i, s.cmd.Action, got, s.overdue, c.Due, clk.now)
				}
				var ev api.CaseEvent
				var err error
				if c, ev, err = m.Apply(c, s.cmd, clk.now); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ev.Late != s.late {
					t.Fatalf("step %d (%s): late = %v, want %v", i, s.cmd.Action, ev.Late, s.late)
				}
				switch {
				case s.dueAfter == 0 && c.Due != nil:
					t.Fatalf("step %d: due %v, want none", i, c.Due)
				case s.dueAfter != 0 && (c.Due == nil || !c.Due.Equal(clk.now.Add(s.dueAfter))):
					t.Fatalf("step %d: due %v, want %v", i, c.Due, clk.now.Add(s.dueAfter))
				}
				if WithOverdue(c, clk.now).Overdue {
					t.Fatalf("step %d: overdue right after the step", i)
				}
			}
			if c.Evaluation == nil || !slices.Equal(c.Evaluation.Timeliness, tt.eval) {
				t.Fatalf("evaluation = %+v, want %+v", c.Evaluation, tt.eval)
			}
			if WithOverdue(c, clk.advance(1000*time.Hour)).Overdue {
				t.Fatal("closed case overdue")
			}
		})
	}
}

func TestParkedStopsTheClock(t *testing.T) {
	m := NewMachine()
	clk := &clock{now: t0}
	c := urgentCase(m, clk.now)
	c, _, _ = m.Apply(c, cmdFor(Register), clk.advance(time.Minute))
	c, _, _ = m.Apply(c, cmdFor(Dispatch), clk.advance(time.Minute))
	c, _, err := m.Apply(c, cmdFor(Park), clk.advance(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if WithOverdue(c, clk.advance(10*time.Hour)).Overdue {
		t.Fatal("parked case overdue")
	}
	c, _, _ = m.Apply(c, Command{Action: Resume, Role: Dispatcher}, clk.now)
	if c.Due == nil || !c.Due.Equal(clk.now.Add(2*time.Hour)) {
		t.Fatalf("after resume due %v, want %v", c.Due, clk.now.Add(2*time.Hour))
	}
	if !WithOverdue(c, clk.advance(2*time.Hour+time.Second)).Overdue {
		t.Fatal("resumed case not overdue after its handle limit")
	}
}

func TestReturnRedispatchDeadline(t *testing.T) {
	m := NewMachine()
	clk := &clock{now: t0}
	c := pathTo(t, m, api.Dispatched)
	c, _, err := m.Apply(c, Command{Action: Return, Role: Handler, Department: "物业", Note: "非本部门"}, clk.advance(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Department != "" || c.ReturnReason != "非本部门" || !c.Due.Equal(clk.now.Add(10*time.Minute)) {
		t.Fatalf("after return: dept %q reason %q due %v", c.Department, c.ReturnReason, c.Due)
	}
	c, ev, err := m.Apply(c, Command{Action: Dispatch, Role: Dispatcher, Target: "城管"}, clk.advance(11*time.Minute))
	if err != nil || !ev.Late || c.Department != "城管" {
		t.Fatalf("re-dispatch: %v late=%v dept=%s", err, ev.Late, c.Department)
	}
}

func TestPolicyOverrides(t *testing.T) {
	p := DefaultPolicy()
	fast := Limits{Register: time.Minute, Dispatch: time.Minute, Handle: time.Minute, Verify: time.Minute}
	classWide := Limits{Register: 2 * time.Minute, Dispatch: 2 * time.Minute, Handle: time.Hour, Verify: time.Hour}
	p.Overrides = []CategoryLimits{
		{Class: "04", Priority: api.Urgent, Limits: classWide},
		{Class: "04", Subclass: "22", Priority: api.Urgent, Limits: fast},
	}
	tests := []struct {
		cat  api.Category
		pr   api.Priority
		want Limits
	}{
		{catFireRisk, api.Urgent, fast},
		{catElderlyHelp, api.Urgent, classWide},
		{catElderlyHelp, api.Normal, p.Normal},
		{catLocker, api.Urgent, p.Urgent},
	}
	for _, tt := range tests {
		if got := p.Limits(tt.cat, tt.pr); got != tt.want {
			t.Errorf("%s/%s %s: %+v, want %+v", tt.cat.Class, tt.cat.Subclass, tt.pr, got, tt.want)
		}
	}
	if errs := (Policy{}).Validate(); len(errs) != 2 {
		t.Errorf("empty policy: %v", errs)
	}
}
