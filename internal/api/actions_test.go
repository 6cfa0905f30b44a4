package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestCreateAndDescribeEachActionType(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := sixParams()
	// overrideDynamicGroups absent must come back absent, not false.
	cases = append(cases, paramsCase{types.MitigationActionTypeAddThingsToThingGroup, &types.MitigationActionParams{
		AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"g1"}}}})
	// ...and an explicit false must come back false.
	cases = append(cases, paramsCase{types.MitigationActionTypeAddThingsToThingGroup, &types.MitigationActionParams{
		AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"g1"}, OverrideDynamicGroups: aws.Bool(false)}}})
	for _, level := range []types.LogLevel{types.LogLevelDebug, types.LogLevelInfo, types.LogLevelError} {
		cases = append(cases, paramsCase{types.MitigationActionTypeEnableIotLogging, &types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: level}}})
	}
	ids := map[string]bool{}
	for i, tc := range cases {
		name := fmt.Sprintf("act-%d_%s", i, tc.typ)
		t.Run(name, func(t *testing.T) {
			before := time.Now()
			out, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
				ActionName: aws.String(name), RoleArn: aws.String(roleArn), ActionParams: tc.params,
			})
			after := time.Now()
			if err != nil {
				t.Fatalf("CreateMitigationAction: %v", err)
			}
			wantArn := actionArn(accountA, region, name)
			if got := aws.ToString(out.ActionArn); got != wantArn {
				t.Errorf("create: got actionArn %q, want %q", got, wantArn)
			}
			id := aws.ToString(out.ActionId)
			if !isUUID(id) {
				t.Errorf("create: got actionId %q, want a v4 UUID", id)
			}
			if ids[id] {
				t.Errorf("create: actionId %q was already given to another action", id)
			}
			ids[id] = true

			d := describe(t, e.a, name)
			for _, c := range []struct{ field, got, want string }{
				{"actionName", aws.ToString(d.ActionName), name},
				{"actionType", string(d.ActionType), string(tc.typ)},
				{"actionArn", aws.ToString(d.ActionArn), wantArn},
				{"actionId", aws.ToString(d.ActionId), id},
				{"roleArn", aws.ToString(d.RoleArn), roleArn},
				{"actionParams", paramsJSON(d.ActionParams), paramsJSON(tc.params)},
			} {
				if c.got != c.want {
					t.Errorf("describe: got %s %s, want %s", c.field, c.got, c.want)
				}
			}
			created, modified := aws.ToTime(d.CreationDate), aws.ToTime(d.LastModifiedDate)
			// The server keeps milliseconds; allow for that and float rounding.
			lo, hi := before.Add(-2*time.Millisecond), after.Add(2*time.Millisecond)
			if created.Before(lo) || created.After(hi) {
				t.Errorf("describe: got creationDate %v, want between %v and %v", created, lo, hi)
			}
			if d := modified.Sub(created); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("describe: got lastModifiedDate %v, want creationDate %v for a new action", modified, created)
			}
		})
	}
}

func TestCreateWithTags(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "tagged", deviceCertParams(), tag("team", "sec"), tag("env", ""), tag("a:b/c=d+e-f@g.h_i", "x"))
	got := tagsString(listTags(t, e.a, actionArn(accountA, region, "tagged")))
	if want := "a:b/c=d+e-f@g.h_i=x,env=,team=sec"; got != want {
		t.Errorf("got tags %q, want %q (sorted by key)", got, want)
	}
	create(t, e.a, "untagged", deviceCertParams())
	if got := listTags(t, e.a, actionArn(accountA, region, "untagged")); len(got) != 0 {
		t.Errorf("got tags %q on an action created without tags, want none", tagsString(got))
	}
}

