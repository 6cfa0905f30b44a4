package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func countBehavior(name, metric string, n int64) warden.Behavior {
	return warden.Behavior{Name: name, Metric: metric, Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: &n}}}
}

// profileJSON is p's wire form, to compare profiles whole.
func profileJSON(t *testing.T, p warden.SecurityProfile) string {
	t.Helper()
	b, err := json.Marshal(p)
	must(t, err)
	return string(b)
}

// securityProfiles: create, update (versions, expectedVersion, delete
// flags), list with filters, delete (idempotent, tags and targets go); a
// dimension or custom metric a profile names cannot be deleted;
// every change is logged; profiles stay in their scope.
func securityProfiles(t *testing.T, st warden.Store) {
	_, err := st.CreateDimension(ctx, scope, warden.Dimension{Name: "dim", Type: warden.DimensionTopicFilter, StringValues: []string{"a/#"}}, nil, "tok", t0)
	must(t, err)
	tags := []warden.Tag{{Key: "k", Value: "v"}}
	p1 := warden.SecurityProfile{Name: "p1", Description: "first",
		Behaviors: []warden.Behavior{countBehavior("b1", "aws:num-messages-sent", 10)},
		AlertTargets: map[string]warden.AlertTarget{"SNS": {AlertTargetArn: "arn:aws:sns:us-east-1:123456789012:t",
			RoleArn: "arn:aws:iam::123456789012:role/r"}},
		AdditionalMetricsToRetainV2: []warden.MetricToRetain{{Metric: "aws:num-messages-received",
			MetricDimension: &warden.MetricDimension{DimensionName: "dim", Operator: "IN"}}},
	}
	created, err := st.CreateSecurityProfile(ctx, scope, p1, tags, t0)
	must(t, err)
	if created.Arn != "arn:aws:iot:us-east-1:123456789012:securityprofile/p1" || created.Version != 1 ||
		!created.CreationDate.Equal(t0) || !created.LastModifiedDate.Equal(t0) {
		t.Fatalf("CreateSecurityProfile = %+v", created)
	}
	got, err := st.SecurityProfile(ctx, scope, "p1")
	must(t, err)
	if profileJSON(t, got) != profileJSON(t, created) || !got.CreationDate.Equal(t0) {
		t.Fatalf("SecurityProfile(p1) = %s, want %s", profileJSON(t, got), profileJSON(t, created))
	}
	_, err = st.CreateSecurityProfile(ctx, scope, p1, nil, t0)
	wantCode(t, "CreateSecurityProfile of a taken name", err, warden.CodeResourceAlreadyExists)
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "ghost",
		Behaviors: []warden.Behavior{countBehavior("b", "no-such-metric", 1)}}, nil, t0)
	wantCode(t, "CreateSecurityProfile naming a missing custom metric", err, warden.CodeInvalidRequest)
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "ghost",
		AdditionalMetricsToRetainV2: []warden.MetricToRetain{{Metric: "aws:num-messages-sent", MetricDimension: &warden.MetricDimension{DimensionName: "nowhere"}}}}, nil, t0)
	wantCode(t, "CreateSecurityProfile naming a missing dimension", err, warden.CodeInvalidRequest)
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "p2"}, nil, t0)
	must(t, err)
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "p3",
		Behaviors: []warden.Behavior{countBehavior("b", "aws:num-disconnects", 1)}}, nil, t0)
	must(t, err)
	notElsewhere(t, "SecurityProfile", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.SecurityProfile(ctx, s, "p1")
		return err
	})
	emptyElsewhere(t, "SecurityProfiles", func(s warden.Scope) ([]warden.SecurityProfile, error) {
		ps, _, err := st.SecurityProfiles(ctx, s, warden.SecurityProfileFilter{}, warden.Page{Limit: 10})
		return ps, err
	})
	profileNames := func(f warden.SecurityProfileFilter) []string {
		return names(walk(t, 2, func(p warden.Page) ([]warden.SecurityProfile, string, error) {
			return st.SecurityProfiles(ctx, scope, f, p)
		}), func(p warden.SecurityProfile) string { return p.Name })
	}
	wantNames(t, "SecurityProfiles", profileNames(warden.SecurityProfileFilter{}), "p1", "p2", "p3")
	wantNames(t, "SecurityProfiles of dimension dim", profileNames(warden.SecurityProfileFilter{DimensionName: "dim"}), "p1")
	wantCode(t, "DeleteDimension of a dimension in use", st.DeleteDimension(ctx, scope, "dim", t0), warden.CodeInvalidRequest)
	wantNames(t, "SecurityProfiles of metric aws:num-disconnects", profileNames(warden.SecurityProfileFilter{MetricName: "aws:num-disconnects"}), "p3")
	_, _, err = st.SecurityProfiles(ctx, scope, warden.SecurityProfileFilter{DimensionName: "dim", MetricName: "m"}, warden.Page{Limit: 10})
	wantCode(t, "SecurityProfiles with both filters", err, warden.CodeInvalidRequest)

	// Update: a new version each time; the expected version must match.
	desc := "second"
	stale := int64(5)
	_, err = st.UpdateSecurityProfile(ctx, scope, "p1", warden.SecurityProfileUpdate{Description: &desc, ExpectedVersion: &stale}, t0)
	wantCode(t, "UpdateSecurityProfile with a stale version", err, warden.CodeVersionConflict)
	both := []warden.Behavior{}
	_, err = st.UpdateSecurityProfile(ctx, scope, "p1", warden.SecurityProfileUpdate{Behaviors: &both, DeleteBehaviors: true}, t0)
	wantCode(t, "UpdateSecurityProfile setting and deleting behaviors", err, warden.CodeInvalidRequest)
	one := int64(1)
	updated, err := st.UpdateSecurityProfile(ctx, scope, "p1", warden.SecurityProfileUpdate{Description: &desc, DeleteAdditionalMetricsToRetain: true,
		ExpectedVersion: &one}, t0.Add(time.Minute))
	must(t, err)
	if updated.Version != 2 || updated.Description != "second" || len(updated.Behaviors) != 1 || updated.AlertTargets == nil ||
		updated.AdditionalMetricsToRetainV2 != nil || !updated.CreationDate.Equal(t0) || !updated.LastModifiedDate.Equal(t0.Add(time.Minute)) {
		t.Fatalf("UpdateSecurityProfile = %+v", updated)
	}
	if got, _ := st.SecurityProfile(ctx, scope, "p1"); profileJSON(t, got) != profileJSON(t, updated) {
		t.Fatalf("SecurityProfile after update = %s, want %s", profileJSON(t, got), profileJSON(t, updated))
	}
	wantNames(t, "SecurityProfiles of dimension dim after update", profileNames(warden.SecurityProfileFilter{DimensionName: "dim"}))
	must(t, st.DeleteDimension(ctx, scope, "dim", t0)) // no profile names it now
	_, err = st.UpdateSecurityProfile(ctx, scope, "missing", warden.SecurityProfileUpdate{Description: &desc}, t0)
	wantCode(t, "UpdateSecurityProfile(missing)", err, warden.CodeResourceNotFound)

	// Delete: the expected version must match; the tags go; a missing
	// profile is no error.
	arn := warden.SecurityProfileARN(scope, "p1")
	wantTags(t, st, arn, tags)
	err = st.DeleteSecurityProfile(ctx, scope, "p1", &one, t0)
	wantCode(t, "DeleteSecurityProfile with a stale version", err, warden.CodeVersionConflict)
	two := int64(2)
	must(t, st.DeleteSecurityProfile(ctx, scope, "p1", &two, t0.Add(2*time.Minute)))
	must(t, st.DeleteSecurityProfile(ctx, scope, "p1", nil, t0.Add(2*time.Minute)))
	_, err = st.SecurityProfile(ctx, scope, "p1")
	wantCode(t, "SecurityProfile after delete", err, warden.CodeResourceNotFound)
	_, _, err = st.Tags(ctx, scope, arn, warden.Page{Limit: 10})
	wantCode(t, "Tags of a deleted security profile", err, warden.CodeResourceNotFound)
	wantChanges(t, st, arn, "CreateSecurityProfile", "UpdateSecurityProfile", "DeleteSecurityProfile")

	scopes, err := st.DetectScopes(ctx)
	must(t, err)
	if len(scopes) != 1 || scopes[0] != scope {
		t.Fatalf("DetectScopes = %v, want [%v]", scopes, scope)
	}
}

