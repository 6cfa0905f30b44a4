package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden/internal/wardentest"
)

// Fixtures shared by the tests.
const (
	roleArn   = "arn:aws:iam::123456789012:role/warden-test"
	roleArn2  = "arn:aws:iam::123456789012:role/warden-other"
	topicArn  = "arn:aws:sns:us-east-1:123456789012:findings"
	logRole   = "arn:aws:iam::123456789012:role/warden-logging"
	uuidRegex = `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
)

var isUUID = regexp.MustCompile(uuidRegex).MatchString

// actionArn is the ARN Warden must give action name in account/region.
func actionArn(account, reg, name string) string {
	return "arn:aws:iot:" + reg + ":" + account + ":mitigationaction/" + name
}

// paramsCase is one MitigationActionParams shape and the type it stands for.
type paramsCase struct {
	typ    types.MitigationActionType
	params *types.MitigationActionParams
}

// sixParams returns one valid parameter set per action type.
func sixParams() []paramsCase {
	return []paramsCase{
		{types.MitigationActionTypeUpdateDeviceCertificate, &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate}}},
		{types.MitigationActionTypeUpdateCaCertificate, &types.MitigationActionParams{
			UpdateCACertificateParams: &types.UpdateCACertificateParams{Action: types.CACertificateUpdateActionDeactivate}}},
		{types.MitigationActionTypeAddThingsToThingGroup, &types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
				ThingGroupNames: []string{"quarantine", "group:with:colons_and-dash"}, OverrideDynamicGroups: aws.Bool(true)}}},
		{types.MitigationActionTypeReplaceDefaultPolicyVersion, &types.MitigationActionParams{
			ReplaceDefaultPolicyVersionParams: &types.ReplaceDefaultPolicyVersionParams{TemplateName: types.PolicyTemplateNameBlankPolicy}}},
		{types.MitigationActionTypeEnableIotLogging, &types.MitigationActionParams{
			EnableIoTLoggingParams: &types.EnableIoTLoggingParams{RoleArnForLogging: aws.String(logRole), LogLevel: types.LogLevelWarn}}},
		{types.MitigationActionTypePublishFindingToSns, &types.MitigationActionParams{
			PublishFindingToSnsParams: &types.PublishFindingToSnsParams{TopicArn: aws.String(topicArn)}}},
	}
}

func deviceCertParams() *types.MitigationActionParams { return sixParams()[0].params }

func snsParams(topic string) *types.MitigationActionParams {
	return &types.MitigationActionParams{PublishFindingToSnsParams: &types.PublishFindingToSnsParams{TopicArn: aws.String(topic)}}
}

// paramsJSON renders params for comparisons and failure messages.
func paramsJSON(p *types.MitigationActionParams) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// tagsString renders tags as "k=v,k=v" in the order given.
func tagsString(tags []types.Tag) string {
	var parts []string
	for _, t := range tags {
		parts = append(parts, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return strings.Join(parts, ",")
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// create makes an action through c and fails the test on error.
func create(t *testing.T, c *iot.Client, name string, params *types.MitigationActionParams, tags ...types.Tag) *iot.CreateMitigationActionOutput {
	t.Helper()
	out, err := c.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String(name), RoleArn: aws.String(roleArn), ActionParams: params, Tags: tags,
	})
	if err != nil {
		t.Fatalf("CreateMitigationAction(%s): %v", name, err)
	}
	return out
}

func describe(t *testing.T, c *iot.Client, name string) *iot.DescribeMitigationActionOutput {
	t.Helper()
	out, err := c.DescribeMitigationAction(context.Background(), &iot.DescribeMitigationActionInput{ActionName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeMitigationAction(%s): %v", name, err)
	}
	return out
}

// listAll returns every action name c sees, following nextToken.
func listAll(t *testing.T, c *iot.Client, actionType types.MitigationActionType) []string {
	t.Helper()
	var names []string
	p := iot.NewListMitigationActionsPaginator(c, &iot.ListMitigationActionsInput{ActionType: actionType, MaxResults: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListMitigationActions: %v", err)
		}
		for _, id := range page.ActionIdentifiers {
			names = append(names, aws.ToString(id.ActionName))
		}
	}
	return names
}

func listTags(t *testing.T, c *iot.Client, arn string) []types.Tag {
	t.Helper()
	out, err := c.ListTagsForResource(context.Background(), &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListTagsForResource(%s): %v", arn, err)
	}
	return out.Tags
}

// describeString renders every field of a DescribeMitigationAction answer so
// that two answers can be compared in one string.
func describeString(d *iot.DescribeMitigationActionOutput) string {
	return strings.Join([]string{
		"name=" + aws.ToString(d.ActionName),
		"type=" + string(d.ActionType),
		"arn=" + aws.ToString(d.ActionArn),
		"id=" + aws.ToString(d.ActionId),
		"role=" + aws.ToString(d.RoleArn),
		"params=" + paramsJSON(d.ActionParams),
		"created=" + aws.ToTime(d.CreationDate).UTC().Format(time.RFC3339Nano),
		"modified=" + aws.ToTime(d.LastModifiedDate).UTC().Format(time.RFC3339Nano),
	}, " ")
}

// --- raw signed HTTP, for what the SDK cannot send ---

// signer describes how a raw request is signed.
type signer struct {
	key, secret, service, region string
	at                           time.Time // zero = now
}

var signA = signer{key: keyA, secret: secretA, service: "iot", region: region}

// sign signs r, whose body is body, in place.
func (s signer) sign(t testing.TB, r *http.Request, body []byte) {
	t.Helper()
	if err := wardentest.Sign(r, body, s.key, s.secret, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
}

// newRequest builds an unsigned request to the test server; pathAndQuery is
// sent as written (it must already be percent-encoded).
func (e *env) newRequest(t testing.TB, method, pathAndQuery string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, e.server.URL+pathAndQuery, rd)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// rawResponse is a response read in full.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) send(t testing.TB, r *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// call sends a request signed as account A.
func (e *env) call(t testing.TB, method, pathAndQuery string, body []byte) rawResponse {
	t.Helper()
	r := e.newRequest(t, method, pathAndQuery, body)
	signA.sign(t, r, body)
	return e.send(t, r)
}

// wantJSONError checks the whole AWS error envelope of r and returns its message.
func wantJSONError(t testing.TB, r rawResponse, code string, status int) string {
	t.Helper()
	if r.status != status {
		t.Errorf("got status %d, want %d (body %s)", r.status, status, r.body)
	}
	if got := r.header.Get("x-amzn-ErrorType"); got != code {
		t.Errorf("got x-amzn-ErrorType %q, want %q", got, code)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", got)
	}
	if r.header.Get("x-amzn-RequestId") == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", r.body, err)
	}
	msg, _ := body["message"].(string)
	if msg == "" {
		t.Errorf("got body %s, want a non-empty string member \"message\"", r.body)
	}
	if got, _ := body["__type"].(string); got != code {
		t.Errorf("got body __type %q, want %q", got, code)
	}
	return msg
}

// wantOK checks a success response: 200, JSON object body, request id.
func wantOK(t testing.TB, r rawResponse) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got status %d, want 200 (body %s)", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", got)
	}
	if r.header.Get("x-amzn-RequestId") == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
	var body map[string]any
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&body); err != nil {
		t.Fatalf("success body %q is not a JSON object: %v", r.body, err)
	}
	return body
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
