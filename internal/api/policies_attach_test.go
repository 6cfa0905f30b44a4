package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
)

func TestPolicyAttachToCertificate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	polCreate(t, e.a, "q", polDoc("iot:Publish", "*"))
	cert1 := polInsertCert(t, e, accountA, polCertID(1))
	cert2 := polInsertCert(t, e, accountA, polCertID(2))
	attach := func(name, target string) error {
		_, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(name), Target: aws.String(target)})
		return err
	}
	detach := func(name, target string) error {
		_, err := e.a.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(name), Target: aws.String(target)})
		return err
	}
	for _, a := range [][2]string{{"p", cert2}, {"p", cert1}, {"q", cert1}} {
		if err := attach(a[0], a[1]); err != nil {
			t.Fatalf("AttachPolicy(%s, %s): %v", a[0], a[1], err)
		}
	}
	// Attaching twice is no error and records nothing.
	arn := polArn(accountA, "p")
	changes := len(polChanges(t, e, arn))
	if err := attach("p", cert1); err != nil {
		t.Fatalf("second AttachPolicy: %v", err)
	}
	if got := len(polChanges(t, e, arn)); got != changes {
		t.Errorf("repeated AttachPolicy wrote %d change rows, want none", got-changes)
	}
	if got, want := polTargets(t, e.a, "p"), sortedCopy([]string{cert1, cert2}); !slices.Equal(got, want) {
		t.Errorf("ListTargetsForPolicy p: got %v, want %v", got, want)
	}
	if got := polAttached(t, e.a, cert1, false); !slices.Equal(got, []string{"p", "q"}) {
		t.Errorf("ListAttachedPolicies cert1: got %v, want [p q]", got)
	}
	// The raw ListAttachedPolicies answer carries the policy ARNs.
	out, err := e.a.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(cert2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Policies) != 1 || aws.ToString(out.Policies[0].PolicyArn) != arn || out.NextMarker != nil {
		t.Errorf("ListAttachedPolicies cert2: got %+v", out.Policies)
	}

	// An attached policy cannot be deleted.
	before := polSnapshot(t, e, e.a, "p")
	_, err = e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantCode(t, err, "DeleteConflictException", http.StatusConflict)
	if !strings.Contains(errorMessage(err), "attached to 2 target") {
		t.Errorf("DeleteConflict message %q does not say why", errorMessage(err))
	}
	if after := polSnapshot(t, e, e.a, "p"); after != before {
		t.Errorf("rejected DeletePolicy changed state:\n%s\nwant\n%s", after, before)
	}

	// Rejected attachments change nothing.
	rejected := []struct {
		name, policy, target, code string
		status                     int
	}{
		{"missing certificate", "p", polCertArn(accountA, 77), "ResourceNotFoundException", http.StatusNotFound},
		{"another account's certificate", "p", polInsertCert(t, e, accountB, polCertID(3)), "ResourceNotFoundException", http.StatusNotFound},
		{"another region's certificate", "p", strings.Replace(cert1, region, "eu-west-1", 1), "ResourceNotFoundException", http.StatusNotFound},
		{"missing policy", "nope", cert1, "ResourceNotFoundException", http.StatusNotFound},
		{"missing thing group", "p", "arn:aws:iot:" + region + ":" + accountA + ":thinggroup/nogroup", "ResourceNotFoundException", http.StatusNotFound},
		{"a thing", "p", "arn:aws:iot:" + region + ":" + accountA + ":thing/t", "InvalidRequestException", http.StatusBadRequest},
		{"an IAM role", "p", "arn:aws:iam::" + accountA + ":role/r", "InvalidRequestException", http.StatusBadRequest},
		{"the certificate id in upper case (ids are lower-case)", "p", cert1[:len(cert1)-64] + strings.ToUpper(polCertID(1)), "ResourceNotFoundException", http.StatusNotFound},
		{"an upper-case ARN", "p", strings.ToUpper(cert1), "InvalidRequestException", http.StatusBadRequest},
	}
	for _, r := range rejected {
		t.Run(r.name, func(t *testing.T) {
			before := polSnapshot(t, e, e.a, "p")
			wantCode(t, attach(r.policy, r.target), r.code, r.status)
			if after := polSnapshot(t, e, e.a, "p"); after != before {
				t.Errorf("changed state:\n%s\nwant\n%s", after, before)
			}
		})
	}

	// Detaching: what is attached goes; what is not is no error and records nothing.
	if err := detach("p", cert2); err != nil {
		t.Fatal(err)
	}
	changes = len(polChanges(t, e, arn))
	for _, target := range []string{cert2, polCertArn(accountA, 99)} {
		if err := detach("p", target); err != nil {
			t.Errorf("DetachPolicy of an unattached %s: %v", target, err)
		}
	}
	if err := detach("nope", cert1); err != nil {
		t.Errorf("DetachPolicy of a missing policy: %v", err)
	}
	if got := len(polChanges(t, e, arn)); got != changes {
		t.Errorf("DetachPolicy without effect wrote %d change rows", got-changes)
	}
	if got := polTargets(t, e.a, "p"); !slices.Equal(got, []string{cert1}) {
		t.Errorf("targets after detach: %v", got)
	}
	if err := detach("p", cert1); err != nil {
		t.Fatal(err)
	}
	if got := polTargets(t, e.a, "p"); len(got) != 0 {
		t.Errorf("targets after detaching all: %v", got)
	}
	if _, err := e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")}); err != nil {
		t.Fatalf("DeletePolicy after detaching: %v", err)
	}

	want := []string{
		"CreatePolicy  -> " + fmt.Sprintf(`{"defaultVersionId":"1","policyDocument":%s}`, polJSON(polDoc("iot:Connect", "*"))),
		`AttachPolicy  -> {"target":"` + cert2 + `"}`,
		`AttachPolicy  -> {"target":"` + cert1 + `"}`,
		`DetachPolicy {"target":"` + cert2 + `"} -> `,
		`DetachPolicy {"target":"` + cert1 + `"} -> `,
		"DeletePolicy " + fmt.Sprintf(`{"defaultVersionId":"1","policyDocument":%s}`, polJSON(polDoc("iot:Connect", "*"))) + " -> ",
	}
	if got := polChanges(t, e, arn); !slices.Equal(got, want) {
		t.Errorf("change log of %s:\ngot  %s\nwant %s", arn, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestPolicyPerTargetLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cert := polInsertCert(t, e, accountA, polCertID(1))
	for i := 0; i <= warden.MaxPoliciesPerTarget; i++ {
		polCreate(t, e.a, fmt.Sprintf("p%02d", i), polDoc("iot:Connect", "*"))
	}
	for i := 0; i < warden.MaxPoliciesPerTarget; i++ {
		if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(fmt.Sprintf("p%02d", i)), Target: aws.String(cert)}); err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
	}
	last := fmt.Sprintf("p%02d", warden.MaxPoliciesPerTarget)
	before := polSnapshot(t, e, e.a, last)
	_, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(last), Target: aws.String(cert)})
	wantCode(t, err, "LimitExceededException", http.StatusGone)
	if after := polSnapshot(t, e, e.a, last); after != before {
		t.Errorf("rejected attach changed state:\n%s\nwant\n%s", after, before)
	}
	// Re-attaching one of the ten is still fine: it adds nothing.
	if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p03"), Target: aws.String(cert)}); err != nil {
		t.Errorf("re-attach at the limit: %v", err)
	}
	got := polAttached(t, e.a, cert, false)
	if len(got) != warden.MaxPoliciesPerTarget || got[0] != "p00" || got[9] != "p09" {
		t.Errorf("attached policies: %v", got)
	}
	// Paging through ListAttachedPolicies with pageSize 2 took every page once (polAttached checks order).
	if !slices.IsSorted(got) {
		t.Errorf("attached policies not in name order: %v", got)
	}
	// Another target may still take the eleventh policy.
	cert2 := polInsertCert(t, e, accountA, polCertID(2))
	if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(last), Target: aws.String(cert2)}); err != nil {
		t.Errorf("attach to another target: %v", err)
	}
}

func TestPolicyTargetsPagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	var want []string
	for i := 0; i < 7; i++ {
		cert := polInsertCert(t, e, accountA, polCertID(i))
		if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(cert)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, cert)
	}
	slices.Sort(want)
	if got := polTargets(t, e.a, "p"); !slices.Equal(got, want) {
		t.Errorf("targets by pages of 3: got %v, want %v", got, want)
	}
	page, err := e.a.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p"), PageSize: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Targets) != 4 || !polMarker(aws.ToString(page.NextMarker)) {
		t.Fatalf("first page: %d targets, nextMarker %q", len(page.Targets), aws.ToString(page.NextMarker))
	}
	// The marker is bound to the policy it lists.
	polCreate(t, e.a, "other", polDoc("iot:Connect", "*"))
	_, err = e.a.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("other"), Marker: page.NextMarker})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	rest, err := e.a.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p"), Marker: page.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if got := append(slices.Clone(page.Targets), rest.Targets...); !slices.Equal(got, want) || rest.NextMarker != nil {
		t.Errorf("two pages: got %v (next %v), want %v", got, rest.NextMarker, want)
	}
	// A policy without targets lists an empty array.
	res := wantOK(t, e.call(t, "POST", "/policy-targets/other", nil))
	if got, ok := res["targets"].([]any); !ok || len(got) != 0 {
		t.Errorf("targets of an unattached policy: %v, want []", res["targets"])
	}
}

