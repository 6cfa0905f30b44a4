package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// storeState renders everything the validation tests could disturb: every
// action name in both accounts, the full description of "keep" and its tags.
func storeState(t *testing.T, e *env) string {
	t.Helper()
	return fmt.Sprintf("A=%q B=%q keep={%s} tags={%s}",
		sortedCopy(listAll(t, e.a, "")), sortedCopy(listAll(t, e.b, "")),
		describeString(describe(t, e.a, "keep")), tagsString(listTags(t, e.a, actionArn(accountA, region, "keep"))))
}

// wantStoreUnchanged fails t unless storeState still renders before.
func wantStoreUnchanged(t *testing.T, e *env, before string) {
	t.Helper()
	if got := storeState(t, e); got != before {
		t.Errorf("the store changed:\ngot  %s\nwant %s", got, before)
	}
}

// wantInvalidRequest fails t unless err is a 400 InvalidRequestException
// whose message contains each of parts.
func wantInvalidRequest(t *testing.T, err error, parts ...string) {
	t.Helper()
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	wantMessageHas(t, errorMessage(err), parts...)
}

// wantMessageHas fails t unless msg contains each of parts.
func wantMessageHas(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(msg, part) {
			t.Errorf("got message %q, want it to contain %q", msg, part)
		}
	}
}

func manyTags(n int) []types.Tag {
	var tags []types.Tag
	for i := range n {
		tags = append(tags, tag(fmt.Sprintf("k%02d", i), "v"))
	}
	return tags
}

func groupNames(n int) []string {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("g%d", i))
	}
	return names
}

