package storetest

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func count(n int64) *warden.MetricValue { return &warden.MetricValue{Count: &n} }

func behavior(name string, suppressed bool) warden.Behavior {
	b := warden.Behavior{Name: name, Metric: "aws:num-messages-sent",
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "greater-than", Value: count(10)}}
	if suppressed {
		b.SuppressAlerts = &suppressed
	}
	return b
}

func transition(thing, profile string, b warden.Behavior, typ string, value int64, at time.Time) warden.DetectTransition {
	return warden.DetectTransition{ThingName: thing, SecurityProfileName: profile, Behavior: b, Type: typ, Value: count(value), At: at}
}

func allEvents(t *testing.T, db warden.Store, s warden.Scope, f warden.ViolationFilter) []warden.ViolationEvent {
	t.Helper()
	if f.End.IsZero() {
		f.Start, f.End = t0.Add(-time.Hour), t0.Add(100*time.Hour)
	}
	return walk(t, 2, func(p warden.Page) ([]warden.ViolationEvent, string, error) { return db.ViolationEvents(ctx, s, f, p) })
}

func allActive(t *testing.T, db warden.Store, s warden.Scope, f warden.ViolationFilter) []warden.Violation {
	t.Helper()
	return walk(t, 2, func(p warden.Page) ([]warden.Violation, string, error) { return db.ActiveViolations(ctx, s, f, p) })
}

var violationIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// violations: the lifecycle of a violation (one active per profile,
// behaviour and thing, even under concurrent evaluators), the list filters
// and paging, verification states, metric values and pruning.
func violations(t *testing.T, db warden.Store) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	loud, quiet := behavior("loud", false), behavior("quiet", true)
	quiet.Criteria = &warden.BehaviorCriteria{StatisticalThreshold: &warden.StatisticalThreshold{Statistic: "p90"}}

	events, err := db.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{
		transition("t1", "p1", loud, warden.ViolationInAlarm, 11, at(0)),
		transition("t1", "p1", loud, warden.ViolationInAlarm, 12, at(5)), // already in alarm: an update
		transition("t1", "p1", loud, "", 13, at(10)),
		transition("t2", "p1", loud, "", 20, at(10)), // none active: opens one
		transition("t3", "p1", loud, warden.ViolationCleared, 1, at(10)),
		transition("t1", "p2", quiet, warden.ViolationInAlarm, 30, at(15)),
	})
	must(t, err)
	if len(events) != 3 || events[0].Type != warden.ViolationInAlarm || events[1].Type != warden.ViolationInAlarm ||
		events[1].ThingName != "t2" || events[2].SecurityProfileName != "p2" {
		t.Fatalf("events = %+v", events)
	}
	for _, e := range events {
		if !violationIDPattern.MatchString(e.ViolationID) {
			t.Fatalf("violation id %q is not 32 lowercase hex characters", e.ViolationID)
		}
	}
	active := allActive(t, db, scope, warden.ViolationFilter{})
	if got := names(active, func(v warden.Violation) string { return v.ThingName + "/" + v.SecurityProfileName }); !equal(got, []string{"t1/p2", "t2/p1", "t1/p1"}) {
		t.Fatalf("active newest first = %q", got)
	}
	v := active[2]
	if v.ID != events[0].ViolationID || *v.LastViolationValue.Count != 13 || !v.LastViolationTime.Equal(at(10)) || !v.StartTime.Equal(at(0)) ||
		v.VerificationState != warden.VerificationUnknown || !v.EndTime.IsZero() || v.Behavior.Name != "loud" ||
		v.Behavior.Criteria == nil || *v.Behavior.Criteria.Value.Count != 10 {
		t.Fatalf("t1/p1 = %+v", v)
	}

	// Filters.
	for _, c := range []struct {
		f    warden.ViolationFilter
		want []string
	}{
		{warden.ViolationFilter{ThingName: "t1"}, []string{"t1/p2", "t1/p1"}},
		{warden.ViolationFilter{SecurityProfileName: "p1"}, []string{"t2/p1", "t1/p1"}},
		{warden.ViolationFilter{CriteriaType: warden.CriteriaStatistical}, []string{"t1/p2"}},
		{warden.ViolationFilter{CriteriaType: warden.CriteriaStatic, ThingName: "t1"}, []string{"t1/p1"}},
		{warden.ViolationFilter{ListSuppressedAlerts: new(false)}, []string{"t2/p1", "t1/p1"}},
		{warden.ViolationFilter{ListSuppressedAlerts: new(true)}, []string{"t1/p2", "t2/p1", "t1/p1"}},
		{warden.ViolationFilter{VerificationState: warden.VerificationTruePositive}, nil},
	} {
		got := names(allActive(t, db, scope, c.f), func(v warden.Violation) string { return v.ThingName + "/" + v.SecurityProfileName })
		if !equal(got, c.want) {
			t.Fatalf("active %+v = %q, want %q", c.f, got, c.want)
		}
	}
	emptyElsewhere(t, "ActiveViolations", func(s warden.Scope) ([]warden.Violation, error) {
		vs, _, err := db.ActiveViolations(ctx, s, warden.ViolationFilter{}, warden.Page{Limit: 10})
		return vs, err
	})
	_, _, err = db.ActiveViolations(ctx, scope, warden.ViolationFilter{}, warden.Page{Limit: 10, After: "x"})
	wantCode(t, "ActiveViolations with a bad cursor", err, warden.CodeInvalidRequest)

	// Clearing ends the violation with an event of its ID; clearing again
	// does nothing; a new alarm opens a new violation.
	events, err = db.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{
		transition("t1", "p1", loud, warden.ViolationCleared, 3, at(20)),
		transition("t1", "p1", loud, warden.ViolationCleared, 3, at(21)),
		transition("t2", "p1", loud, warden.ViolationInvalidated, 0, at(22)),
	})
	must(t, err)
	if len(events) != 2 || events[0].ViolationID != v.ID || events[0].Type != warden.ViolationCleared || events[1].Type != warden.ViolationInvalidated {
		t.Fatalf("clear events = %+v", events)
	}
	reopened, err := db.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{transition("t1", "p1", loud, warden.ViolationInAlarm, 40, at(30))})
	must(t, err)
	if len(reopened) != 1 || reopened[0].ViolationID == v.ID {
		t.Fatalf("reopened = %+v, want a new violation", reopened)
	}
	if got := allActive(t, db, scope, warden.ViolationFilter{SecurityProfileName: "p1"}); len(got) != 1 || got[0].ID != reopened[0].ViolationID {
		t.Fatalf("active of p1 = %+v", got)
	}

	// Events: newest first, with time range and filters.
	evs := allEvents(t, db, scope, warden.ViolationFilter{})
	if got := names(evs, func(e warden.ViolationEvent) string { return e.ThingName + "/" + e.Type }); !equal(got,
		[]string{"t1/in-alarm", "t2/alarm-invalidated", "t1/alarm-cleared", "t1/in-alarm", "t2/in-alarm", "t1/in-alarm"}) {
		t.Fatalf("events = %q", got)
	}
	if e := evs[2]; e.ViolationID != v.ID || *e.MetricValue.Count != 3 || !e.Time.Equal(at(20)) || e.Behavior.Name != "loud" {
		t.Fatalf("cleared event = %+v", e)
	}
	if got := allEvents(t, db, scope, warden.ViolationFilter{Start: at(10), End: at(20)}); len(got) != 3 {
		t.Fatalf("events in [10, 20] = %+v", got)
	}
	if got := allEvents(t, db, scope, warden.ViolationFilter{ListSuppressedAlerts: new(false), ThingName: "t1"}); len(got) != 3 {
		t.Fatalf("unsuppressed events of t1 = %+v", got)
	}
	if got := allEvents(t, db, scope, warden.ViolationFilter{CriteriaType: warden.CriteriaStatistical}); len(got) != 1 || got[0].SecurityProfileName != "p2" {
		t.Fatalf("statistical events = %+v", got)
	}

	// Verification state: on an ended violation and its events.
	wantCode(t, "PutVerificationState of an unknown violation",
		db.PutVerificationState(ctx, scope, "0123456789abcdef0123456789abcdef", warden.VerificationTruePositive, "", at(40)), warden.CodeInvalidRequest)
	wantCode(t, "PutVerificationState in another account",
		db.PutVerificationState(ctx, otherAccount, v.ID, warden.VerificationTruePositive, "", at(40)), warden.CodeInvalidRequest)
	must(t, db.PutVerificationState(ctx, scope, v.ID, warden.VerificationFalsePositive, "test device", at(40)))
	got := allEvents(t, db, scope, warden.ViolationFilter{VerificationState: warden.VerificationFalsePositive})
	if len(got) != 2 || got[0].ViolationID != v.ID || got[1].ViolationID != v.ID || got[0].VerificationStateDescription != "test device" {
		t.Fatalf("false-positive events = %+v", got)
	}
	reopenedID := reopened[0].ViolationID
	must(t, db.PutVerificationState(ctx, scope, reopenedID, warden.VerificationBenignPositive, "", at(40)))
	if got := allActive(t, db, scope, warden.ViolationFilter{VerificationState: warden.VerificationBenignPositive}); len(got) != 1 || got[0].ID != reopenedID {
		t.Fatalf("benign active = %+v", got)
	}

	// The one-active rule holds under concurrent evaluators.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = db.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{
				transition("racer", "p1", loud, warden.ViolationInAlarm, int64(i), at(50+i))})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	if got := allActive(t, db, scope, warden.ViolationFilter{ThingName: "racer"}); len(got) != 1 {
		t.Fatalf("concurrent alarms made %d active violations, want 1", len(got))
	}
	if got := allEvents(t, db, scope, warden.ViolationFilter{ThingName: "racer"}); len(got) != 1 {
		t.Fatalf("concurrent alarms made %d events, want 1", len(got))
	}

	metricValues(t, db)

	// Pruning: ended violations last violated before the cutoff, events
	// and datapoints before it; active violations stay.
	must(t, db.PruneViolations(ctx, at(21)))
	if got := allEvents(t, db, scope, warden.ViolationFilter{}); len(got) != 3 {
		t.Fatalf("events after pruning = %d, want 3", len(got))
	}
	// The cleared violation (last violated at 10) is gone: its state can
	// no longer be set; the active ones are still listed.
	wantCode(t, "PutVerificationState of a pruned violation",
		db.PutVerificationState(ctx, scope, v.ID, warden.VerificationTruePositive, "", at(60)), warden.CodeInvalidRequest)
	if got := allActive(t, db, scope, warden.ViolationFilter{}); len(got) != 3 {
		t.Fatalf("active after pruning = %d, want 3", len(got))
	}
	ds, _, err := db.MetricValues(ctx, scope, warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", Start: at(-100), End: at(100)},
		warden.Page{Limit: 100})
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("datapoints after pruning = %+v", ds)
	}
}