func TestPolicyAttachToThingGroup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := polInsertGroup(t, e, "building", "", false)
	floor := polInsertGroup(t, e, "floor:1", "building", false)
	room := polInsertGroup(t, e, "room-1_a", "floor:1", false)
	dynamic := polInsertGroup(t, e, "dyn", "", true)
	for _, n := range []string{"rootPolicy", "floorPolicy", "roomPolicy", "shared"} {
		polCreate(t, e.a, n, polDoc("iot:Connect", "*"))
	}
	for _, a := range [][2]string{{"rootPolicy", root}, {"floorPolicy", floor}, {"roomPolicy", room}, {"shared", root}, {"shared", room}} {
		if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(a[0]), Target: aws.String(a[1])}); err != nil {
			t.Fatalf("AttachPolicy(%s, %s): %v", a[0], a[1], err)
		}
	}
	tests := []struct {
		target    string
		recursive bool
		want      []string
	}{
		{room, false, []string{"roomPolicy", "shared"}},
		{room, true, []string{"floorPolicy", "roomPolicy", "rootPolicy", "shared"}},
		{floor, true, []string{"floorPolicy", "rootPolicy", "shared"}},
		{root, true, []string{"rootPolicy", "shared"}},
		{dynamic, true, nil},
	}
	for _, tt := range tests {
		if got := polAttached(t, e.a, tt.target, tt.recursive); !slices.Equal(got, tt.want) {
			t.Errorf("ListAttachedPolicies(%s, recursive=%v): got %v, want %v", tt.target, tt.recursive, got, tt.want)
		}
	}
	if got, want := polTargets(t, e.a, "shared"), sortedCopy([]string{root, room}); !slices.Equal(got, want) {
		t.Errorf("targets of shared: %v, want %v", got, want)
	}
	// Dynamic groups take no policies.
	before := polSnapshot(t, e, e.a, "shared")
	_, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("shared"), Target: aws.String(dynamic)})
	wantInvalidRequest(t, err, "dynamic")
	if after := polSnapshot(t, e, e.a, "shared"); after != before {
		t.Errorf("rejected attach changed state:\n%s\nwant\n%s", after, before)
	}
	_, err = e.a.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String("arn:aws:iot:" + region + ":" + accountA + ":thinggroup/none")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(room)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
}

func TestLoggingOptions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	wantCode(t, err, "NotConfiguredException", http.StatusNotFound)
	v1, err := e.a.GetLoggingOptions(ctx, &iot.GetLoggingOptionsInput{})
	if err != nil || v1.RoleArn != nil || v1.LogLevel != "" {
		t.Errorf("GetLoggingOptions before any set: %v %+v, want an empty answer", err, v1)
	}

	steps := []struct {
		in   iot.SetV2LoggingOptionsInput
		want string
	}{
		{iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelError}, logRole + "/ERROR/false"},
		{iot.SetV2LoggingOptionsInput{RoleArn: aws.String(roleArn), DefaultLogLevel: types.LogLevelDisabled, DisableAllLogs: true}, roleArn + "/DISABLED/true"},
		{iot.SetV2LoggingOptionsInput{RoleArn: aws.String(roleArn), DefaultLogLevel: types.LogLevelDisabled, DisableAllLogs: true}, roleArn + "/DISABLED/true"},
		// Set replaces everything: what is left out is gone.
		{iot.SetV2LoggingOptionsInput{DefaultLogLevel: types.LogLevelDebug}, "/DEBUG/false"},
	}
	for i, s := range steps {
		if _, err := e.a.SetV2LoggingOptions(ctx, &s.in); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := e.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if g := fmt.Sprintf("%s/%s/%v", aws.ToString(got.RoleArn), got.DefaultLogLevel, got.DisableAllLogs); g != s.want {
			t.Errorf("step %d: got %s, want %s", i, g, s.want)
		}
	}
	v2arn := "arn:aws:iot:" + region + ":" + accountA + ":logging/v2"
	wantV2 := []string{
		`SetV2LoggingOptions  -> {"roleArn":"` + logRole + `","defaultLogLevel":"ERROR","disableAllLogs":false}`,
		`SetV2LoggingOptions {"roleArn":"` + logRole + `","defaultLogLevel":"ERROR","disableAllLogs":false} -> {"roleArn":"` + roleArn + `","defaultLogLevel":"DISABLED","disableAllLogs":true}`,
		`SetV2LoggingOptions {"roleArn":"` + roleArn + `","defaultLogLevel":"DISABLED","disableAllLogs":true} -> {"roleArn":"` + roleArn + `","defaultLogLevel":"DISABLED","disableAllLogs":true}`,
		`SetV2LoggingOptions {"roleArn":"` + roleArn + `","defaultLogLevel":"DISABLED","disableAllLogs":true} -> {"defaultLogLevel":"DEBUG","disableAllLogs":false}`,
	}
	if got := polChanges(t, e, v2arn); !slices.Equal(got, wantV2) {
		t.Errorf("change log of %s:\ngot  %s\nwant %s", v2arn, strings.Join(got, "\n     "), strings.Join(wantV2, "\n     "))
	}

	for _, s := range []types.LoggingOptionsPayload{
		{RoleArn: aws.String(logRole), LogLevel: types.LogLevelInfo},
		{RoleArn: aws.String(roleArn)},
	} {
		if _, err := e.a.SetLoggingOptions(ctx, &iot.SetLoggingOptionsInput{LoggingOptionsPayload: &s}); err != nil {
			t.Fatal(err)
		}
		got, err := e.a.GetLoggingOptions(ctx, &iot.GetLoggingOptionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(got.RoleArn) != aws.ToString(s.RoleArn) || got.LogLevel != s.LogLevel {
			t.Errorf("GetLoggingOptions: got %s/%s, want %s/%s", aws.ToString(got.RoleArn), got.LogLevel, aws.ToString(s.RoleArn), s.LogLevel)
		}
	}
	v1arn := "arn:aws:iot:" + region + ":" + accountA + ":logging/v1"
	wantV1 := []string{
		`SetLoggingOptions  -> {"roleArn":"` + logRole + `","logLevel":"INFO"}`,
		`SetLoggingOptions {"roleArn":"` + logRole + `","logLevel":"INFO"} -> {"roleArn":"` + roleArn + `"}`,
	}
	if got := polChanges(t, e, v1arn); !slices.Equal(got, wantV1) {
		t.Errorf("change log of %s:\ngot  %s\nwant %s", v1arn, strings.Join(got, "\n     "), strings.Join(wantV1, "\n     "))
	}
	// V1 and V2 are separate settings.
	got, err := e.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil || got.DefaultLogLevel != types.LogLevelDebug {
		t.Errorf("V2 after V1 sets: %v %+v", err, got)
	}
	// A rejected set changes nothing.
	_, err = e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: "LOUD"})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	if got := polChanges(t, e, v2arn); len(got) != len(wantV2) {
		t.Errorf("rejected SetV2LoggingOptions wrote a change row")
	}
}

