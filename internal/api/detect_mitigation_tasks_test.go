package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
)

// detectEnv is an API stack with things, a quarantine group, actions and
// violations made through the store as the evaluator makes them.
type detectEnv struct {
	*env
	t    *testing.T
	ctx  context.Context
	t0   time.Time
	loud warden.Behavior
}

func newDetectEnv(t *testing.T) *detectEnv {
	t.Helper()
	d := &detectEnv{env: newEnv(t), t: t, ctx: context.Background(),
		t0: time.Now().UTC().Truncate(time.Second).Add(-time.Hour), loud: messagesBehavior("loud", false)}
	for _, g := range []string{"quarantine", "isolated"} {
		if _, err := d.a.CreateThingGroup(d.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	d.groupAction("quarantine", "quarantine")
	return d
}

func (d *detectEnv) thing(name string) {
	d.t.Helper()
	if _, err := d.a.CreateThing(d.ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
		d.t.Fatal(err)
	}
}

// profile creates security profile name.
func (d *detectEnv) profile(name string) {
	d.t.Helper()
	if _, err := d.a.CreateSecurityProfile(d.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(name)}); err != nil {
		d.t.Fatalf("CreateSecurityProfile %s: %v", name, err)
	}
}

func (d *detectEnv) groupAction(name string, groups ...string) {
	d.t.Helper()
	create(d.t, d.a, name, &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: groups}})
}

// violation opens a violation of profile p1's loud behaviour for thing at
// t0+min minutes and returns its id.
func (d *detectEnv) violation(thing string, min int) string {
	d.t.Helper()
	return applyTransitions(d.t, d.Stack, scopeA, warden.DetectTransition{ThingName: thing, SecurityProfileName: "p1", Behavior: d.loud,
		Type: warden.ViolationInAlarm, Value: countValue(11), At: d.t0.Add(time.Duration(min) * time.Minute)})[0].ViolationID
}

func (d *detectEnv) start(id string, target *types.DetectMitigationActionsTaskTarget, actions ...string) (*iot.StartDetectMitigationActionsTaskOutput, error) {
	return d.a.StartDetectMitigationActionsTask(d.ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String(id),
		Target: target, Actions: actions, ClientRequestToken: aws.String("token-" + id)})
}

func (d *detectEnv) mustStart(id string, target *types.DetectMitigationActionsTaskTarget, actions ...string) {
	d.t.Helper()
	out, err := d.start(id, target, actions...)
	if err != nil || aws.ToString(out.TaskId) != id {
		d.t.Fatalf("StartDetectMitigationActionsTask %s = %+v, %v", id, out, err)
	}
}

func (d *detectEnv) run(opt engine.DetectOptions) {
	d.t.Helper()
	if err := engine.NewDetect(d.store, opt).RunUntilIdle(d.ctx); err != nil {
		d.t.Fatal(err)
	}
}

func (d *detectEnv) describe(id string) *types.DetectMitigationActionsTaskSummary {
	d.t.Helper()
	out, err := d.a.DescribeDetectMitigationActionsTask(d.ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String(id)})
	if err != nil {
		d.t.Fatalf("DescribeDetectMitigationActionsTask %s: %v", id, err)
	}
	return out.TaskSummary
}

func detectStats(s *types.DetectMitigationActionsTaskSummary) string {
	st := s.TaskStatistics
	return fmt.Sprintf("%s %d/%d/%d", s.TaskStatus, aws.ToInt64(st.ActionsExecuted), aws.ToInt64(st.ActionsSkipped), aws.ToInt64(st.ActionsFailed))
}

func (d *detectEnv) executions(in iot.ListDetectMitigationActionsExecutionsInput) []types.DetectMitigationActionExecution {
	d.t.Helper()
	in.MaxResults = aws.Int32(1) // walk the pages
	var out []types.DetectMitigationActionExecution
	for p := iot.NewListDetectMitigationActionsExecutionsPaginator(d.a, &in); p.HasMorePages(); {
		page, err := p.NextPage(d.ctx)
		if err != nil {
			d.t.Fatalf("ListDetectMitigationActionsExecutions: %v", err)
		}
		out = append(out, page.ActionsExecutions...)
	}
	return out
}