// TestCreateValidation sends one invalid CreateMitigationAction per rule
// through the SDK and checks the 400, the member named in the message and
// that nothing was stored.
func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	ctx := context.Background()

	p := func(mp types.MitigationActionParams) func(*iot.CreateMitigationActionInput) {
		return func(in *iot.CreateMitigationActionInput) { in.ActionParams = &mp }
	}
	tests := []struct {
		name    string
		mutate  func(*iot.CreateMitigationActionInput)
		wantMsg string
	}{
		{"no params member", p(types.MitigationActionParams{}), "actionParams"},
		{"two params members", p(types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: "DEACTIVATE"},
			PublishFindingToSnsParams:     &types.PublishFindingToSnsParams{TopicArn: aws.String(topicArn)},
		}), "exactly one"},
		{"all six params members", p(types.MitigationActionParams{
			UpdateDeviceCertificateParams:     sixParams()[0].params.UpdateDeviceCertificateParams,
			UpdateCACertificateParams:         sixParams()[1].params.UpdateCACertificateParams,
			AddThingsToThingGroupParams:       sixParams()[2].params.AddThingsToThingGroupParams,
			ReplaceDefaultPolicyVersionParams: sixParams()[3].params.ReplaceDefaultPolicyVersionParams,
			EnableIoTLoggingParams:            sixParams()[4].params.EnableIoTLoggingParams,
			PublishFindingToSnsParams:         sixParams()[5].params.PublishFindingToSnsParams,
		}), "exactly one"},
		{"device action not DEACTIVATE", p(types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: "ACTIVATE"}}),
			"actionParams.updateDeviceCertificateParams.action"},
		{"CA action not DEACTIVATE", p(types.MitigationActionParams{
			UpdateCACertificateParams: &types.UpdateCACertificateParams{Action: "deactivate"}}),
			"actionParams.updateCACertificateParams.action"},
		{"thingGroupNames empty", p(types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{}}}),
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"11 thingGroupNames", p(types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: groupNames(11)}}),
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"129-char thing group name", p(types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"ok", strings.Repeat("g", 129)}}}),
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"empty thing group name", p(types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{""}}}),
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"thing group name with a bad char", p(types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine/1"}}}),
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"templateName not BLANK_POLICY", p(types.MitigationActionParams{
			ReplaceDefaultPolicyVersionParams: &types.ReplaceDefaultPolicyVersionParams{TemplateName: "FULL_POLICY"}}),
			"actionParams.replaceDefaultPolicyVersionParams.templateName"},
		{"logLevel DISABLED", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: types.LogLevelDisabled}}),
			"actionParams.enableIoTLoggingParams.logLevel"},
		{"unknown logLevel", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: "LOUD"}}),
			"actionParams.enableIoTLoggingParams.logLevel"},
		{"lower-case logLevel", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: "debug"}}),
			"actionParams.enableIoTLoggingParams.logLevel"},
		{"roleArnForLogging 19 chars", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(strings.Repeat("r", 19)), LogLevel: types.LogLevelInfo}}),
			"actionParams.enableIoTLoggingParams.roleArnForLogging"},
		{"roleArnForLogging 2049 chars", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(strings.Repeat("r", 2049)), LogLevel: types.LogLevelInfo}}),
			"actionParams.enableIoTLoggingParams.roleArnForLogging"},
		{"roleArnForLogging empty", p(types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(""), LogLevel: types.LogLevelInfo}}),
			"actionParams.enableIoTLoggingParams.roleArnForLogging"},
		{"topicArn 19 chars", p(*snsParams(strings.Repeat("t", 19))), "actionParams.publishFindingToSnsParams.topicArn"},
		{"topicArn 351 chars", p(*snsParams(strings.Repeat("t", 351))), "actionParams.publishFindingToSnsParams.topicArn"},
		{"topicArn empty", p(*snsParams("")), "actionParams.publishFindingToSnsParams.topicArn"},
		{"roleArn 19 chars", func(in *iot.CreateMitigationActionInput) { in.RoleArn = aws.String(strings.Repeat("r", 19)) }, "roleArn"},
		{"roleArn 2049 chars", func(in *iot.CreateMitigationActionInput) { in.RoleArn = aws.String(strings.Repeat("r", 2049)) }, "roleArn"},
		{"roleArn empty", func(in *iot.CreateMitigationActionInput) { in.RoleArn = aws.String("") }, "roleArn"},
		{"action name 129 chars", func(in *iot.CreateMitigationActionInput) { in.ActionName = aws.String(strings.Repeat("n", 129)) }, "actionName"},
		{"action name with a dot", func(in *iot.CreateMitigationActionInput) { in.ActionName = aws.String("a.b") }, "actionName"},
		{"action name with a space", func(in *iot.CreateMitigationActionInput) { in.ActionName = aws.String("a b") }, "actionName"},
		{"action name with a colon", func(in *iot.CreateMitigationActionInput) { in.ActionName = aws.String("a:b") }, "actionName"},
		{"action name non-ASCII", func(in *iot.CreateMitigationActionInput) { in.ActionName = aws.String("ä") }, "actionName"},
		{"tag with an empty key", func(in *iot.CreateMitigationActionInput) { in.Tags = []types.Tag{tag("", "v")} }, "tags.1.member.Key"},
		{"tag with a 129-char key", func(in *iot.CreateMitigationActionInput) {
			in.Tags = []types.Tag{tag("ok", "v"), tag(strings.Repeat("k", 129), "v")}
		}, "tags.2.member.Key"},
		{"tag key with a bad char", func(in *iot.CreateMitigationActionInput) { in.Tags = []types.Tag{tag("k!", "v")} }, "tags.1.member.Key"},
		{"tag with a 257-char value", func(in *iot.CreateMitigationActionInput) { in.Tags = []types.Tag{tag("k", strings.Repeat("v", 257))} }, "tags.1.member.Value"},
		{"51 tags", func(in *iot.CreateMitigationActionInput) { in.Tags = manyTags(51) }, "tags"},
	}
	want := storeState(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &iot.CreateMitigationActionInput{
				ActionName: aws.String("newact"), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams(),
			}
			tc.mutate(in)
			_, err := e.a.CreateMitigationAction(ctx, in)
			wantInvalidRequest(t, err, tc.wantMsg)
			wantStoreUnchanged(t, e, want)
		})
	}
}