// TestPolicyLimitsUnderConcurrency races many writers against the version and
// per-target limits: each check and write is one transaction, so neither
// limit is ever overshot and no version id is handed out twice.
func TestPolicyLimitsUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	cert := polInsertCert(t, e, accountA, polCertID(1))
	const writers = 16
	for i := 0; i < writers; i++ {
		polCreate(t, e.a, fmt.Sprintf("a%02d", i), polDoc("iot:Connect", "*"))
	}
	type result struct {
		id, code string
	}
	versions := make(chan result, writers)
	attaches := make(chan result, writers)
	for i := 0; i < writers; i++ {
		go func() {
			out, err := e.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
				PolicyName: aws.String("p"), PolicyDocument: aws.String(polDoc(fmt.Sprintf("iot:A%d", i), "*")), SetAsDefault: i%2 == 0})
			if err != nil {
				versions <- result{code: polCode(err)}
				return
			}
			versions <- result{id: aws.ToString(out.PolicyVersionId)}
		}()
		go func() {
			_, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(fmt.Sprintf("a%02d", i)), Target: aws.String(cert)})
			attaches <- result{code: polCode(err)}
		}()
	}
	var ids []string
	codes := map[string]int{}
	for i := 0; i < writers; i++ {
		r := <-versions
		if r.id != "" {
			ids = append(ids, r.id)
		} else {
			codes["version "+r.code]++
		}
		codes["attach "+(<-attaches).code]++
	}
	slices.Sort(ids)
	if want := []string{"2", "3", "4", "5"}; !slices.Equal(ids, want) {
		t.Errorf("concurrent CreatePolicyVersion gave ids %v, want %v", ids, want)
	}
	want := map[string]int{
		"version VersionsLimitExceededException": writers - 4,
		"attach ":                                warden.MaxPoliciesPerTarget,
		"attach LimitExceededException":          writers - warden.MaxPoliciesPerTarget,
	}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("outcomes: got %v, want %v", codes, want)
	}
	if got := polAttached(t, e.a, cert, false); len(got) != warden.MaxPoliciesPerTarget {
		t.Errorf("policies attached to the certificate: %d, want %d", len(got), warden.MaxPoliciesPerTarget)
	}
	if got := strings.Count(polVersions(t, e.a, "p"), ",") + 1; got != warden.MaxPolicyVersions {
		t.Errorf("versions stored: %d, want %d", got, warden.MaxPolicyVersions)
	}
}

// polCode is the API error code of err, "" for none.
func polCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