func detectExecSummary(es []types.DetectMitigationActionExecution) string {
	var parts []string
	for _, e := range es {
		s := aws.ToString(e.ThingName) + ":" + aws.ToString(e.ActionName) + ":" + string(e.Status)
		if c := aws.ToString(e.ErrorCode); c != "" {
			s += ":" + c
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (d *detectEnv) groupsOf(thing string) string {
	d.t.Helper()
	out, err := d.a.ListThingGroupsForThing(d.ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
	if err != nil {
		d.t.Fatal(err)
	}
	var names []string
	for _, g := range out.ThingGroups {
		names = append(names, aws.ToString(g.GroupName))
	}
	return strings.Join(names, ",")
}

func byViolations(ids ...string) *types.DetectMitigationActionsTaskTarget {
	return &types.DetectMitigationActionsTaskTarget{ViolationIds: ids}
}

// A violating thing is moved into the quarantine group by the task's
// action, once, recorded under the task's name; the task then reports
// SUCCESSFUL with its statistics and a copy of its action.
func TestDetectMitigationTaskQuarantinesTheThing(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("sensor-1")
	v := d.violation("sensor-1", 0)
	before := time.Now().Add(-time.Second)
	d.mustStart("quarantine-1", byViolations(v), "quarantine")

	s := d.describe("quarantine-1")
	if s.TaskStatus != types.DetectMitigationActionsTaskStatusInProgress || s.TaskEndTime != nil || s.TaskStartTime.Before(before) ||
		len(s.Target.ViolationIds) != 1 || s.Target.ViolationIds[0] != v || s.OnlyActiveViolationsIncluded ||
		s.SuppressedAlertsIncluded || s.ViolationEventOccurrenceRange != nil {
		t.Fatalf("task before the engine ran: %+v", s)
	}
	if len(s.ActionsDefinition) != 1 || aws.ToString(s.ActionsDefinition[0].Name) != "quarantine" || aws.ToString(s.ActionsDefinition[0].RoleArn) != roleArn ||
		aws.ToString(s.ActionsDefinition[0].Id) == "" || s.ActionsDefinition[0].ActionParams.AddThingsToThingGroupParams.ThingGroupNames[0] != "quarantine" {
		t.Fatalf("actionsDefinition = %+v", s.ActionsDefinition)
	}
	if got := detectExecSummary(d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("quarantine-1")})); got != "sensor-1:quarantine:IN_PROGRESS" {
		t.Fatalf("executions before the engine ran: %s", got)
	}
	// A later edit of the action changes neither the task's copy nor what it does.
	if _, err := d.a.UpdateMitigationAction(d.ctx, &iot.UpdateMitigationActionInput{ActionName: aws.String("quarantine"),
		ActionParams: &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"isolated"}}}}); err != nil {
		t.Fatal(err)
	}

	d.run(engine.DetectOptions{})
	if got := d.groupsOf("sensor-1"); got != "quarantine" {
		t.Fatalf("sensor-1's groups = %q, want quarantine", got)
	}
	s = d.describe("quarantine-1")
	if detectStats(s) != "SUCCESSFUL 1/0/0" || s.TaskEndTime == nil || s.ActionsDefinition[0].ActionParams.AddThingsToThingGroupParams.ThingGroupNames[0] != "quarantine" {
		t.Fatalf("task after the engine ran: %s, %+v", detectStats(s), s)
	}
	execs := d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("quarantine-1")})
	if got := detectExecSummary(execs); got != "sensor-1:quarantine:SUCCESSFUL" || aws.ToString(execs[0].ViolationId) != v ||
		execs[0].ExecutionStartDate == nil || execs[0].ExecutionEndDate == nil || aws.ToString(execs[0].TaskId) != "quarantine-1" {
		t.Fatalf("executions after the engine ran: %s %+v", got, execs)
	}
	changes, err := d.store.Changes(d.ctx, warden.ChangeFilter{ResourceArn: warden.ThingARN(scopeA, "sensor-1")})
	if err != nil {
		t.Fatal(err)
	}
	joins := 0
	for _, c := range changes {
		if c.Operation == "AddThingToThingGroup" {
			joins++
			if c.Actor != "detect-task:quarantine-1" {
				t.Fatalf("join recorded as %q, want detect-task:quarantine-1", c.Actor)
			}
		}
	}
	if joins != 1 {
		t.Fatalf("%d joins in the change log, want 1", joins)
	}
	// Running again applies nothing twice.
	d.run(engine.DetectOptions{})
	if got := d.groupsOf("sensor-1"); got != "quarantine" || detectStats(d.describe("quarantine-1")) != "SUCCESSFUL 1/0/0" {
		t.Fatalf("after a second run: groups %q, task %s", got, detectStats(d.describe("quarantine-1")))
	}

	// The same id and token is the same task; another token is TaskAlreadyExists.
	d.mustStart("quarantine-1", byViolations(v), "quarantine")
	_, err = d.a.StartDetectMitigationActionsTask(d.ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("quarantine-1"),
		Target: byViolations(v), Actions: []string{"quarantine"}, ClientRequestToken: aws.String("other-token")})
	wantCode(t, err, "TaskAlreadyExistsException", 400)
}

