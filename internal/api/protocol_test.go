package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/warden-iot/warden/internal/api"
)

// TestUnknownOperation: paths and methods that are no operation get the
// JSON error envelope, never Go's text/plain 404/405 or a redirect.
func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams())
	tests := []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/nope"},
		{"GET", "/no-such-operation/x"},
		{"PUT", "/mitigationactions/actions/keep"},
		{"POST", "/mitigationactions/actions"},
		{"DELETE", "/mitigationactions/actions"},
		{"PUT", "/mitigationactions/actions/"},
		{"PATCH", "/mitigationactions/actions"},
		{"GET", "/mitigationactions/actions/keep/extra"},
		{"DELETE", "/tags"},
		{"PUT", "/tags"},
		{"GET", "/untag"},
		{"GET", "/tags/"},
		{"OPTIONS", "/mitigationactions/actions"},
		// Paths that are not clean: ServeMux would answer with a 301 redirect.
		{"GET", "/mitigationactions/actions/../actions/keep"},
		{"GET", "/mitigationactions/actions/./keep"},
		{"GET", "//mitigationactions/actions/keep"},
		{"DELETE", "/mitigationactions/actions/keep/.."},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.call(t, tc.method, tc.path, nil)
			wantJSONError(t, r, "UnknownOperationException", http.StatusNotFound)
		})
	}
	if got := listAll(t, e.a, ""); len(got) != 1 {
		t.Errorf("got %q, want [keep]", got)
	}
}

// TestDotNamesThroughSDK: names made of dots are invalid, and the SDK must
// get an AWS error for them, not a redirect it would follow.
func TestDotNamesThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{".", ".."} {
		_, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
			ActionName: aws.String(name), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams(),
		})
		if errorMessage(err) == "" {
			t.Errorf("create %q: got %v, want an AWS error", name, err)
		}
		_, err = e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String(name)})
		if errorMessage(err) == "" {
			t.Errorf("describe %q: got %v, want an AWS error", name, err)
		}
	}
	if got := listAll(t, e.a, ""); len(got) != 0 {
		t.Errorf("got %q, want nothing created", got)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	// Exactly the limit is read and judged on its content.
	pad := api.MaxBodyBytes - len(`{"roleArn":"","actionParams":{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}}`)
	atLimit := []byte(`{"roleArn":"` + strings.Repeat("r", pad) + `","actionParams":{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}}`)
	if len(atLimit) != api.MaxBodyBytes {
		t.Fatalf("test bug: body of %d bytes", len(atLimit))
	}
	msg := wantJSONError(t, e.call(t, "POST", "/mitigationactions/actions/big", atLimit), "InvalidRequestException", http.StatusBadRequest)
	if !strings.Contains(msg, "roleArn") {
		t.Errorf("got message %q, want it to name roleArn", msg)
	}
	// One byte more is refused, signed or not.
	over := append(atLimit[:len(atLimit):len(atLimit)], ' ')
	wantJSONError(t, e.call(t, "POST", "/mitigationactions/actions/big", over), "RequestEntityTooLargeException", http.StatusRequestEntityTooLarge)
	wantJSONError(t, e.send(t, e.newRequest(t, "POST", "/mitigationactions/actions/big", over)), "RequestEntityTooLargeException", http.StatusRequestEntityTooLarge)
	huge := make([]byte, 3*api.MaxBodyBytes)
	wantJSONError(t, e.send(t, e.newRequest(t, "POST", "/tags", huge)), "RequestEntityTooLargeException", http.StatusRequestEntityTooLarge)
	if got := listAll(t, e.a, ""); len(got) != 0 {
		t.Errorf("got %q, want nothing created", got)
	}
}

func TestMalformedJSON(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	valid := createBody
	bodies := []struct{ name, body string }{
		{"truncated", `{"roleArn":`},
		{"unterminated object", valid[:len(valid)-1]},
		{"not JSON", `roleArn=x`},
		{"array", `[` + valid + `]`},
		{"null", `null`},
		{"string", `"` + roleArn + `"`},
		{"trailing garbage", valid + ` x`},
		{"two objects", valid + valid},
		{"single quotes", strings.ReplaceAll(valid, `"`, `'`)},
		{"invalid UTF-8 escape", `{"roleArn":"\x"}`},
	}
	want := storeState(t, e)
	for _, tc := range bodies {
		for _, op := range []struct{ method, path string }{
			{"POST", "/mitigationactions/actions/newact"},
			{"PATCH", "/mitigationactions/actions/keep"},
			{"POST", "/tags"},
			{"POST", "/untag"},
		} {
			t.Run(tc.name+" "+op.method+" "+op.path, func(t *testing.T) {
				wantJSONError(t, e.call(t, op.method, op.path, []byte(tc.body)), "InvalidRequestException", http.StatusBadRequest)
			})
		}
	}
	wantStoreUnchanged(t, e, want)
}

