package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
)

// --- helpers of the policy tests (prefix pol) ---

// polDoc is a valid policy document allowing action on resource.
func polDoc(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%q,"Resource":%q}]}`, action, resource)
}

var polMarker = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`).MatchString

var polGenerationID = regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString

func polArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":policy/" + name
}

func polCreate(t *testing.T, c *iot.Client, name, doc string, tags ...types.Tag) *iot.CreatePolicyOutput {
	t.Helper()
	out, err := c.CreatePolicy(context.Background(), &iot.CreatePolicyInput{
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc), Tags: tags})
	if err != nil {
		t.Fatalf("CreatePolicy(%s): %v", name, err)
	}
	return out
}

func polVersion(t *testing.T, c *iot.Client, name, doc string, setAsDefault bool) *iot.CreatePolicyVersionOutput {
	t.Helper()
	out, err := c.CreatePolicyVersion(context.Background(), &iot.CreatePolicyVersionInput{
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc), SetAsDefault: setAsDefault})
	if err != nil {
		t.Fatalf("CreatePolicyVersion(%s): %v", name, err)
	}
	return out
}

func polGet(t *testing.T, c *iot.Client, name string) *iot.GetPolicyOutput {
	t.Helper()
	out, err := c.GetPolicy(context.Background(), &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetPolicy(%s): %v", name, err)
	}
	return out
}