// A profile target selects the profile's violations (of one behaviour),
// narrowed by the event range, activeness and suppression; things that are
// not registered are SKIPPED; one violation's thing gets every action.
func TestDetectMitigationTaskProfileTarget(t *testing.T) {
	d := newDetectEnv(t)
	d.profile("p1")
	d.groupAction("isolate", "isolated")
	for _, n := range []string{"a", "b", "c"} {
		d.thing(n)
	}
	quiet := messagesBehavior("quiet", true)
	d.violation("a", 0)
	d.violation("b", 10)
	d.violation("ghost", 10) // a device known only by its client id
	applyTransitions(t, d.Stack, scopeA,
		warden.DetectTransition{ThingName: "b", SecurityProfileName: "p1", Behavior: d.loud, Type: warden.ViolationCleared, Value: countValue(1), At: d.t0.Add(20 * time.Minute)},
		warden.DetectTransition{ThingName: "c", SecurityProfileName: "p1", Behavior: quiet, Type: warden.ViolationInAlarm, Value: countValue(50), At: d.t0.Add(30 * time.Minute)},
		warden.DetectTransition{ThingName: "c", SecurityProfileName: "p2", Behavior: d.loud, Type: warden.ViolationInAlarm, Value: countValue(50), At: d.t0.Add(30 * time.Minute)})

	cases := []struct {
		id, behavior         string
		onlyActive, suppress bool
		from, to             int // event range in minutes from t0; to 0: none
		want                 string
	}{
		{id: "all", want: "a:quarantine:SUCCESSFUL a:isolate:SUCCESSFUL b:quarantine:SUCCESSFUL b:isolate:SUCCESSFUL ghost:quarantine:SKIPPED:THING_NOT_FOUND ghost:isolate:SKIPPED:THING_NOT_FOUND"},
		{id: "active", onlyActive: true, want: "a:quarantine:SUCCESSFUL a:isolate:SUCCESSFUL ghost:quarantine:SKIPPED:THING_NOT_FOUND ghost:isolate:SKIPPED:THING_NOT_FOUND"},
		{id: "suppressed", suppress: true, behavior: "quiet", want: "c:quarantine:SUCCESSFUL c:isolate:SUCCESSFUL"},
		{id: "range", from: 15, to: 25, want: "b:quarantine:SUCCESSFUL b:isolate:SUCCESSFUL"},
		{id: "none", behavior: "quiet"}, // suppressed only, without includeSuppressedAlerts
	}
	for _, c := range cases {
		in := &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String(c.id), Actions: []string{"quarantine", "isolate"},
			Target:                      &types.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("p1")},
			IncludeOnlyActiveViolations: aws.Bool(c.onlyActive), IncludeSuppressedAlerts: aws.Bool(c.suppress), ClientRequestToken: aws.String("tok-" + c.id)}
		if c.behavior != "" {
			in.Target.BehaviorName = aws.String(c.behavior)
		}
		if c.to != 0 {
			in.ViolationEventOccurrenceRange = &types.ViolationEventOccurrenceRange{StartTime: aws.Time(d.t0.Add(time.Duration(c.from) * time.Minute)),
				EndTime: aws.Time(d.t0.Add(time.Duration(c.to) * time.Minute))}
		}
		if _, err := d.a.StartDetectMitigationActionsTask(d.ctx, in); err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		d.run(engine.DetectOptions{})
		if got := detectExecSummary(d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String(c.id)})); got != c.want {
			t.Errorf("%s: executions %q, want %q", c.id, got, c.want)
		}
		s := d.describe(c.id)
		if s.TaskStatus != types.DetectMitigationActionsTaskStatusSuccessful || s.OnlyActiveViolationsIncluded != c.onlyActive ||
			s.SuppressedAlertsIncluded != c.suppress || aws.ToString(s.Target.SecurityProfileName) != "p1" ||
			aws.ToString(s.Target.BehaviorName) != c.behavior || (c.to != 0) != (s.ViolationEventOccurrenceRange != nil) {
			t.Errorf("%s: summary %+v", c.id, s)
		}
		if c.to != 0 && !s.ViolationEventOccurrenceRange.EndTime.Equal(d.t0.Add(time.Duration(c.to)*time.Minute)) {
			t.Errorf("%s: range %+v", c.id, s.ViolationEventOccurrenceRange)
		}
	}
	if got := detectStats(d.describe("none")); got != "SUCCESSFUL 0/0/0" {
		t.Errorf("a task selecting nothing: %s, want SUCCESSFUL 0/0/0", got)
	}
	if got := detectStats(d.describe("all")); got != "SUCCESSFUL 4/2/0" {
		t.Errorf("task all: %s", got)
	}
	if got := d.groupsOf("a") + " " + d.groupsOf("c"); got != "isolated,quarantine isolated,quarantine" {
		t.Errorf("groups of a and c: %q", got)
	}
}