func TestUpdateMitigationAction(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		role       *string
		params     *types.MitigationActionParams
		wantRole   string
		wantType   types.MitigationActionType
		wantParams *types.MitigationActionParams
	}{
		{"roleArn only", aws.String(roleArn2), nil, roleArn2, types.MitigationActionTypeUpdateDeviceCertificate, deviceCertParams()},
		{"actionParams only, same type", nil, &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate}},
			roleArn, types.MitigationActionTypeUpdateDeviceCertificate, deviceCertParams()},
		{"actionParams only, new type", nil, snsParams(topicArn), roleArn, types.MitigationActionTypePublishFindingToSns, snsParams(topicArn)},
		{"both", aws.String(roleArn2), sixParams()[2].params, roleArn2, types.MitigationActionTypeAddThingsToThingGroup, sixParams()[2].params},
		{"neither", nil, nil, roleArn, types.MitigationActionTypeUpdateDeviceCertificate, deviceCertParams()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			created := create(t, e.a, "act", deviceCertParams(), tag("k", "v"))
			before := describe(t, e.a, "act")
			time.Sleep(5 * time.Millisecond) // timestamps have millisecond precision
			out, err := e.a.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{
				ActionName: aws.String("act"), RoleArn: tc.role, ActionParams: tc.params,
			})
			if err != nil {
				t.Fatalf("UpdateMitigationAction: %v", err)
			}
			if got, want := aws.ToString(out.ActionId), aws.ToString(created.ActionId); got != want {
				t.Errorf("update: got actionId %q, want the created one %q", got, want)
			}
			if got, want := aws.ToString(out.ActionArn), aws.ToString(created.ActionArn); got != want {
				t.Errorf("update: got actionArn %q, want %q", got, want)
			}
			d := describe(t, e.a, "act")
			for _, c := range []struct{ field, got, want string }{
				{"roleArn", aws.ToString(d.RoleArn), tc.wantRole},
				{"actionType", string(d.ActionType), string(tc.wantType)},
				{"actionParams", paramsJSON(d.ActionParams), paramsJSON(tc.wantParams)},
				{"actionId", aws.ToString(d.ActionId), aws.ToString(created.ActionId)},
				{"actionName", aws.ToString(d.ActionName), "act"},
			} {
				if c.got != c.want {
					t.Errorf("describe after update: got %s %s, want %s", c.field, c.got, c.want)
				}
			}
			if got, want := aws.ToTime(d.CreationDate), aws.ToTime(before.CreationDate); !got.Equal(want) {
				t.Errorf("update changed creationDate from %v to %v", want, got)
			}
			if got, prev := aws.ToTime(d.LastModifiedDate), aws.ToTime(before.LastModifiedDate); !got.After(prev) {
				t.Errorf("got lastModifiedDate %v after update, want later than %v", got, prev)
			}
			// The type filter follows the new type.
			if got := listAll(t, e.a, tc.wantType); !slices.Equal(got, []string{"act"}) {
				t.Errorf("list actionType=%s: got %q, want [act]", tc.wantType, got)
			}
			if tc.wantType != types.MitigationActionTypeUpdateDeviceCertificate {
				if got := listAll(t, e.a, types.MitigationActionTypeUpdateDeviceCertificate); len(got) != 0 {
					t.Errorf("list by the old type: got %q, want none", got)
				}
			}
			// An update keeps the tags.
			if got := tagsString(listTags(t, e.a, aws.ToString(created.ActionArn))); got != "k=v" {
				t.Errorf("tags after update: got %q, want k=v", got)
			}
		})
	}
}

func TestUpdateMissingAction(t *testing.T) {
	e := newEnv(t)
	_, err := e.a.UpdateMitigationAction(context.Background(), &iot.UpdateMitigationActionInput{
		ActionName: aws.String("nope"), RoleArn: aws.String(roleArn2),
	})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("got %T, want *types.ResourceNotFoundException", err)
	}
	if got := listAll(t, e.a, ""); len(got) != 0 {
		t.Errorf("update of a missing action created %q", got)
	}
}

func TestDeleteMitigationAction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	del := func(name string) error {
		_, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String(name)})
		return err
	}
	if err := del("never-existed"); err != nil {
		t.Fatalf("delete of a missing action: got %v, want success", err)
	}
	create(t, e.a, "doomed", deviceCertParams())
	create(t, e.a, "kept", deviceCertParams())
	if err := del("doomed"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err := e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("doomed")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if got := listAll(t, e.a, ""); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("list after delete: got %q, want [kept]", got)
	}
	if err := del("doomed"); err != nil {
		t.Errorf("second delete: got %v, want success", err)
	}
	// The name is free again, and the new action is a new one.
	old := describe(t, e.a, "kept")
	if err := del("kept"); err != nil {
		t.Fatal(err)
	}
	again := create(t, e.a, "kept", deviceCertParams())
	if aws.ToString(again.ActionId) == aws.ToString(old.ActionId) {
		t.Errorf("recreated action got the deleted one's actionId %s", aws.ToString(old.ActionId))
	}
}