// securityProfileTargets: profiles attach to existing thing groups and the
// account-wide targets, at most five a target; the recursive list covers
// ancestors and account-wide targets; deleting a group or a profile
// detaches it; DetectConfiguration holds it all.
func securityProfileTargets(t *testing.T, st warden.Store) {
	for _, g := range []warden.ThingGroup{{Name: "root"}, {Name: "child", ParentName: "root"}, {Name: "leaf", ParentName: "child"}} {
		g.ID, g.Version, g.CreationDate, g.LastModifiedDate = "id-"+g.Name, 1, t0, t0
		_, _, err := st.CreateThingGroup(ctx, scope, g, nil)
		must(t, err)
	}
	_, err := st.CreateCustomMetric(ctx, scope, warden.CustomMetric{Name: "cm", Type: warden.CustomMetricNumber}, nil, "tok", t0)
	must(t, err)
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		p := warden.SecurityProfile{Name: n}
		if n == "a" {
			x := 1.5
			p.Behaviors = []warden.Behavior{{Name: "custom", Metric: "cm",
				Criteria: &warden.BehaviorCriteria{ComparisonOperator: "greater-than", Value: &warden.MetricValue{Number: &x}}}}
		}
		_, err := st.CreateSecurityProfile(ctx, scope, p, nil, t0)
		must(t, err)
	}
	group := warden.ThingGroupARN(scope, "root")
	all := scope.IoTARN(warden.TargetAllThings)
	registered := scope.IoTARN(warden.TargetRegisteredThings)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		must(t, st.AttachSecurityProfile(ctx, scope, n, group, t0))
	}
	must(t, st.AttachSecurityProfile(ctx, scope, "a", group, t0)) // again: no change
	wantCode(t, "a sixth profile on a target", st.AttachSecurityProfile(ctx, scope, "f", group, t0), warden.CodeLimitExceeded)
	must(t, st.AttachSecurityProfile(ctx, scope, "f", warden.ThingGroupARN(scope, "child"), t0))
	wantCode(t, "DeleteCustomMetric of a metric in use", st.DeleteCustomMetric(ctx, scope, "cm", t0), warden.CodeInvalidRequest)
	must(t, st.AttachSecurityProfile(ctx, scope, "f", all, t0))
	must(t, st.AttachSecurityProfile(ctx, scope, "a", registered, t0))
	for what, target := range map[string]string{
		"a missing group": warden.ThingGroupARN(scope, "missing"),
	} {
		wantCode(t, "AttachSecurityProfile to "+what, st.AttachSecurityProfile(ctx, scope, "a", target, t0), warden.CodeResourceNotFound)
	}
	for what, target := range map[string]string{
		"another account's group": warden.ThingGroupARN(otherAccount, "root"),
		"another region's target": otherRegion.IoTARN(warden.TargetAllThings),
		"a thing":                 scope.IoTARN("thing/x"),
		"no ARN":                  "root",
		"an unknown all/ target":  scope.IoTARN("all/devices"),
	} {
		wantCode(t, "AttachSecurityProfile to "+what, st.AttachSecurityProfile(ctx, scope, "a", target, t0), warden.CodeInvalidRequest)
	}
	wantCode(t, "AttachSecurityProfile of a missing profile", st.AttachSecurityProfile(ctx, scope, "missing", all, t0), warden.CodeResourceNotFound)

	targets := walk(t, 1, func(p warden.Page) ([]string, string, error) { return st.SecurityProfileTargets(ctx, scope, "a", p) })
	wantNames(t, "SecurityProfileTargets(a)", targets, registered, group)
	_, _, err = st.SecurityProfileTargets(ctx, scope, "missing", warden.Page{Limit: 10})
	wantCode(t, "SecurityProfileTargets(missing)", err, warden.CodeResourceNotFound)

	mappings := func(target string, recursive bool) []string {
		ms := walk(t, 2, func(p warden.Page) ([]warden.SecurityProfileTargetMapping, string, error) {
			return st.SecurityProfilesForTarget(ctx, scope, target, recursive, p)
		})
		return names(ms, func(m warden.SecurityProfileTargetMapping) string {
			if m.ProfileArn != warden.SecurityProfileARN(scope, m.ProfileName) {
				t.Errorf("mapping %+v: wrong profile ARN", m)
			}
			return m.ProfileName + "@" + m.TargetArn
		})
	}
	leaf := warden.ThingGroupARN(scope, "leaf")
	wantNames(t, "SecurityProfilesForTarget(leaf)", mappings(leaf, false))
	wantNames(t, "SecurityProfilesForTarget(leaf, recursive)", mappings(leaf, true),
		"f@"+warden.ThingGroupARN(scope, "child"), "a@"+group, "b@"+group, "c@"+group, "d@"+group, "e@"+group, "f@"+all, "a@"+registered)
	wantNames(t, "SecurityProfilesForTarget(registered, recursive)", mappings(registered, true), "a@"+registered, "f@"+all)
	wantNames(t, "SecurityProfilesForTarget(all)", mappings(all, true), "f@"+all)
	_, _, err = st.SecurityProfilesForTarget(ctx, scope, warden.ThingGroupARN(scope, "missing"), true, warden.Page{Limit: 10})
	wantCode(t, "SecurityProfilesForTarget(missing group)", err, warden.CodeResourceNotFound)

	c, err := st.DetectConfiguration(ctx, scope)
	must(t, err)
	if len(c.Profiles) != 6 || c.Profiles[0].Name != "a" || len(c.Profiles[0].Behaviors) != 1 {
		t.Fatalf("DetectConfiguration profiles = %+v", c.Profiles)
	}
	wantNames(t, "DetectConfiguration targets of a", c.Targets["a"], registered, group)
	if m, ok := c.CustomMetrics["cm"]; !ok || m.Type != warden.CustomMetricNumber || len(c.CustomMetrics) != 1 {
		t.Fatalf("DetectConfiguration custom metrics = %+v", c.CustomMetrics)
	}
	other, err := st.DetectConfiguration(ctx, otherAccount)
	if err != nil || len(other.Profiles) != 0 || len(other.Targets) != 0 {
		t.Fatalf("DetectConfiguration(other account) = %+v, %v", other, err)
	}

	// Detach: idempotent; a missing profile is ResourceNotFound.
	must(t, st.DetachSecurityProfile(ctx, scope, "b", group, t0))
	must(t, st.DetachSecurityProfile(ctx, scope, "b", group, t0))
	wantCode(t, "DetachSecurityProfile of a missing profile", st.DetachSecurityProfile(ctx, scope, "missing", group, t0), warden.CodeResourceNotFound)
	wantCode(t, "DetachSecurityProfile from another account", st.DetachSecurityProfile(ctx, scope, "a", warden.ThingGroupARN(otherAccount, "root"), t0),
		warden.CodeInvalidRequest)
	must(t, st.AttachSecurityProfile(ctx, scope, "f", group, t0)) // b's place
	wantChanges(t, st, warden.SecurityProfileARN(scope, "b"), "CreateSecurityProfile", "AttachSecurityProfile", "DetachSecurityProfile")

	// Deleting the leaf's parent groups detaches their profiles.
	must(t, st.DeleteThingGroup(ctx, scope, "leaf", false, nil, t0))
	must(t, st.DeleteThingGroup(ctx, scope, "child", false, nil, t0))
	must(t, st.DeleteThingGroup(ctx, scope, "root", false, nil, t0))
	wantNames(t, "SecurityProfileTargets(a) after its group went", walk(t, 5, func(p warden.Page) ([]string, string, error) {
		return st.SecurityProfileTargets(ctx, scope, "a", p)
	}), registered)
	wantChanges(t, st, warden.SecurityProfileARN(scope, "f"), "CreateSecurityProfile", "AttachSecurityProfile", "AttachSecurityProfile",
		"AttachSecurityProfile", "DetachSecurityProfile", "DetachSecurityProfile")
	// A group created again under the name starts with no profiles.
	_, _, err = st.CreateThingGroup(ctx, scope, warden.ThingGroup{Name: "root", ID: "id-2", Version: 1, CreationDate: t0, LastModifiedDate: t0}, nil)
	must(t, err)
	wantNames(t, "SecurityProfilesForTarget(new root)", mappings(group, false))

	// Deleting a profile takes its attachments.
	must(t, st.DeleteSecurityProfile(ctx, scope, "f", nil, t0))
	wantNames(t, "SecurityProfilesForTarget(all) after f went", mappings(all, false))
}

// securityProfileAttachRace: of ten profiles attached to one target at
// once, exactly five are, and the others are LimitExceeded.
func securityProfileAttachRace(t *testing.T, st warden.Store) {
	target := scope.IoTARN(warden.TargetUnregisteredThings)
	const n = 10
	for i := range n {
		_, err := st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: fmt.Sprintf("p%d", i)}, nil, t0)
		must(t, err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.AttachSecurityProfile(ctx, scope, fmt.Sprintf("p%d", i), target, t0)
		}()
	}
	wg.Wait()
	attached := 0
	for i, err := range errs {
		switch {
		case err == nil:
			attached++
		case warden.ErrorCode(err) != warden.CodeLimitExceeded:
			t.Fatalf("attach p%d: %v", i, err)
		}
	}
	ms := walk(t, 10, func(p warden.Page) ([]warden.SecurityProfileTargetMapping, string, error) {
		return st.SecurityProfilesForTarget(ctx, scope, target, false, p)
	})
	if attached != warden.MaxSecurityProfilesPerTarget || len(ms) != attached {
		t.Fatalf("%d attaches succeeded and %d profiles are attached; want %d", attached, len(ms), warden.MaxSecurityProfilesPerTarget)
	}
}