// Every rule of a start answers InvalidRequest (or the model's error) and
// stores nothing.
func TestStartDetectMitigationTaskRules(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("sensor-1")
	v := d.violation("sensor-1", 0)
	create(t, d.a, "deactivate", deviceCertParams())
	d.mustStart("used", byViolations(v), "quarantine")
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("v%d", i)
		}
		return out
	}
	profile := &types.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("p1")}
	cases := []struct {
		name string
		in   iot.StartDetectMitigationActionsTaskInput
		say  string
	}{
		{"violationIds and a profile", iot.StartDetectMitigationActionsTaskInput{Target: &types.DetectMitigationActionsTaskTarget{ViolationIds: []string{v}, SecurityProfileName: aws.String("p1")}}, "cannot be combined"},
		{"an empty target", iot.StartDetectMitigationActionsTaskInput{Target: &types.DetectMitigationActionsTaskTarget{}}, "target is empty"},
		{"a behavior without its profile", iot.StartDetectMitigationActionsTaskInput{Target: &types.DetectMitigationActionsTaskTarget{BehaviorName: aws.String("loud")}}, "needs the securityProfileName"},
		{"a missing violation", iot.StartDetectMitigationActionsTaskInput{Target: byViolations(v, "0123456789abcdef")}, "0123456789abcdef"},
		{"a missing security profile", iot.StartDetectMitigationActionsTaskInput{Target: &types.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("nope")}},
			"security profile nope does not exist"},
		{"a violation listed twice", iot.StartDetectMitigationActionsTaskInput{Target: byViolations(v, v)}, "twice"},
		{"26 violations", iot.StartDetectMitigationActionsTaskInput{Target: byViolations(ids(26)...)}, "violationIds"},
		{"a missing action", iot.StartDetectMitigationActionsTaskInput{Actions: []string{"quarantine", "nope"}}, "nope does not exist"},
		{"an action of another type", iot.StartDetectMitigationActionsTaskInput{Actions: []string{"deactivate"}}, "allow only ADD_THINGS_TO_THING_GROUP"},
		{"an action listed twice", iot.StartDetectMitigationActionsTaskInput{Actions: []string{"quarantine", "quarantine"}}, "twice"},
		{"six actions", iot.StartDetectMitigationActionsTaskInput{Actions: []string{"a", "b", "c", "d", "e", "f"}}, "actions"},
		{"a range ending before it starts", iot.StartDetectMitigationActionsTaskInput{Target: profile, ViolationEventOccurrenceRange: &types.ViolationEventOccurrenceRange{
			StartTime: aws.Time(d.t0), EndTime: aws.Time(d.t0.Add(-time.Minute))}}, "before startTime"},
		{"another task's token", iot.StartDetectMitigationActionsTaskInput{ClientRequestToken: aws.String("token-used")}, "already used"},
		{"a taskId with a dot", iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("a.b")}, "taskId"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			id := fmt.Sprintf("bad-%d", i)
			if in.TaskId == nil {
				in.TaskId = aws.String(id)
			} else {
				id = *in.TaskId
			}
			if in.Target == nil {
				in.Target = byViolations(v)
			}
			if in.Actions == nil {
				in.Actions = []string{"quarantine"}
			}
			if in.ClientRequestToken == nil {
				in.ClientRequestToken = aws.String("tok-" + id)
			}
			_, err := d.a.StartDetectMitigationActionsTask(d.ctx, &in)
			wantCode(t, err, "InvalidRequestException", 400)
			if !strings.Contains(err.Error(), c.say) {
				t.Errorf("error %v should say %q", err, c.say)
			}
			if strings.ContainsAny(id, ".") {
				return
			}
			_, err = d.a.DescribeDetectMitigationActionsTask(d.ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String(id)})
			wantCode(t, err, "ResourceNotFoundException", 404)
		})
	}
	// Another account sees neither the violation nor the action.
	_, err := d.b.StartDetectMitigationActionsTask(d.ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("b-task"),
		Target: byViolations(v), Actions: []string{"quarantine"}, ClientRequestToken: aws.String("tok")})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = d.b.DescribeDetectMitigationActionsTask(d.ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String("used")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if got := d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("used")}); len(got) != 1 {
		t.Fatalf("the valid task's executions after the rejected starts: %d, want 1", len(got))
	}
}