func TestDescribeMissingAction(t *testing.T) {
	e := newEnv(t)
	_, err := e.a.DescribeMitigationAction(context.Background(), &iot.DescribeMitigationActionInput{ActionName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if msg := errorMessage(err); msg == "" {
		t.Errorf("got an empty message")
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := create(t, e.a, "idem", sixParams()[2].params, tag("k", "v"))
	before := describe(t, e.a, "idem")
	time.Sleep(5 * time.Millisecond)

	again := create(t, e.a, "idem", sixParams()[2].params, tag("k", "v"))
	if got, want := aws.ToString(again.ActionId), aws.ToString(first.ActionId); got != want {
		t.Errorf("identical re-create: got actionId %q, want the existing %q", got, want)
	}
	if got, want := aws.ToString(again.ActionArn), aws.ToString(first.ActionArn); got != want {
		t.Errorf("identical re-create: got actionArn %q, want %q", got, want)
	}
	if got, want := describeString(describe(t, e.a, "idem")), describeString(before); got != want {
		t.Errorf("identical re-create changed the action:\ngot  %s\nwant %s", got, want)
	}
	if got := listAll(t, e.a, ""); !slices.Equal(got, []string{"idem"}) {
		t.Errorf("after identical re-create: got actions %q, want [idem]", got)
	}

	conflicts := []struct {
		name   string
		role   string
		params *types.MitigationActionParams
	}{
		{"different roleArn", roleArn2, sixParams()[2].params},
		{"different params, same type", roleArn, &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
			ThingGroupNames: []string{"other"}, OverrideDynamicGroups: aws.Bool(true)}}},
		{"different params, other type", roleArn, snsParams(topicArn)},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
				ActionName: aws.String("idem"), RoleArn: aws.String(tc.role), ActionParams: tc.params,
			})
			wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
			var exists *types.ResourceAlreadyExistsException
			if !errors.As(err, &exists) {
				t.Fatalf("got %T, want *types.ResourceAlreadyExistsException", err)
			}
			if got, want := aws.ToString(exists.ResourceId), aws.ToString(first.ActionId); got != want {
				t.Errorf("got resourceId %q, want the existing action's id %q", got, want)
			}
			if got, want := aws.ToString(exists.ResourceArn), aws.ToString(first.ActionArn); got != want {
				t.Errorf("got resourceArn %q, want %q", got, want)
			}
			if got, want := describeString(describe(t, e.a, "idem")), describeString(before); got != want {
				t.Errorf("conflicting create changed the action:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

func TestMitigationActionLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 100 {
		create(t, e.a, fmt.Sprintf("a%03d", i), deviceCertParams())
	}
	over := func(name string) error {
		_, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
			ActionName: aws.String(name), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams(),
		})
		return err
	}
	err := over("a100")
	wantCode(t, err, "LimitExceededException", http.StatusGone)
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		t.Errorf("got %T, want *types.LimitExceededException", err)
	}
	_, err = e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("a100")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if got := len(listAll(t, e.a, "")); got != 100 {
		t.Errorf("got %d actions after the refused create, want 100", got)
	}

	// An identical re-create at the limit creates nothing, so it succeeds.
	if err := over("a000"); err != nil {
		t.Errorf("identical re-create at the limit: got %v, want success", err)
	}
	// Account B has its own quota.
	create(t, e.b, "a100", deviceCertParams())

	if _, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("a042")}); err != nil {
		t.Fatal(err)
	}
	if err := over("a100"); err != nil {
		t.Fatalf("create after a delete: got %v, want success", err)
	}
	wantCode(t, over("a101"), "LimitExceededException", http.StatusGone)
}

// TestConcurrentCreates races creates against each other: one name created
// by many clients at once yields one action, and a burst at the quota never
// goes over it.
func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 16
	run := func(name func(i int) string) []error {
		errs := make([]error, n)
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				out, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
					ActionName: aws.String(name(i)), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams(),
				})
				errs[i] = err
				if err == nil {
					ids[i] = aws.ToString(out.ActionId)
				}
			})
		}
		wg.Wait()
		if name(0) == name(1) {
			for i, id := range ids {
				if errs[i] == nil && id != ids[0] {
					t.Errorf("concurrent identical creates returned actionIds %q and %q", ids[0], id)
				}
			}
		}
		return errs
	}
	for i, err := range run(func(int) string { return "same" }) {
		if err != nil {
			t.Errorf("identical create %d: %v", i, err)
		}
	}
	if got := listAll(t, e.a, ""); !slices.Equal(got, []string{"same"}) {
		t.Fatalf("after concurrent identical creates: got %q, want [same]", got)
	}

	for i := range 100 - 1 - n/2 {
		create(t, e.a, fmt.Sprintf("fill%03d", i), deviceCertParams())
	}
	ok, limited := 0, 0
	for i, err := range run(func(i int) string { return fmt.Sprintf("burst%02d", i) }) {
		switch {
		case err == nil:
			ok++
		case errorMessage(err) != "" && strings.Contains(err.Error(), "LimitExceededException"):
			limited++
		default:
			t.Errorf("burst create %d: %v", i, err)
		}
	}
	if ok != n/2 || limited != n/2 {
		t.Errorf("burst of %d creates with room for %d: %d succeeded, %d limited", n, n/2, ok, limited)
	}
	if got := len(listAll(t, e.a, "")); got != 100 {
		t.Errorf("got %d actions after the burst, want exactly 100", got)
	}
}