// polVersions renders ListPolicyVersions as "3*,2,1" (* = default).
func polVersions(t *testing.T, c *iot.Client, name string) string {
	t.Helper()
	out, err := c.ListPolicyVersions(context.Background(), &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListPolicyVersions(%s): %v", name, err)
	}
	var parts []string
	for _, v := range out.PolicyVersions {
		s := aws.ToString(v.VersionId)
		if v.IsDefaultVersion {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// polTargets lists every target of a policy, following nextMarker.
func polTargets(t *testing.T, c *iot.Client, name string) []string {
	t.Helper()
	var out []string
	p := iot.NewListTargetsForPolicyPaginator(c, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(name), PageSize: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListTargetsForPolicy(%s): %v", name, err)
		}
		out = append(out, page.Targets...)
	}
	return out
}

// polAttached lists the names of the policies attached to target.
func polAttached(t *testing.T, c *iot.Client, target string, recursive bool) []string {
	t.Helper()
	var out []string
	p := iot.NewListAttachedPoliciesPaginator(c, &iot.ListAttachedPoliciesInput{Target: aws.String(target), Recursive: recursive, PageSize: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListAttachedPolicies(%s): %v", target, err)
		}
		for _, pol := range page.Policies {
			out = append(out, aws.ToString(pol.PolicyName))
		}
	}
	return out
}

// polSnapshot renders everything account A's client can see of a policy, to
// prove that a rejected request changed nothing.
func polSnapshot(t *testing.T, e *env, c *iot.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	p, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if err != nil {
		fmt.Fprintf(&b, "get: %s\n", errorMessage(err))
	} else {
		fmt.Fprintf(&b, "get: %s %s %s %s %s %s\n", aws.ToString(p.PolicyDocument), aws.ToString(p.DefaultVersionId),
			aws.ToString(p.GenerationId), aws.ToTime(p.CreationDate), aws.ToTime(p.LastModifiedDate), aws.ToString(p.PolicyArn))
		fmt.Fprintf(&b, "versions: %s\n", polVersions(t, c, name))
		fmt.Fprintf(&b, "targets: %q\n", polTargets(t, c, name))
	}
	changes, err := e.store.Changes(ctx, warden.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "changes: %d\n", len(changes))
	return b.String()
}

// polChanges returns the change-log rows of resource arn as "Operation before -> after".
func polChanges(t *testing.T, e *env, arn string) []string {
	t.Helper()
	changes, err := e.store.Changes(context.Background(), warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		if c.Actor != keyA && c.Actor != keyB {
			t.Errorf("change %d (%s) has actor %q, want the access key", c.Seq, c.Operation, c.Actor)
		}
		out = append(out, c.Operation+" "+c.Before+" -> "+c.After)
	}
	return out
}

// polInsertCert stores a certificate row with the given 64-hex id and returns its ARN.
func polInsertCert(t *testing.T, e *env, account, id string) string {
	t.Helper()
	now := time.Now().UnixMilli()
	if _, err := rawDB(t, e).Exec(`INSERT INTO certificates
		(account, region, id, status, pem, generation_id, not_before, not_after, created_at, updated_at)
		VALUES (?, ?, ?, 'ACTIVE', 'pem', 'g', ?, ?, ?, ?)`, account, region, id, now, now+1e9, now, now); err != nil {
		t.Fatalf("insert certificate: %v", err)
	}
	return "arn:aws:iot:" + region + ":" + account + ":cert/" + id
}

func polCertID(i int) string { return fmt.Sprintf("%064x", i+0xabc) }

// polInsertGroup stores a thing group row under parent ("" for a root) with
// its closure rows, and returns its ARN.
func polInsertGroup(t *testing.T, e *env, name, parent string, dynamic bool) string {
	t.Helper()
	db := rawDB(t, e)
	now := time.Now().UnixMilli()
	dyn := 0
	if dynamic {
		dyn = 1
	}
	root, depth := name, 1
	if parent != "" {
		if err := db.QueryRow(`SELECT root_name, depth FROM thing_groups WHERE account = ? AND region = ? AND name = ?`,
			accountA, region, parent).Scan(&root, &depth); err != nil {
			t.Fatalf("parent group %s: %v", parent, err)
		}
		depth++
	}
	if _, err := db.Exec(`INSERT INTO thing_groups (account, region, name, id, parent_name, root_name, depth, dynamic, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, accountA, region, name, warden.NewUUID(), parent, root, depth, dyn, now, now); err != nil {
		t.Fatalf("insert thing group: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO thing_group_ancestors (account, region, ancestor, descendant, distance)
		SELECT account, region, ancestor, ?, distance + 1 FROM thing_group_ancestors WHERE account = ? AND region = ? AND descendant = ?
		UNION ALL SELECT ?, ?, ?, ?, 0`, name, accountA, region, parent, accountA, region, name, name); err != nil {
		t.Fatalf("insert thing group closure: %v", err)
	}
	return "arn:aws:iot:" + region + ":" + accountA + ":thinggroup/" + name
}

// --- tests ---

func TestPolicyLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	doc1 := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"iot:Connect\", \"Resource\": \"*\"}\n}"
	doc2, doc3 := polDoc("iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/a"), polDoc("iot:Subscribe", "*")
	arn := polArn(accountA, "Sensor.Policy@1")

	created := polCreate(t, e.a, "Sensor.Policy@1", doc1, tag("env", "prod"))
	if got := [4]string{aws.ToString(created.PolicyName), aws.ToString(created.PolicyArn), aws.ToString(created.PolicyDocument), aws.ToString(created.PolicyVersionId)}; got != [4]string{"Sensor.Policy@1", arn, doc1, "1"} {
		t.Errorf("CreatePolicy: got %q, want name, ARN %s, the document verbatim, version 1", got, arn)
	}
	p := polGet(t, e.a, "Sensor.Policy@1")
	if aws.ToString(p.PolicyDocument) != doc1 || aws.ToString(p.DefaultVersionId) != "1" || aws.ToString(p.PolicyArn) != arn || aws.ToString(p.PolicyName) != "Sensor.Policy@1" {
		t.Errorf("GetPolicy after create: got %+v", p)
	}
	if !polGenerationID(aws.ToString(p.GenerationId)) {
		t.Errorf("GetPolicy: generationId %q is not 64 hex characters", aws.ToString(p.GenerationId))
	}
	if p.CreationDate == nil || !p.CreationDate.Equal(aws.ToTime(p.LastModifiedDate)) || time.Since(*p.CreationDate) > time.Minute {
		t.Errorf("GetPolicy: creationDate %v and lastModifiedDate %v, want both now and equal", p.CreationDate, p.LastModifiedDate)
	}
	if got := tagsString(listTags(t, e.a, arn)); got != "env=prod" {
		t.Errorf("tags given at CreatePolicy: got %q, want env=prod", got)
	}
	gen1 := aws.ToString(p.GenerationId)

	time.Sleep(5 * time.Millisecond)
	v2 := polVersion(t, e.a, "Sensor.Policy@1", doc2, false)
	if aws.ToString(v2.PolicyVersionId) != "2" || v2.IsDefaultVersion || aws.ToString(v2.PolicyDocument) != doc2 || aws.ToString(v2.PolicyArn) != arn {
		t.Errorf("CreatePolicyVersion without setAsDefault: got %+v, want version 2, not default", v2)
	}
	p = polGet(t, e.a, "Sensor.Policy@1")
	if aws.ToString(p.PolicyDocument) != doc1 || aws.ToString(p.DefaultVersionId) != "1" {
		t.Errorf("GetPolicy after a non-default version: got version %s document %s, want still version 1", aws.ToString(p.DefaultVersionId), aws.ToString(p.PolicyDocument))
	}
	if aws.ToString(p.GenerationId) == gen1 || !p.LastModifiedDate.After(*p.CreationDate) {
		t.Errorf("GetPolicy after CreatePolicyVersion: generationId and lastModifiedDate must change")
	}

	v3 := polVersion(t, e.a, "Sensor.Policy@1", doc3, true)
	if aws.ToString(v3.PolicyVersionId) != "3" || !v3.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion with setAsDefault: got %+v, want version 3, default", v3)
	}
	if got := aws.ToString(polGet(t, e.a, "Sensor.Policy@1").PolicyDocument); got != doc3 {
		t.Errorf("GetPolicy after setAsDefault: document %s, want %s", got, doc3)
	}
	if got := polVersions(t, e.a, "Sensor.Policy@1"); got != "3*,2,1" {
		t.Errorf("ListPolicyVersions: got %s, want 3*,2,1", got)
	}

	gv, err := e.a.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("Sensor.Policy@1"), PolicyVersionId: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(gv.PolicyDocument) != doc1 || gv.IsDefaultVersion || aws.ToString(gv.PolicyVersionId) != "1" ||
		aws.ToString(gv.PolicyName) != "Sensor.Policy@1" || aws.ToString(gv.PolicyArn) != arn || !polGenerationID(aws.ToString(gv.GenerationId)) {
		t.Errorf("GetPolicyVersion 1: got %+v", gv)
	}
	if !gv.LastModifiedDate.After(*gv.CreationDate) {
		t.Errorf("GetPolicyVersion 1: lastModifiedDate %v must move past creationDate %v when it stopped being the default", gv.LastModifiedDate, gv.CreationDate)
	}

	if _, err := e.a.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("Sensor.Policy@1"), PolicyVersionId: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	p = polGet(t, e.a, "Sensor.Policy@1")
	if aws.ToString(p.DefaultVersionId) != "2" || aws.ToString(p.PolicyDocument) != doc2 {
		t.Errorf("GetPolicy after SetDefaultPolicyVersion 2: got version %s", aws.ToString(p.DefaultVersionId))
	}
	if _, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("Sensor.Policy@1"), PolicyVersionId: aws.String("3")}); err != nil {
		t.Fatal(err)
	}
	if v := polVersion(t, e.a, "Sensor.Policy@1", doc3, false); aws.ToString(v.PolicyVersionId) != "4" {
		t.Errorf("version after deleting version 3: got %s, want 4 (ids are never reused)", aws.ToString(v.PolicyVersionId))
	}
	if got := polVersions(t, e.a, "Sensor.Policy@1"); got != "4,2*,1" {
		t.Errorf("ListPolicyVersions: got %s, want 4,2*,1", got)
	}

	// DeletePolicy needs every non-default version deleted first.
	before := polSnapshot(t, e, e.a, "Sensor.Policy@1")
	_, err = e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Sensor.Policy@1")})
	wantCode(t, err, "DeleteConflictException", http.StatusConflict)
	if !strings.Contains(errorMessage(err), "non-default version") {
		t.Errorf("DeleteConflict message %q does not say why", errorMessage(err))
	}
	if after := polSnapshot(t, e, e.a, "Sensor.Policy@1"); after != before {
		t.Errorf("rejected DeletePolicy changed state:\n%s\nwant\n%s", after, before)
	}
	for _, id := range []string{"1", "4"} {
		if _, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("Sensor.Policy@1"), PolicyVersionId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Sensor.Policy@1")}); err != nil {
		t.Fatalf("DeletePolicy with only the default version: %v", err)
	}
	_, err = e.a.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("Sensor.Policy@1")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Sensor.Policy@1")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	// A policy made again under the same name starts over at version 1, without the old tags.
	if v := polCreate(t, e.a, "Sensor.Policy@1", doc2); aws.ToString(v.PolicyVersionId) != "1" {
		t.Errorf("re-created policy: version %s, want 1", aws.ToString(v.PolicyVersionId))
	}
	if got := polVersions(t, e.a, "Sensor.Policy@1"); got != "1*" {
		t.Errorf("re-created policy versions: %s, want 1*", got)
	}
	if got := listTags(t, e.a, arn); len(got) != 0 {
		t.Errorf("re-created policy has the old tags %s", tagsString(got))
	}

	v := func(id, def, doc string) string {
		return fmt.Sprintf(`{"versionId":%q,"defaultVersionId":%q,"policyDocument":%s}`, id, def, polJSON(doc))
	}
	d := func(def string) string { return fmt.Sprintf(`{"defaultVersionId":%q}`, def) }
	dd := func(def, doc string) string {
		return fmt.Sprintf(`{"defaultVersionId":%q,"policyDocument":%s}`, def, polJSON(doc))
	}
	want := []string{
		"CreatePolicy  -> " + dd("1", doc1),
		"CreatePolicyVersion " + d("1") + " -> " + v("2", "1", doc2),
		"CreatePolicyVersion " + d("1") + " -> " + v("3", "3", doc3),
		"SetDefaultPolicyVersion " + d("3") + " -> " + d("2"),
		"DeletePolicyVersion " + v("3", "2", doc3) + " -> " + d("2"),
		"CreatePolicyVersion " + d("2") + " -> " + v("4", "2", doc3),
		"DeletePolicyVersion " + v("1", "2", doc1) + " -> " + d("2"),
		"DeletePolicyVersion " + v("4", "2", doc3) + " -> " + d("2"),
		"DeletePolicy " + dd("2", doc2) + " -> ",
		"CreatePolicy  -> " + dd("1", doc2),
	}
	if got := polChanges(t, e, arn); !slices.Equal(got, want) {
		t.Errorf("change log of %s:\ngot  %s\nwant %s", arn, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func polJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPolicyCreateConflictsAndNotFound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	before := polSnapshot(t, e, e.a, "p")
	_, err := e.a.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(polDoc("iot:Publish", "*"))})
	wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) || aws.ToString(exists.ResourceArn) != polArn(accountA, "p") || aws.ToString(exists.ResourceId) != "p" {
		t.Errorf("ResourceAlreadyExistsException: got %v, want resourceId p and resourceArn %s", err, polArn(accountA, "p"))
	}
	if after := polSnapshot(t, e, e.a, "p"); after != before {
		t.Errorf("rejected CreatePolicy changed state:\n%s\nwant\n%s", after, before)
	}

	missing := []struct {
		name string
		call func() error
	}{
		{"GetPolicy", func() error {
			_, err := e.a.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("nope")})
			return err
		}},
		{"DeletePolicy", func() error {
			_, err := e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("nope")})
			return err
		}},
		{"CreatePolicyVersion", func() error {
			_, err := e.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("nope"), PolicyDocument: aws.String(polDoc("iot:*", "*"))})
			return err
		}},
		{"ListPolicyVersions", func() error {
			_, err := e.a.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("nope")})
			return err
		}},
		{"GetPolicyVersion of a missing policy", func() error {
			_, err := e.a.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("nope"), PolicyVersionId: aws.String("1")})
			return err
		}},
		{"GetPolicyVersion of a missing version", func() error {
			_, err := e.a.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("2")})
			return err
		}},
		{"GetPolicyVersion 01 (not canonical)", func() error {
			_, err := e.a.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("01")})
			return err
		}},
		{"GetPolicyVersion 0", func() error {
			_, err := e.a.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("0")})
			return err
		}},
		{"SetDefaultPolicyVersion of a missing version", func() error {
			_, err := e.a.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("9")})
			return err
		}},
		{"SetDefaultPolicyVersion of a missing policy", func() error {
			_, err := e.a.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("nope"), PolicyVersionId: aws.String("1")})
			return err
		}},
		{"DeletePolicyVersion of a missing version", func() error {
			_, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("99999999999999999999")})
			return err
		}},
		{"ListTargetsForPolicy", func() error {
			_, err := e.a.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("nope")})
			return err
		}},
		{"AttachPolicy", func() error {
			_, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("nope"), Target: aws.String(polInsertCert(t, e, accountA, polCertID(900)))})
			return err
		}},
	}
	for _, m := range missing {
		t.Run(m.name, func(t *testing.T) {
			before := polSnapshot(t, e, e.a, "p")
			wantCode(t, m.call(), "ResourceNotFoundException", http.StatusNotFound)
			if after := polSnapshot(t, e, e.a, "p"); after != before {
				t.Errorf("changed state:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

func TestPolicyDefaultVersionCannotBeDeleted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	polVersion(t, e.a, "p", polDoc("iot:Publish", "*"), true)
	before := polSnapshot(t, e, e.a, "p")
	_, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("2")})
	wantCode(t, err, "DeleteConflictException", http.StatusConflict)
	if !strings.Contains(errorMessage(err), "default version") {
		t.Errorf("message %q does not say why", errorMessage(err))
	}
	if after := polSnapshot(t, e, e.a, "p"); after != before {
		t.Errorf("rejected DeletePolicyVersion changed state:\n%s\nwant\n%s", after, before)
	}
	// Setting the current default again succeeds and is recorded.
	if _, err := e.a.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	if got := polVersions(t, e.a, "p"); got != "2*,1" {
		t.Errorf("versions: %s, want 2*,1", got)
	}
	ch := polChanges(t, e, polArn(accountA, "p"))
	if last := ch[len(ch)-1]; last != `SetDefaultPolicyVersion {"defaultVersionId":"2"} -> {"defaultVersionId":"2"}` {
		t.Errorf("last change: %s", last)
	}
}

func TestPolicyVersionLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	for i := 2; i <= warden.MaxPolicyVersions; i++ {
		if v := polVersion(t, e.a, "p", polDoc(fmt.Sprintf("iot:Action%d", i), "*"), true); aws.ToString(v.PolicyVersionId) != fmt.Sprint(i) {
			t.Fatalf("version %d: got id %s", i, aws.ToString(v.PolicyVersionId))
		}
	}
	for _, setAsDefault := range []bool{true, false} {
		before := polSnapshot(t, e, e.a, "p")
		_, err := e.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(polDoc("iot:Six", "*")), SetAsDefault: setAsDefault})
		wantCode(t, err, "VersionsLimitExceededException", http.StatusConflict)
		if after := polSnapshot(t, e, e.a, "p"); after != before {
			t.Errorf("rejected sixth version changed state:\n%s\nwant\n%s", after, before)
		}
	}
	if got := polVersions(t, e.a, "p"); got != "5*,4,3,2,1" {
		t.Errorf("versions: %s, want 5*,4,3,2,1", got)
	}
	if _, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	if v := polVersion(t, e.a, "p", polDoc("iot:Six", "*"), false); aws.ToString(v.PolicyVersionId) != "6" {
		t.Errorf("after freeing a slot: version %s, want 6", aws.ToString(v.PolicyVersionId))
	}
}