// Cancel: pending executions are never applied; only an IN_PROGRESS task
// can be canceled; an unknown one is not found.
func TestCancelDetectMitigationTask(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("s1")
	d.thing("s2")
	v1, v2 := d.violation("s1", 0), d.violation("s2", 0)
	d.mustStart("stop", byViolations(v1, v2), "quarantine")
	if _, err := d.a.CancelDetectMitigationActionsTask(d.ctx, &iot.CancelDetectMitigationActionsTaskInput{TaskId: aws.String("stop")}); err != nil {
		t.Fatal(err)
	}
	d.run(engine.DetectOptions{})
	s := d.describe("stop")
	if detectStats(s) != "CANCELED 0/2/0" || s.TaskEndTime == nil {
		t.Fatalf("canceled task: %s %+v", detectStats(s), s)
	}
	if got := detectExecSummary(d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("stop")})); got !=
		"s1:quarantine:SKIPPED:TASK_CANCELED s2:quarantine:SKIPPED:TASK_CANCELED" {
		t.Fatalf("executions of the canceled task: %s", got)
	}
	if got := d.groupsOf("s1") + d.groupsOf("s2"); got != "" {
		t.Fatalf("groups after a cancel: %q", got)
	}
	_, err := d.a.CancelDetectMitigationActionsTask(d.ctx, &iot.CancelDetectMitigationActionsTaskInput{TaskId: aws.String("stop")})
	wantCode(t, err, "InvalidRequestException", 400)
	// Applied executions stay applied; the finished task cannot be canceled.
	d.mustStart("done", byViolations(v1), "quarantine")
	d.run(engine.DetectOptions{})
	_, err = d.a.CancelDetectMitigationActionsTask(d.ctx, &iot.CancelDetectMitigationActionsTaskInput{TaskId: aws.String("done")})
	wantCode(t, err, "InvalidRequestException", 400)
	if got := d.groupsOf("s1"); got != "quarantine" {
		t.Fatalf("s1's groups: %q", got)
	}
	_, err = d.a.CancelDetectMitigationActionsTask(d.ctx, &iot.CancelDetectMitigationActionsTaskInput{TaskId: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = d.b.CancelDetectMitigationActionsTask(d.ctx, &iot.CancelDetectMitigationActionsTaskInput{TaskId: aws.String("done")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = d.a.DescribeDetectMitigationActionsTask(d.ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException", 404)
}

// Lists: tasks in their start window newest first, paged; executions by
// task or by time with the violation and thing filters; taskId and a time
// range exclude each other.
func TestListDetectMitigationTasksAndExecutions(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("s1")
	d.thing("s2")
	v1, v2 := d.violation("s1", 0), d.violation("s2", 0)
	d.mustStart("first", byViolations(v1), "quarantine")
	d.mustStart("second", byViolations(v1, v2), "quarantine")
	d.mustStart("third", byViolations(v2), "quarantine")
	now := time.Now()
	var ids []string
	in := &iot.ListDetectMitigationActionsTasksInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), MaxResults: aws.Int32(2)}
	for p := iot.NewListDetectMitigationActionsTasksPaginator(d.a, in); p.HasMorePages(); {
		page, err := p.NextPage(d.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Tasks {
			ids = append(ids, aws.ToString(s.TaskId)+":"+string(s.TaskStatus))
		}
	}
	if got := strings.Join(ids, " "); got != "third:IN_PROGRESS second:IN_PROGRESS first:IN_PROGRESS" {
		t.Fatalf("tasks newest first: %s", got)
	}
	out, err := d.a.ListDetectMitigationActionsTasks(d.ctx, &iot.ListDetectMitigationActionsTasksInput{StartTime: aws.Time(now.Add(-2 * time.Hour)), EndTime: aws.Time(now.Add(-time.Hour))})
	if err != nil || len(out.Tasks) != 0 {
		t.Fatalf("tasks of an earlier window: %+v, %v", out, err)
	}
	out, err = d.b.ListDetectMitigationActionsTasks(d.ctx, &iot.ListDetectMitigationActionsTasksInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour))})
	if err != nil || len(out.Tasks) != 0 {
		t.Fatalf("another account's tasks: %+v, %v", out, err)
	}
	_, err = d.a.ListDetectMitigationActionsTasks(d.ctx, &iot.ListDetectMitigationActionsTasksInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))})
	wantCode(t, err, "InvalidRequestException", 400)
	r := d.call(t, "GET", "/detect/mitigationactions/tasks", nil) // the model requires both times
	wantJSONError(t, r, "InvalidRequestException", 400)

	d.run(engine.DetectOptions{})
	window := iot.ListDetectMitigationActionsExecutionsInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour))}
	if got := detectExecSummary(d.executions(window)); got != "s1:quarantine:SUCCESSFUL s1:quarantine:SUCCESSFUL s2:quarantine:SUCCESSFUL s2:quarantine:SUCCESSFUL" {
		t.Fatalf("executions by time: %s", got)
	}
	byThing := window
	byThing.ThingName = aws.String("s2")
	if got := d.executions(byThing); len(got) != 2 || aws.ToString(got[0].TaskId) != "second" || aws.ToString(got[1].TaskId) != "third" {
		t.Fatalf("executions of s2: %+v", got)
	}
	byViolation := iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("second"), ViolationId: aws.String(v1)}
	if got := d.executions(byViolation); len(got) != 1 || aws.ToString(got[0].ThingName) != "s1" {
		t.Fatalf("executions of task second for v1: %+v", got)
	}
	if got := d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("missing")}); len(got) != 0 {
		t.Fatalf("executions of a missing task: %+v", got)
	}
	for _, bad := range []iot.ListDetectMitigationActionsExecutionsInput{
		{TaskId: aws.String("first"), StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now)},
		{},
		{StartTime: aws.Time(now.Add(-time.Hour))},
		{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))},
	} {
		_, err := d.a.ListDetectMitigationActionsExecutions(d.ctx, &bad)
		wantCode(t, err, "InvalidRequestException", 400)
	}
}