// TestCreateValidationRaw covers what the SDK refuses to send (it checks
// required members itself) and path names it would encode differently.
func TestCreateValidationRaw(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	const params = `{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}`
	tests := []struct {
		name, path, body string
		wantMsgs         []string
	}{
		{"missing roleArn", "newact", `{"actionParams":` + params + `}`, []string{"roleArn"}},
		{"missing actionParams", "newact", `{"roleArn":"` + roleArn + `"}`, []string{"actionParams"}},
		{"null actionParams", "newact", `{"roleArn":"` + roleArn + `","actionParams":null}`, []string{"actionParams"}},
		{"empty object", "newact", `{}`, []string{"roleArn", "actionParams", "2 validation errors"}},
		{"no body", "newact", ``, []string{"roleArn", "actionParams"}},
		{"missing thingGroupNames", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"addThingsToThingGroupParams":{}}}`,
			[]string{"actionParams.addThingsToThingGroupParams.thingGroupNames"}},
		{"missing device action", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"updateDeviceCertificateParams":{}}}`,
			[]string{"actionParams.updateDeviceCertificateParams.action"}},
		{"empty device action", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"updateDeviceCertificateParams":{"action":""}}}`,
			[]string{"actionParams.updateDeviceCertificateParams.action"}},
		{"missing CA action", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"updateCACertificateParams":{}}}`,
			[]string{"actionParams.updateCACertificateParams.action"}},
		{"empty templateName", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"replaceDefaultPolicyVersionParams":{"templateName":""}}}`,
			[]string{"actionParams.replaceDefaultPolicyVersionParams.templateName"}},
		{"params member null", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"publishFindingToSnsParams":null}}`,
			[]string{"actionParams"}},
		{"missing logging members", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"enableIoTLoggingParams":{}}}`,
			[]string{"actionParams.enableIoTLoggingParams.roleArnForLogging", "actionParams.enableIoTLoggingParams.logLevel"}},
		{"missing topicArn", "newact", `{"roleArn":"` + roleArn + `","actionParams":{"publishFindingToSnsParams":{}}}`,
			[]string{"actionParams.publishFindingToSnsParams.topicArn"}},
		{"encoded space in name", "a%20b", `{"roleArn":"` + roleArn + `","actionParams":` + params + `}`, []string{"actionName"}},
		{"encoded slash in name", "a%2Fb", `{"roleArn":"` + roleArn + `","actionParams":` + params + `}`, []string{"actionName"}},
		{"encoded percent in name", "a%25b", `{"roleArn":"` + roleArn + `","actionParams":` + params + `}`, []string{"actionName"}},
		{"empty name", "", `{"roleArn":"` + roleArn + `","actionParams":` + params + `}`, []string{"actionName"}},
		{"tag without Key", "newact", `{"roleArn":"` + roleArn + `","actionParams":` + params + `,"tags":[{"Value":"v"}]}`,
			[]string{"tags.1.member.Key"}},
	}
	want := storeState(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := e.call(t, "POST", "/mitigationactions/actions/"+tc.path, body)
			wantMessageHas(t, wantJSONError(t, r, "InvalidRequestException", http.StatusBadRequest), tc.wantMsgs...)
			wantStoreUnchanged(t, e, want)
		})
	}
}

func TestUpdateValidation(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	ctx := context.Background()
	tests := []struct {
		name    string
		in      iot.UpdateMitigationActionInput
		wantMsg string
	}{
		{"no params member", iot.UpdateMitigationActionInput{ActionParams: &types.MitigationActionParams{}}, "actionParams"},
		{"two params members", iot.UpdateMitigationActionInput{ActionParams: &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: "DEACTIVATE"},
			UpdateCACertificateParams:     &types.UpdateCACertificateParams{Action: "DEACTIVATE"},
		}}, "exactly one"},
		{"logLevel DISABLED", iot.UpdateMitigationActionInput{ActionParams: &types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: types.LogLevelDisabled}}},
			"actionParams.enableIoTLoggingParams.logLevel"},
		{"topicArn 351 chars", iot.UpdateMitigationActionInput{ActionParams: snsParams(strings.Repeat("t", 351))},
			"actionParams.publishFindingToSnsParams.topicArn"},
		{"11 thingGroupNames", iot.UpdateMitigationActionInput{ActionParams: &types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: groupNames(11)}}},
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"roleArn 19 chars", iot.UpdateMitigationActionInput{RoleArn: aws.String(strings.Repeat("r", 19))}, "roleArn"},
		{"roleArn 2049 chars", iot.UpdateMitigationActionInput{RoleArn: aws.String(strings.Repeat("r", 2049))}, "roleArn"},
		// A valid roleArn does not make an invalid actionParams acceptable.
		{"valid roleArn, bad params", iot.UpdateMitigationActionInput{RoleArn: aws.String(roleArn2),
			ActionParams: &types.MitigationActionParams{ReplaceDefaultPolicyVersionParams: &types.ReplaceDefaultPolicyVersionParams{TemplateName: "X"}}},
			"actionParams.replaceDefaultPolicyVersionParams.templateName"},
	}
	want := storeState(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.ActionName = aws.String("keep")
			_, err := e.a.UpdateMitigationAction(ctx, &in)
			wantInvalidRequest(t, err, tc.wantMsg)
			wantStoreUnchanged(t, e, want)
		})
	}
}

// TestActionNameValidationOnEveryOperation checks that describe, update and
// delete reject the names create rejects, before touching the store.
func TestActionNameValidationOnEveryOperation(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	ctx := context.Background()
	want := storeState(t, e)
	for _, name := range []string{strings.Repeat("n", 129), "a.b", "a b", "keep!"} {
		ops := map[string]func() error{
			"Describe": func() error {
				_, err := e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String(name)})
				return err
			},
			"Update": func() error {
				_, err := e.a.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{ActionName: aws.String(name), RoleArn: aws.String(roleArn2)})
				return err
			},
			"Delete": func() error {
				_, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String(name)})
				return err
			},
		}
		for op, f := range ops {
			t.Run(op+" "+name[:min(len(name), 10)], func(t *testing.T) {
				wantInvalidRequest(t, f(), "actionName")
			})
		}
	}
	// An empty name cannot be sent by the Go SDK (it refuses an empty path
	// label) but botocore sends it.
	for _, m := range []string{"GET", "DELETE", "PATCH"} {
		t.Run(m+" empty name", func(t *testing.T) {
			msg := wantJSONError(t, e.call(t, m, "/mitigationactions/actions/", []byte(`{"roleArn":"`+roleArn2+`"}`)),
				"InvalidRequestException", http.StatusBadRequest)
			wantMessageHas(t, msg, "actionName")
		})
	}
	wantStoreUnchanged(t, e, want)
}

// TestValidationBoundariesAccepted creates actions whose members sit exactly
// on each limit: every one must be accepted and stored as sent.
func TestValidationBoundariesAccepted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		role   string
		params *types.MitigationActionParams
		tags   []types.Tag
	}{
		{strings.Repeat("n", 128), roleArn, deviceCertParams(), nil},
		{"x", strings.Repeat("r", 20), deviceCertParams(), nil},
		{"Az09_-", strings.Repeat("r", 2048), deviceCertParams(), nil},
		{"topic-20", roleArn, snsParams(strings.Repeat("t", 20)), nil},
		{"topic-350", roleArn, snsParams(strings.Repeat("t", 350)), nil},
		{"groups-10", roleArn, &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
			ThingGroupNames: append(groupNames(9), strings.Repeat("g", 128))}}, nil},
		{"log-role-20", roleArn, &types.MitigationActionParams{EnableIoTLoggingParams: &types.EnableIoTLoggingParams{
			RoleArnForLogging: aws.String(strings.Repeat("r", 20)), LogLevel: types.LogLevelError}}, nil},
		{"tags-50", roleArn, deviceCertParams(), manyTags(50)},
		{"tag-limits", roleArn, deviceCertParams(), []types.Tag{tag(strings.Repeat("k", 128), strings.Repeat("v", 256)), tag("ключ 1", "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name[:min(len(tc.name), 20)], func(t *testing.T) {
			_, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
				ActionName: aws.String(tc.name), RoleArn: aws.String(tc.role), ActionParams: tc.params, Tags: tc.tags,
			})
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			d := describe(t, e.a, tc.name)
			if got := aws.ToString(d.RoleArn); got != tc.role {
				t.Errorf("got roleArn of %d chars, want %d", len(got), len(tc.role))
			}
			if got, want := paramsJSON(d.ActionParams), paramsJSON(tc.params); got != want {
				t.Errorf("got params %s, want %s", got, want)
			}
			if got := listTags(t, e.a, aws.ToString(d.ActionArn)); len(got) != len(tc.tags) {
				t.Errorf("got %d tags, want %d", len(got), len(tc.tags))
			}
		})
	}
}