func TestWrongJSONTypes(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams(), tag("k", "v"))
	arn := actionArn(accountA, region, "keep")
	const params = `{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}`
	tests := []struct {
		name, method, path, body, wantMember string
	}{
		{"roleArn number", "POST", "/mitigationactions/actions/newact", `{"roleArn":5,"actionParams":` + params + `}`, "roleArn"},
		{"roleArn object", "POST", "/mitigationactions/actions/newact", `{"roleArn":{},"actionParams":` + params + `}`, "roleArn"},
		{"actionParams string", "POST", "/mitigationactions/actions/newact", `{"roleArn":"` + roleArn + `","actionParams":"x"}`, "actionParams"},
		{"topicArn bool", "POST", "/mitigationactions/actions/newact",
			`{"roleArn":"` + roleArn + `","actionParams":{"publishFindingToSnsParams":{"topicArn":true}}}`,
			"actionParams.publishFindingToSnsParams.topicArn"},
		{"thingGroupNames string", "POST", "/mitigationactions/actions/newact",
			`{"roleArn":"` + roleArn + `","actionParams":{"addThingsToThingGroupParams":{"thingGroupNames":"g"}}}`,
			"actionParams.addThingsToThingGroupParams.thingGroupNames"},
		{"thingGroupNames of numbers", "POST", "/mitigationactions/actions/newact",
			`{"roleArn":"` + roleArn + `","actionParams":{"addThingsToThingGroupParams":{"thingGroupNames":[1]}}}`,
			"thingGroupNames"},
		{"overrideDynamicGroups string", "POST", "/mitigationactions/actions/newact",
			`{"roleArn":"` + roleArn + `","actionParams":{"addThingsToThingGroupParams":{"thingGroupNames":["g"],"overrideDynamicGroups":"yes"}}}`,
			"overrideDynamicGroups"},
		{"tags object", "POST", "/mitigationactions/actions/newact", `{"roleArn":"` + roleArn + `","actionParams":` + params + `,"tags":{}}`, "tags"},
		{"tag Key number", "POST", "/mitigationactions/actions/newact", `{"roleArn":"` + roleArn + `","actionParams":` + params + `,"tags":[{"Key":1}]}`, "tags"},
		{"update roleArn list", "PATCH", "/mitigationactions/actions/keep", `{"roleArn":[]}`, "roleArn"},
		{"update actionParams number", "PATCH", "/mitigationactions/actions/keep", `{"actionParams":1}`, "actionParams"},
		{"TagResource tags string", "POST", "/tags", `{"resourceArn":"` + arn + `","tags":"k=v"}`, "tags"},
		{"TagResource resourceArn number", "POST", "/tags", `{"resourceArn":1,"tags":[]}`, "resourceArn"},
		{"UntagResource tagKeys string", "POST", "/untag", `{"resourceArn":"` + arn + `","tagKeys":"k"}`, "tagKeys"},
	}
	want := storeState(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantJSONError(t, e.call(t, tc.method, tc.path, []byte(tc.body)), "InvalidRequestException", http.StatusBadRequest)
			wantMessageHas(t, msg, tc.wantMember)
		})
	}
	wantStoreUnchanged(t, e, want)
}