// metricValues records datapoints and lists them by thing, metric,
// dimension and time, oldest first.
func metricValues(t *testing.T, db warden.Store) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	var ds []warden.MetricDatum
	for i := range 150 {
		ds = append(ds, warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", Time: at(i % 10), Value: *count(int64(i))})
	}
	ds = append(ds,
		warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics", Time: at(1), Value: *count(1000)},
		warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics", DimensionOperator: "NOT_IN", Time: at(1), Value: *count(2000)},
		warden.MetricDatum{ThingName: "t2", Metric: "aws:num-messages-sent", Time: at(1), Value: *count(3000)},
		warden.MetricDatum{ThingName: "t1", Metric: "aws:source-ip-address", Time: at(1), Value: warden.MetricValue{Cidrs: []string{"192.0.2.1/32"}}},
	)
	must(t, db.RecordMetricValues(ctx, scope, ds))
	list := func(f warden.MetricValueFilter) []warden.MetricDatum {
		return walk(t, 7, func(p warden.Page) ([]warden.MetricDatum, string, error) { return db.MetricValues(ctx, scope, f, p) })
	}
	got := list(warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", Start: at(0), End: at(9)})
	if len(got) != 150 {
		t.Fatalf("datapoints = %d, want 150", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time.Before(got[i-1].Time) {
			t.Fatalf("datapoints not oldest first at %d", i)
		}
	}
	if got := list(warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", Start: at(2), End: at(3)}); len(got) != 30 {
		t.Fatalf("datapoints in [2, 3] = %d, want 30", len(got))
	}
	for _, c := range []struct {
		f    warden.MetricValueFilter
		want string
	}{
		{warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics"}, "[1000]"},
		{warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics", DimensionOperator: "NOT_IN"}, "[2000]"},
		{warden.MetricValueFilter{ThingName: "t2", Metric: "aws:num-messages-sent"}, "[3000]"},
	} {
		c.f.Start, c.f.End = at(0), at(9)
		got := list(c.f)
		var counts []int64
		for _, d := range got {
			counts = append(counts, *d.Value.Count)
		}
		if fmt.Sprint(counts) != c.want {
			t.Fatalf("datapoints of %+v = %v, want %s", c.f, counts, c.want)
		}
	}
	if got := list(warden.MetricValueFilter{ThingName: "t1", Metric: "aws:source-ip-address", Start: at(0), End: at(9)}); len(got) != 1 ||
		fmt.Sprint(got[0].Value.Cidrs) != "[192.0.2.1/32]" || !got[0].Time.Equal(at(1)) {
		t.Fatalf("source ips = %+v", got)
	}
	emptyElsewhere(t, "MetricValues", func(s warden.Scope) ([]warden.MetricDatum, error) {
		ds, _, err := db.MetricValues(ctx, s, warden.MetricValueFilter{ThingName: "t1", Metric: "aws:num-messages-sent", Start: at(0), End: at(9)},
			warden.Page{Limit: 10})
		return ds, err
	})
}