// The action's role is checked as for audit executions: with strict roles
// and no role, or a role without iot:AddThingToThingGroup on the group and
// the thing, the execution FAILS with nothing changed.
func TestDetectMitigationTaskRolePermissions(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("s1")
	v := d.violation("s1", 0)
	d.mustStart("strict", byViolations(v), "quarantine")
	d.run(engine.DetectOptions{StrictRoles: true})
	if got := detectStats(d.describe("strict")); got != "FAILED 0/0/1" {
		t.Fatalf("strict roles without roles: %s", got)
	}
	execs := d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("strict")})
	if detectExecSummary(execs) != "s1:quarantine:FAILED:INSUFFICIENT_PERMISSIONS" || !strings.Contains(aws.ToString(execs[0].Message), "sts:AssumeRole") {
		t.Fatalf("execution without a role: %+v", execs)
	}
	if _, err := d.store.CreateRole(d.ctx, accountA, warden.Role{Name: "warden-test", Path: "/", ID: warden.NewRoleID(),
		AssumeRolePolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		MaxSessionDuration:       3600, CreateDate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	put := func(resource string) {
		t.Helper()
		if err := d.store.PutRolePolicy(d.ctx, accountA, "warden-test", "detect", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
			`"Action":"iot:AddThingToThingGroup","Resource":"`+resource+`"}]}`, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	put(warden.ThingGroupARN(scopeA, "quarantine")) // the group, not the thing
	d.mustStart("group-only", byViolations(v), "quarantine")
	d.run(engine.DetectOptions{})
	execs = d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("group-only")})
	if msg := aws.ToString(execs[0].Message); execs[0].Status != types.DetectMitigationActionExecutionStatusFailed ||
		!strings.Contains(msg, "iot:AddThingToThingGroup") || !strings.Contains(msg, warden.ThingARN(scopeA, "s1")) {
		t.Fatalf("execution whose role lacks the thing: %+v", execs[0])
	}
	if got := d.groupsOf("s1"); got != "" {
		t.Fatalf("s1's groups after denied executions: %q", got)
	}
	put("*")
	d.mustStart("granted", byViolations(v), "quarantine")
	d.run(engine.DetectOptions{})
	if got := detectStats(d.describe("granted")); got != "SUCCESSFUL 1/0/0" || d.groupsOf("s1") != "quarantine" {
		t.Fatalf("granted: %s, groups %q", got, d.groupsOf("s1"))
	}
}

// A started task wakes a running engine: with an hour's poll, only the
// wake-up can apply it in time.
func TestDetectMitigationTaskWakesTheEngine(t *testing.T) {
	d := newDetectEnv(t)
	d.thing("s1")
	v := d.violation("s1", 0)
	r := engine.NewDetect(d.store, engine.DetectOptions{Poll: time.Hour})
	r.Start()
	t.Cleanup(r.Stop)
	time.Sleep(50 * time.Millisecond) // let it go idle
	d.mustStart("woken", byViolations(v), "quarantine")
	deadline := time.Now().Add(10 * time.Second)
	for d.describe("woken").TaskStatus != types.DetectMitigationActionsTaskStatusSuccessful {
		if time.Now().After(deadline) {
			t.Fatal("the task was not applied within 10 s of its start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := d.groupsOf("s1"); got != "quarantine" {
		t.Fatalf("s1's groups: %q", got)
	}
}

// The join follows AddThingToThingGroup's rules: a thing in another group
// of the quarantine group's hierarchy, or in 10 groups, cannot join, and
// the execution FAILS with nothing changed.
func TestDetectMitigationTaskJoinRules(t *testing.T) {
	d := newDetectEnv(t)
	for _, n := range []string{"in-hierarchy", "in-ten"} {
		d.thing(n)
	}
	if _, err := d.a.CreateThingGroup(d.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine-child"),
		ParentGroupName: aws.String("quarantine")}); err != nil {
		t.Fatal(err)
	}
	join := func(thing, group string) {
		t.Helper()
		if _, err := d.a.AddThingToThingGroup(d.ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(thing), ThingGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
	}
	join("in-hierarchy", "quarantine-child")
	for i := range warden.MaxGroupsPerThing {
		g := fmt.Sprintf("g%d", i)
		if _, err := d.a.CreateThingGroup(d.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
		join("in-ten", g)
	}
	d.mustStart("rules", byViolations(d.violation("in-hierarchy", 0), d.violation("in-ten", 0)), "quarantine")
	d.run(engine.DetectOptions{})
	if got := detectExecSummary(d.executions(iot.ListDetectMitigationActionsExecutionsInput{TaskId: aws.String("rules")})); got !=
		"in-hierarchy:quarantine:FAILED:INVALID_STATE_OF_RESOURCE in-ten:quarantine:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("executions: %s", got)
	}
	if got := detectStats(d.describe("rules")); got != "FAILED 0/0/2" {
		t.Fatalf("task: %s", got)
	}
	if got := d.groupsOf("in-hierarchy"); got != "quarantine-child" {
		t.Fatalf("in-hierarchy's groups: %q", got)
	}
	if got := strings.Count(d.groupsOf("in-ten"), ",") + 1; got != warden.MaxGroupsPerThing || strings.Contains(d.groupsOf("in-ten"), "quarantine") {
		t.Fatalf("in-ten's groups: %q", d.groupsOf("in-ten"))
	}
}