// TestSuccessResponses checks every operation's raw success response: 200,
// application/json, a request id unique to the request, and the body.
func TestSuccessResponses(t *testing.T) {
	e := newEnv(t)
	arn := url.QueryEscape(actionArn(accountA, region, "raw"))
	steps := []struct {
		op, method, path, body string
		check                  func(t *testing.T, body map[string]any, raw string)
	}{
		{"CreateMitigationAction", "POST", "/mitigationactions/actions/raw", createBody[:len(createBody)-1] + `,"tags":[{"Key":"k","Value":"v"}]}`,
			func(t *testing.T, body map[string]any, raw string) {
				if body["actionArn"] != actionArn(accountA, region, "raw") || !isUUID(jsonStr(body["actionId"])) {
					t.Errorf("got %s, want actionArn and a UUID actionId", raw)
				}
			}},
		{"DescribeMitigationAction", "GET", "/mitigationactions/actions/raw", "",
			func(t *testing.T, body map[string]any, raw string) {
				for _, k := range []string{"creationDate", "lastModifiedDate"} {
					wantEpochNumber(t, k, body[k], raw)
				}
				for k, want := range map[string]string{"actionName": "raw", "actionType": "UPDATE_DEVICE_CERTIFICATE", "roleArn": roleArn} {
					if got := jsonStr(body[k]); got != want {
						t.Errorf("got %s %q, want %q", k, got, want)
					}
				}
				if !strings.Contains(raw, `"actionParams":{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}`) {
					t.Errorf("got %s, want actionParams with only updateDeviceCertificateParams", raw)
				}
			}},
		{"ListMitigationActions", "GET", "/mitigationactions/actions?maxResults=1", "",
			func(t *testing.T, body map[string]any, raw string) {
				ids, _ := body["actionIdentifiers"].([]any)
				if len(ids) != 1 {
					t.Fatalf("got %s, want one action identifier", raw)
				}
				wantEpochNumber(t, "actionIdentifiers[0].creationDate", ids[0].(map[string]any)["creationDate"], raw)
				if _, ok := body["nextToken"]; ok {
					t.Errorf("got %s, want no nextToken on the last page", raw)
				}
			}},
		{"ListMitigationActions (empty)", "GET", "/mitigationactions/actions?actionType=ENABLE_IOT_LOGGING", "",
			func(t *testing.T, body map[string]any, raw string) {
				if raw != `{"actionIdentifiers":[]}` {
					t.Errorf("got %s, want an empty list, not null", raw)
				}
			}},
		{"TagResource", "POST", "/tags", `{"resourceArn":"` + actionArn(accountA, region, "raw") + `","tags":[{"Key":"k2","Value":"v2"}]}`, wantEmptyObject},
		{"ListTagsForResource", "GET", "/tags?resourceArn=" + arn, "",
			func(t *testing.T, body map[string]any, raw string) {
				if raw != `{"tags":[{"Key":"k","Value":"v"},{"Key":"k2","Value":"v2"}]}` {
					t.Errorf("got %s", raw)
				}
			}},
		{"UntagResource", "POST", "/untag", `{"resourceArn":"` + actionArn(accountA, region, "raw") + `","tagKeys":["k2"]}`, wantEmptyObject},
		{"UpdateMitigationAction", "PATCH", "/mitigationactions/actions/raw", `{"roleArn":"` + roleArn2 + `"}`,
			func(t *testing.T, body map[string]any, raw string) {
				if body["actionArn"] != actionArn(accountA, region, "raw") || !isUUID(jsonStr(body["actionId"])) {
					t.Errorf("got %s, want actionArn and actionId", raw)
				}
			}},
		{"DeleteMitigationAction", "DELETE", "/mitigationactions/actions/raw", "", wantEmptyObject},
		{"DeleteMitigationAction (missing)", "DELETE", "/mitigationactions/actions/raw", "", wantEmptyObject},
	}
	ids := map[string]string{}
	for _, s := range steps {
		t.Run(s.op, func(t *testing.T) {
			var body []byte
			if s.body != "" {
				body = []byte(s.body)
			}
			r := e.call(t, s.method, s.path, body)
			parsed := wantOK(t, r)
			id := r.header.Get("x-amzn-RequestId")
			if prev, dup := ids[id]; dup {
				t.Errorf("request id %q of %s was already used by %s", id, s.op, prev)
			}
			ids[id] = s.op
			if r.header.Get("x-amzn-ErrorType") != "" {
				t.Errorf("success carries x-amzn-ErrorType %q", r.header.Get("x-amzn-ErrorType"))
			}
			s.check(t, parsed, string(r.body))
		})
	}
}

func wantEmptyObject(t *testing.T, _ map[string]any, raw string) {
	t.Helper()
	if raw != `{}` {
		t.Errorf("got body %s, want {}", raw)
	}
}

func jsonStr(v any) string { s, _ := v.(string); return s }

// wantEpochNumber checks that a timestamp is a JSON number of epoch seconds
// near now, with at most millisecond precision.
func wantEpochNumber(t *testing.T, name string, v any, raw string) {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Errorf("%s: got %T in %s, want a JSON number", name, v, raw)
		return
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	at := time.UnixMilli(int64(math.Round(f * 1000)))
	if d := time.Since(at); d < -time.Second || d > time.Minute {
		t.Errorf("%s: got %s (%v), want about now", name, n, at)
	}
	if ms := f * 1000; math.Abs(ms-math.Round(ms)) > 1e-3 {
		t.Errorf("%s: got %s, want at most millisecond precision", name, n)
	}
}

// TestSDKSeesRequestIDs: the SDK reads x-amzn-RequestId into the result
// metadata of every operation.
func TestSDKSeesRequestIDs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := aws.String(actionArn(accountA, region, "rid"))
	check := func(op string, md middleware.Metadata, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		id, ok := awsmiddleware.GetRequestIDMetadata(md)
		if !ok || id == "" {
			t.Errorf("%s: the SDK found no request id", op)
		}
	}
	c, err := e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("rid"), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams()})
	check("Create", c.ResultMetadata, err)
	u, err := e.a.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{ActionName: aws.String("rid"), RoleArn: aws.String(roleArn2)})
	check("Update", u.ResultMetadata, err)
	d, err := e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("rid")})
	check("Describe", d.ResultMetadata, err)
	l, err := e.a.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{})
	check("List", l.ResultMetadata, err)
	tr, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("a", "b")}})
	check("TagResource", tr.ResultMetadata, err)
	lt, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: arn})
	check("ListTagsForResource", lt.ResultMetadata, err)
	ut, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"a"}})
	check("UntagResource", ut.ResultMetadata, err)
	del, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("rid")})
	check("Delete", del.ResultMetadata, err)

	// Errors carry a request id too.
	_, err = e.a.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("rid")})
	var withID interface{ ServiceRequestID() string }
	if !errors.As(err, &withID) || withID.ServiceRequestID() == "" {
		t.Errorf("error %v carries no request id", err)
	}
}