func TestPolicyMalformedDocuments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	long := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/` +
		strings.Repeat("x", 2000) + `"}}`
	tests := []struct{ name, doc, want string }{
		{"empty", "", "empty"},
		{"whitespace", "   \n", "empty"},
		{"not JSON", "allow everything", "not valid JSON"},
		{"truncated", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"`, "not valid JSON"},
		{"a list", `[]`, "must be a JSON object"},
		{"no Version", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `no "Version"`},
		{"bad Version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `"Version" must be one of`},
		{"no Statement", `{"Version":"2012-10-17"}`, `no "Statement"`},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, "must not be an empty list"},
		{"bad Effect", `{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"iot:*","Resource":"*"}}`, `"Effect" must be "Allow" or "Deny"`},
		{"no Action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, `no "Action"`},
		{"Action and NotAction", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","NotAction":"iot:Connect","Resource":"*"}}`, `both "Action" and "NotAction"`},
		{"bad Action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Connect","Resource":"*"}}`, "is not an action"},
		{"bad Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"everything"}}`, "is not a resource"},
		{"Principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}}`, "take no principal"},
		{"unknown element", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Extra":1}}`, `unknown element "Extra"`},
		{"bad Condition", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":[1]}}`, `"Condition" must be an object`},
		{"duplicate key", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"iot:*","Resource":"*"}}`, "appears twice"},
		{"over 2048 characters", long, "the maximum is 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := polSnapshot(t, e, e.a, "p")
			_, err := e.a.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("m"), PolicyDocument: aws.String(tt.doc)})
			wantCode(t, err, "MalformedPolicyException", http.StatusBadRequest)
			if !strings.Contains(errorMessage(err), tt.want) {
				t.Errorf("CreatePolicy: message %q does not contain %q", errorMessage(err), tt.want)
			}
			_, err = e.a.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("m")})
			wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

			_, err = e.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(tt.doc), SetAsDefault: true})
			wantCode(t, err, "MalformedPolicyException", http.StatusBadRequest)
			if !strings.Contains(errorMessage(err), tt.want) {
				t.Errorf("CreatePolicyVersion: message %q does not contain %q", errorMessage(err), tt.want)
			}
			if after := polSnapshot(t, e, e.a, "p"); after != before {
				t.Errorf("rejected document changed state:\n%s\nwant\n%s", after, before)
			}
		})
	}
	// Whitespace does not count toward the 2048 characters.
	spacious := polDoc("iot:Connect", "*") + strings.Repeat(" \n\t", 3000)
	polCreate(t, e.a, "spacious", spacious)
	if got := aws.ToString(polGet(t, e.a, "spacious").PolicyDocument); got != spacious {
		t.Errorf("document with whitespace was not kept verbatim")
	}
}

func TestPolicyRequestValidation(t *testing.T) {
	e := newEnv(t)
	polCreate(t, e.a, "p", polDoc("iot:Connect", "*"))
	doc, _ := json.Marshal(map[string]string{"policyDocument": polDoc("iot:Connect", "*")})
	huge, _ := json.Marshal(map[string]string{"policyDocument": strings.Repeat(" ", warden.MaxPolicyDocumentLength+1)})
	tests := []struct {
		name, method, path string
		body               []byte
		want               string // a substring of the message
	}{
		{"CreatePolicy without policyDocument", "POST", "/policies/q", []byte(`{}`), "'policyDocument' failed to satisfy constraint: Member must not be null"},
		{"CreatePolicy with a name with a space", "POST", "/policies/a%20b", doc, "Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
		{"CreatePolicy with a 129-character name", "POST", "/policies/" + strings.Repeat("n", 129), doc, "Member must have length less than or equal to 128"},
		{"CreatePolicy with a document over the model's maximum", "POST", "/policies/q", huge, "length less than or equal to 404600"},
		{"CreatePolicy with a numeric document", "POST", "/policies/q", []byte(`{"policyDocument":7}`), "policyDocument"},
		{"CreatePolicy with a bad tag", "POST", "/policies/q", []byte(`{"policyDocument":"{}","tags":[{"Key":"","Value":"v"}]}`), "tags.1.member.Key"},
		{"CreatePolicyVersion without policyDocument", "POST", "/policies/p/version", nil, "Member must not be null"},
		{"CreatePolicyVersion with setAsDefault=yes", "POST", "/policies/p/version?setAsDefault=yes", doc, "'setAsDefault'"},
		{"GetPolicyVersion with a non-numeric id", "GET", "/policies/p/version/abc", nil, "pattern: [0-9]+"},
		{"SetDefaultPolicyVersion with a non-numeric id", "PATCH", "/policies/p/version/-1", nil, "pattern: [0-9]+"},
		{"DeletePolicyVersion with a non-numeric id", "DELETE", "/policies/p/version/1.0", nil, "pattern: [0-9]+"},
		{"GetPolicy with a bad name", "GET", "/policies/a%2Fb", nil, "policyName"},
		{"AttachPolicy without target", "PUT", "/target-policies/p", []byte(`{}`), "'target' failed to satisfy constraint: Member must not be null"},
		{"DetachPolicy without target", "POST", "/target-policies/p", nil, "'target'"},
		{"AttachPolicy to a thing", "PUT", "/target-policies/p", []byte(`{"target":"arn:aws:iot:us-east-1:123456789012:thing/t"}`), "not to thing resources"},
		{"AttachPolicy to a Cognito identity", "PUT", "/target-policies/p", []byte(`{"target":"us-east-1:0e1c2f3a-aaaa-bbbb-cccc-0123456789ab"}`), "is not a certificate ARN"},
		{"AttachPolicy to a short certificate id", "PUT", "/target-policies/p", []byte(`{"target":"arn:aws:iot:us-east-1:123456789012:cert/abc"}`), "64 hexadecimal"},
		{"DetachPolicy from a non-ARN", "POST", "/target-policies/p", []byte(`{"target":"x"}`), "is not a certificate ARN"},
		{"ListPolicies with pageSize 0", "GET", "/policies?pageSize=0", nil, "greater than or equal to 1"},
		{"ListPolicies with pageSize 251", "GET", "/policies?pageSize=251", nil, "less than or equal to 250"},
		{"ListPolicies with isAscendingOrder=1", "GET", "/policies?isAscendingOrder=1", nil, "isAscendingOrder"},
		{"ListPolicies with a marker outside the pattern", "GET", "/policies?marker=a.b", nil, "pattern: [A-Za-z0-9+/]+={0,2}"},
		{"ListPolicies with a forged marker", "GET", "/policies?marker=QUJDRA==", nil, "marker is not valid"},
		{"ListPolicies with a 1025-character marker", "GET", "/policies?marker=" + strings.Repeat("A", 1025), nil, "less than or equal to 1024"},
		{"ListTargetsForPolicy with pageSize x", "POST", "/policy-targets/p?pageSize=x", nil, "pageSize"},
		{"ListAttachedPolicies with recursive=maybe", "POST", "/attached-policies/" + strings.ReplaceAll(polCertArn(accountA, 1), "/", "%2F") + "?recursive=maybe", nil, "recursive"},
		{"ListAttachedPolicies of a non-ARN", "POST", "/attached-policies/nonsense", nil, "is not a certificate ARN"},
		{"SetV2LoggingOptions with a bad level", "POST", "/v2LoggingOptions", []byte(`{"roleArn":"arn:aws:iam::123456789012:role/r","defaultLogLevel":"LOUD"}`), "enum value set: [DEBUG, INFO, ERROR, WARN, DISABLED]"},
		{"SetV2LoggingOptions with a string boolean", "POST", "/v2LoggingOptions", []byte(`{"disableAllLogs":"true"}`), "disableAllLogs"},
		{"SetLoggingOptions without a body", "POST", "/loggingOptions", nil, "'loggingOptionsPayload' failed to satisfy constraint: Member must not be null"},
		{"SetLoggingOptions without roleArn", "POST", "/loggingOptions", []byte(`{"logLevel":"INFO"}`), "'loggingOptionsPayload.roleArn'"},
		{"SetLoggingOptions with a bad level", "POST", "/loggingOptions", []byte(`{"roleArn":"arn:aws:iam::123456789012:role/r","logLevel":"info"}`), "'loggingOptionsPayload.logLevel'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := polSnapshot(t, e, e.a, "p")
			msg := wantJSONError(t, e.call(t, tt.method, tt.path, tt.body), "InvalidRequestException", http.StatusBadRequest)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if after := polSnapshot(t, e, e.a, "p"); after != before {
				t.Errorf("rejected request changed state:\n%s\nwant\n%s", after, before)
			}
		})
	}
	// Nothing of the rejected requests exists.
	_, err := e.a.GetPolicy(context.Background(), &iot.GetPolicyInput{PolicyName: aws.String("q")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.a.GetLoggingOptions(context.Background(), &iot.GetLoggingOptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.a.GetV2LoggingOptions(context.Background(), &iot.GetV2LoggingOptionsInput{})
	wantCode(t, err, "NotConfiguredException", http.StatusNotFound)
	if got := polChanges(t, e, "arn:aws:iot:"+region+":"+accountA+":logging/v1"); len(got) != 0 {
		t.Errorf("rejected SetLoggingOptions calls were recorded: %v", got)
	}
}

func polCertArn(account string, i int) string {
	return "arn:aws:iot:" + region + ":" + account + ":cert/" + polCertID(i)
}

// TestPolicyWireShapes checks the JSON members of every answer against the model.
func TestPolicyWireShapes(t *testing.T) {
	e := newEnv(t)
	doc := polDoc("iot:Connect", "*")
	body, _ := json.Marshal(map[string]any{"policyDocument": doc, "tags": []warden.Tag{{Key: "k", Value: "v"}}})
	keys := func(m map[string]any) string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return strings.Join(k, ",")
	}
	tests := []struct {
		name, method, path string
		body               []byte
		want               string
	}{
		{"CreatePolicy", "POST", "/policies/w", body, "policyArn,policyDocument,policyName,policyVersionId"},
		{"GetPolicy", "GET", "/policies/w", nil, "creationDate,defaultVersionId,generationId,lastModifiedDate,policyArn,policyDocument,policyName"},
		{"CreatePolicyVersion", "POST", "/policies/w/version?setAsDefault=true", body, "isDefaultVersion,policyArn,policyDocument,policyVersionId"},
		{"GetPolicyVersion", "GET", "/policies/w/version/1", nil, "creationDate,generationId,isDefaultVersion,lastModifiedDate,policyArn,policyDocument,policyName,policyVersionId"},
		{"ListPolicyVersions", "GET", "/policies/w/version", nil, "policyVersions"},
		{"SetDefaultPolicyVersion", "PATCH", "/policies/w/version/1", nil, ""},
		{"DeletePolicyVersion", "DELETE", "/policies/w/version/2", nil, ""},
		{"ListPolicies", "GET", "/policies", nil, "policies"},
		{"ListTargetsForPolicy", "POST", "/policy-targets/w", nil, "targets"},
		{"DetachPolicy", "POST", "/target-policies/w", []byte(`{"target":"` + polCertArn(accountA, 3) + `"}`), ""},
		{"SetV2LoggingOptions", "POST", "/v2LoggingOptions", []byte(`{"roleArn":"arn:aws:iam::123456789012:role/r","defaultLogLevel":"WARN"}`), ""},
		{"GetV2LoggingOptions", "GET", "/v2LoggingOptions?verbose=true", nil, "defaultLogLevel,disableAllLogs,roleArn"},
		{"GetLoggingOptions before any set", "GET", "/loggingOptions", nil, ""},
		{"SetLoggingOptions", "POST", "/loggingOptions", []byte(`{"roleArn":"arn:aws:iam::123456789012:role/r","logLevel":"INFO"}`), ""},
		{"GetLoggingOptions", "GET", "/loggingOptions", nil, "logLevel,roleArn"},
		{"DeletePolicy", "DELETE", "/policies/w", nil, ""},
	}
	for _, tt := range tests {
		got := wantOK(t, e.call(t, tt.method, tt.path, tt.body))
		if k := keys(got); k != tt.want {
			t.Errorf("%s: got members [%s], want [%s]", tt.name, k, tt.want)
		}
		for _, ts := range []string{"creationDate", "lastModifiedDate"} {
			if v, ok := got[ts]; ok {
				if _, isNum := v.(json.Number); !isNum {
					t.Errorf("%s: %s is %T, want a JSON number", tt.name, ts, v)
				}
			}
		}
		if tt.name == "ListPolicyVersions" {
			raw, _ := json.Marshal(got["policyVersions"])
			if !regexp.MustCompile(`^\[\{"createDate":\d+(\.\d+)?,"isDefaultVersion":true,"versionId":"2"\},\{"createDate":\d+(\.\d+)?,"isDefaultVersion":false,"versionId":"1"\}\]$`).Match(raw) {
				t.Errorf("ListPolicyVersions: policyVersions %s", raw)
			}
		}
		if tt.name == "ListPolicies" {
			raw, _ := json.Marshal(got["policies"])
			if want := `[{"policyArn":"` + polArn(accountA, "w") + `","policyName":"w"}]`; string(raw) != want {
				t.Errorf("ListPolicies: policies %s, want %s", raw, want)
			}
		}
	}
}

func TestPolicyListPagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var names []string
	for i := 0; i < 7; i++ {
		name := fmt.Sprintf("pol-%d", i)
		polCreate(t, e.a, name, polDoc("iot:Connect", "*"))
		names = append(names, name)
	}
	polCreate(t, e.b, "b-only", polDoc("iot:Connect", "*"))
	list := func(asc bool, size int32) ([]string, int) {
		var got []string
		pages := 0
		p := iot.NewListPoliciesPaginator(e.a, &iot.ListPoliciesInput{AscendingOrder: asc, PageSize: aws.Int32(size)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListPolicies: %v", err)
			}
			pages++
			if m := aws.ToString(page.NextMarker); m != "" && (!polMarker(m) || len(m) > 1024) {
				t.Errorf("nextMarker %q does not match the model's Marker pattern and length", m)
			}
			for _, p := range page.Policies {
				if aws.ToString(p.PolicyArn) != polArn(accountA, aws.ToString(p.PolicyName)) {
					t.Errorf("policy %s has ARN %s", aws.ToString(p.PolicyName), aws.ToString(p.PolicyArn))
				}
				got = append(got, aws.ToString(p.PolicyName))
			}
		}
		return got, pages
	}
	desc := slices.Clone(names)
	slices.Reverse(desc)
	for _, tt := range []struct {
		asc   bool
		size  int32
		want  []string
		pages int
	}{
		{true, 3, names, 3}, {false, 3, desc, 3}, {false, 250, desc, 1}, {true, 7, names, 1}, {true, 1, names, 7},
	} {
		got, pages := list(tt.asc, tt.size)
		if !slices.Equal(got, tt.want) || pages != tt.pages {
			t.Errorf("ListPolicies ascending=%v pageSize=%d: got %v in %d pages, want %v in %d", tt.asc, tt.size, got, pages, tt.want, tt.pages)
		}
	}

	// A marker belongs to one order and one account.
	first, err := e.a.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(2)})
	if err != nil || first.NextMarker == nil {
		t.Fatalf("first page: %v %v", err, first)
	}
	_, err = e.a.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(2), AscendingOrder: true, Marker: first.NextMarker})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	_, err = e.b.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(2), Marker: first.NextMarker})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)

	// Deleting a listed policy while paging neither skips nor repeats another.
	if _, err := e.a.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("pol-6")}); err != nil {
		t.Fatal(err)
	}
	rest, err := e.a.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(10), Marker: first.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rest.Policies {
		got = append(got, aws.ToString(p.PolicyName))
	}
	if want := []string{"pol-4", "pol-3", "pol-2", "pol-1", "pol-0"}; !slices.Equal(got, want) {
		t.Errorf("second page after a delete: got %v, want %v", got, want)
	}
	if rest.NextMarker != nil {
		t.Errorf("last page has nextMarker %q", *rest.NextMarker)
	}
}

func TestPolicyCrossAccountIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	docA, docB := polDoc("iot:Connect", "*"), polDoc("iot:Publish", "*")
	polCreate(t, e.a, "shared", docA)
	polVersion(t, e.a, "shared", docA, false)
	certA := polInsertCert(t, e, accountA, polCertID(1))
	if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("shared"), Target: aws.String(certA)}); err != nil {
		t.Fatal(err)
	}

	// B sees nothing of A's policy.
	_, err := e.b.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("shared")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("shared"), PolicyVersionId: aws.String("2")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(polArn(accountA, "shared"))})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	out, err := e.b.ListPolicies(ctx, &iot.ListPoliciesInput{})
	if err != nil || len(out.Policies) != 0 {
		t.Errorf("B's ListPolicies: %v %+v, want none", err, out)
	}
	// A's certificate is not B's to attach to or list.
	polCreate(t, e.b, "shared", docB)
	_, err = e.b.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("shared"), Target: aws.String(certA)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certA)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	// Nor can B detach A's attachment.
	if _, err := e.b.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("shared"), Target: aws.String(certA)}); err != nil {
		t.Fatalf("B's DetachPolicy of a pair B does not have: %v, want success without effect", err)
	}
	if got := polTargets(t, e.a, "shared"); !slices.Equal(got, []string{certA}) {
		t.Errorf("A's targets after B's calls: %v", got)
	}
	// Same name, two independent policies.
	if got := aws.ToString(polGet(t, e.b, "shared").PolicyDocument); got != docB {
		t.Errorf("B's policy document: %s", got)
	}
	if got := aws.ToString(polGet(t, e.a, "shared").PolicyDocument); got != docA {
		t.Errorf("A's policy document: %s", got)
	}
	if got := polVersions(t, e.b, "shared"); got != "1*" {
		t.Errorf("B's versions: %s", got)
	}
	if got := polTargets(t, e.b, "shared"); len(got) != 0 {
		t.Errorf("B's targets: %v", got)
	}
	// Another region of the same account is another scope too.
	west := e.clientIn(keyA, secretA, "us-west-2")
	_, err = west.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("shared")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	// Logging options are per account.
	if _, err := e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelInfo}); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	wantCode(t, err, "NotConfiguredException", http.StatusNotFound)
	if _, err := e.b.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("shared")}); err != nil {
		t.Fatalf("B's DeletePolicy (A's copy is attached, B's is not): %v", err)
	}
	polGet(t, e.a, "shared")
}

func TestPolicyRestartPersistence(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	polCreate(t, e.a, "keep", polDoc("iot:Connect", "*"), tag("k", "v"))
	polVersion(t, e.a, "keep", polDoc("iot:Publish", "*"), true)
	polVersion(t, e.a, "keep", polDoc("iot:Receive", "*"), false)
	cert := polInsertCert(t, e, accountA, polCertID(5))
	if _, err := e.a.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("keep"), Target: aws.String(cert)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelDebug, DisableAllLogs: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.SetLoggingOptions(ctx, &iot.SetLoggingOptionsInput{LoggingOptionsPayload: &types.LoggingOptionsPayload{RoleArn: aws.String(logRole), LogLevel: types.LogLevelWarn}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		polCreate(t, e.a, fmt.Sprintf("more-%d", i), polDoc("iot:Connect", "*"))
	}
	page, err := e.a.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(2)})
	if err != nil || page.NextMarker == nil {
		t.Fatalf("ListPolicies: %v", err)
	}
	snapshot := func() string {
		v2, err := e.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		v1, err := e.a.GetLoggingOptions(ctx, &iot.GetLoggingOptionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return polSnapshot(t, e, e.a, "keep") + " tags=" + tagsString(listTags(t, e.a, polArn(accountA, "keep"))) +
			fmt.Sprintf(" attached=%v v2=%s/%s/%v v1=%s/%s", polAttached(t, e.a, cert, false),
				aws.ToString(v2.RoleArn), v2.DefaultLogLevel, v2.DisableAllLogs, aws.ToString(v1.RoleArn), v1.LogLevel)
	}
	before := snapshot()
	e.restart()
	if after := snapshot(); after != before {
		t.Errorf("after restart:\n%s\nwant\n%s", after, before)
	}
	// A marker handed out before the restart still works.
	rest, err := e.a.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(10), Marker: page.NextMarker})
	if err != nil || len(rest.Policies) != 3 {
		t.Errorf("second page after restart: %v, %d policies, want 3", err, len(rest.Policies))
	}
	// Version ids keep counting after a restart.
	if v := polVersion(t, e.a, "keep", polDoc("iot:Subscribe", "*"), false); aws.ToString(v.PolicyVersionId) != "4" {
		t.Errorf("version after restart: %s, want 4", aws.ToString(v.PolicyVersionId))
	}
}

// BenchmarkPolicyReplaceDefault measures one "replace the default version"
// cycle through the SDK: CreatePolicyVersion(setAsDefault) + DeletePolicyVersion
// of the previous default, the shape of REPLACE_DEFAULT_POLICY_VERSION.
func BenchmarkPolicyReplaceDefault(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.a.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("bench"), PolicyDocument: aws.String(polDoc("iot:Connect", "*"))}); err != nil {
		b.Fatal(err)
	}
	prev := "1"
	for b.Loop() {
		out, err := e.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("bench"), PolicyDocument: aws.String(warden.BlankPolicyDocument), SetAsDefault: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.a.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("bench"), PolicyVersionId: aws.String(prev)}); err != nil {
			b.Fatal(err)
		}
		prev = aws.ToString(out.PolicyVersionId)
	}
}

// BenchmarkPolicyGet measures GetPolicy through the SDK.
func BenchmarkPolicyGet(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.a.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("bench"), PolicyDocument: aws.String(polDoc("iot:Connect", "*"))}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.a.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
	}
}
