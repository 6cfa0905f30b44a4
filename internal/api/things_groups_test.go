package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func thDescribeGroupString(t testing.TB, c *iot.Client, name string) string {
	t.Helper()
	d, err := c.DescribeThingGroup(thCtx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeThingGroup(%s): %v", name, err)
	}
	var chain []string
	for _, g := range d.ThingGroupMetadata.RootToParentThingGroups {
		chain = append(chain, aws.ToString(g.GroupName)+"="+aws.ToString(g.GroupArn))
	}
	var attrs map[string]string
	if p := d.ThingGroupProperties.AttributePayload; p != nil {
		attrs = p.Attributes
	}
	return fmt.Sprintf("name=%s arn=%s v=%d desc=%q attrs=%v parent=%s chain=[%s] query=%s/%s/%s/%s",
		aws.ToString(d.ThingGroupName), aws.ToString(d.ThingGroupArn), d.Version,
		aws.ToString(d.ThingGroupProperties.ThingGroupDescription), attrs,
		aws.ToString(d.ThingGroupMetadata.ParentGroupName), strings.Join(chain, " "),
		aws.ToString(d.IndexName), aws.ToString(d.QueryString), aws.ToString(d.QueryVersion), d.Status)
}

func TestThingGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	props := &types.ThingGroupProperties{ThingGroupDescription: aws.String("all the bulbs"),
		AttributePayload: &types.AttributePayload{Attributes: thAttrs("site", "eu", "floor", "3")}}
	out, err := e.a.CreateThingGroup(thCtx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("bulbs"),
		ThingGroupProperties: props, Tags: []types.Tag{tag("team", "ops")}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ThingGroupArn) != thGroupArn(accountA, "bulbs") || !isUUID(aws.ToString(out.ThingGroupId)) ||
		aws.ToString(out.ThingGroupName) != "bulbs" {
		t.Errorf("CreateThingGroup answered %s %s %s", aws.ToString(out.ThingGroupName), aws.ToString(out.ThingGroupArn), aws.ToString(out.ThingGroupId))
	}
	thGroup(t, e.a, "halogen", "bulbs")
	thGroup(t, e.a, "h2", "halogen")
	if got, want := thDescribeGroupString(t, e.a, "bulbs"),
		`name=bulbs arn=`+thGroupArn(accountA, "bulbs")+` v=1 desc="all the bulbs" attrs=map[floor:3 site:eu] parent= chain=[] query=///`; got != want {
		t.Errorf("describe root:\n got %s\nwant %s", got, want)
	}
	if got, want := thDescribeGroupString(t, e.a, "h2"),
		`name=h2 arn=`+thGroupArn(accountA, "h2")+` v=1 desc="" attrs=map[] parent=halogen chain=[bulbs=`+thGroupArn(accountA, "bulbs")+` halogen=`+thGroupArn(accountA, "halogen")+`] query=///`; got != want {
		t.Errorf("describe grandchild:\n got %s\nwant %s", got, want)
	}
	// Wire shape: properties {} when empty, creationDate a number.
	body := wantOK(t, e.call(t, "GET", "/thing-groups/h2", nil))
	if p, ok := body["thingGroupProperties"].(map[string]any); !ok || len(p) != 0 {
		t.Errorf("thingGroupProperties = %v, want {}", body["thingGroupProperties"])
	}
	meta, _ := body["thingGroupMetadata"].(map[string]any)
	wantEpochNumber(t, "creationDate", meta["creationDate"], "")
	if _, ok := body["status"]; ok {
		t.Errorf("static group has a status: %v", body)
	}
	if got := tagsString(listTags(t, e.a, thGroupArn(accountA, "bulbs"))); got != "team=ops" {
		t.Errorf("tags %s", got)
	}

	// Idempotent create; any difference conflicts.
	before := thSnapshot(t, e)
	again, err := e.a.CreateThingGroup(thCtx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("bulbs"), ThingGroupProperties: props})
	if err != nil || aws.ToString(again.ThingGroupId) != aws.ToString(out.ThingGroupId) {
		t.Errorf("identical CreateThingGroup: %v, id %s", err, aws.ToString(again.ThingGroupId))
	}
	for _, tc := range []struct {
		name string
		in   iot.CreateThingGroupInput
	}{
		{"other description", iot.CreateThingGroupInput{ThingGroupName: aws.String("bulbs"), ThingGroupProperties: &types.ThingGroupProperties{
			ThingGroupDescription: aws.String("x"), AttributePayload: props.AttributePayload}}},
		{"other parent", iot.CreateThingGroupInput{ThingGroupName: aws.String("halogen")}},
		{"child under another parent", iot.CreateThingGroupInput{ThingGroupName: aws.String("h2"), ParentGroupName: aws.String("bulbs")}},
	} {
		_, err := e.a.CreateThingGroup(thCtx, &tc.in)
		wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
	}
	_, err = e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("bulbs"), QueryString: aws.String("thingName:x")})
	wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
	if after := thSnapshot(t, e); after != before {
		t.Errorf("rejected creates changed the store")
	}

	// Update: merge semantics, version, expectedVersion.
	upd, err := e.a.UpdateThingGroup(thCtx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("bulbs"), ExpectedVersion: aws.Int64(1),
		ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("floor", "", "wing", "b"), Merge: true}}})
	if err != nil || upd.Version != 2 {
		t.Fatalf("UpdateThingGroup: %v, version %d", err, upd.Version)
	}
	if got := thDescribeGroupString(t, e.a, "bulbs"); !strings.Contains(got, `v=2 desc="all the bulbs" attrs=map[site:eu wing:b]`) {
		t.Errorf("after merge update: %s", got)
	}
	upd, err = e.a.UpdateThingGroup(thCtx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("bulbs"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("new"),
			AttributePayload: &types.AttributePayload{Attributes: thAttrs("only", "1")}}})
	if err != nil || upd.Version != 3 {
		t.Fatalf("UpdateThingGroup: %v, version %d", err, upd.Version)
	}
	if got := thDescribeGroupString(t, e.a, "bulbs"); !strings.Contains(got, `v=3 desc="new" attrs=map[only:1]`) {
		t.Errorf("after replace update: %s", got)
	}
	before = thSnapshot(t, e)
	for _, tc := range []struct {
		name   string
		in     iot.UpdateThingGroupInput
		code   string
		status int
	}{
		{"stale version", iot.UpdateThingGroupInput{ThingGroupName: aws.String("bulbs"), ExpectedVersion: aws.Int64(2),
			ThingGroupProperties: &types.ThingGroupProperties{}}, "VersionConflictException", 409},
		{"missing group", iot.UpdateThingGroupInput{ThingGroupName: aws.String("nope"), ThingGroupProperties: &types.ThingGroupProperties{}},
			"ResourceNotFoundException", 404},
		{"bad description", iot.UpdateThingGroupInput{ThingGroupName: aws.String("bulbs"), ThingGroupProperties: &types.ThingGroupProperties{
			ThingGroupDescription: aws.String("tab\there")}}, "InvalidRequestException", 400},
		{"51 attributes", iot.UpdateThingGroupInput{ThingGroupName: aws.String("bulbs"), ThingGroupProperties: &types.ThingGroupProperties{
			AttributePayload: &types.AttributePayload{Attributes: thManyAttrs(50), Merge: true}}}, "InvalidRequestException", 400},
	} {
		_, err := e.a.UpdateThingGroup(thCtx, &tc.in)
		wantCode(t, err, tc.code, tc.status)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected update changed the store", tc.name)
		}
	}

	// The SDK refuses to send an update without properties; the server too.
	msg := wantJSONError(t, e.call(t, "PATCH", "/thing-groups/bulbs", []byte(`{"expectedVersion":3}`)), "InvalidRequestException", 400)
	if !strings.Contains(msg, "thingGroupProperties") {
		t.Errorf("message %q does not name thingGroupProperties", msg)
	}
	if after := thSnapshot(t, e); after != before {
		t.Errorf("rejected update changed the store")
	}

	// Delete: not while it has children; idempotent; removes tags.
	_, err = e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("bulbs")})
	wantInvalidRequest(t, err, "child")
	_, err = e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("h2"), ExpectedVersion: aws.Int64(5)})
	wantCode(t, err, "VersionConflictException", http.StatusConflict)
	if after := thSnapshot(t, e); after != before {
		t.Errorf("rejected deletes changed the store")
	}
	for _, name := range []string{"h2", "halogen", "bulbs", "bulbs", "never-existed"} {
		if _, err := e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(name), ExpectedVersion: aws.Int64(1)}); err != nil &&
			name != "bulbs" {
			t.Errorf("DeleteThingGroup(%s): %v", name, err)
		}
	}
	// bulbs was at version 3, so the first delete above conflicted; delete it for real.
	if _, err := e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("bulbs")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DescribeThingGroup(thCtx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("bulbs")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListTagsForResource(thCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(thGroupArn(accountA, "bulbs"))})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if got := thListGroups(t, e.a, iot.ListThingGroupsInput{}); len(got) != 0 {
		t.Errorf("groups left: %v", got)
	}
	if got, want := thChangeOps(t, e, thGroupArn(accountA, "bulbs")), "CreateThingGroup,UpdateThingGroup,UpdateThingGroup,DeleteThingGroup"; got != want {
		t.Errorf("change log ops %s, want %s", got, want)
	}
	for _, c := range thChanges(t, e, thGroupArn(accountA, "bulbs")) {
		if !strings.HasSuffix(c, "@"+keyA) {
			t.Errorf("change %s not attributed to %s", c, keyA)
		}
	}
	// A recreated group is new: no tags, version 1, and the name can now be
	// that of a dynamic group.
	thDynamic(t, e.a, "bulbs", "thingName:x*")
	if got := listTags(t, e.a, thGroupArn(accountA, "bulbs")); len(got) != 0 {
		t.Errorf("recreated group has tags %v", got)
	}
}

func thManyAttrs(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%02d", i)] = "v"
	}
	return m
}

func TestThingGroupHierarchyRules(t *testing.T) {
	e := newEnv(t)
	parent := ""
	for i := 1; i <= 7; i++ {
		name := fmt.Sprintf("level%d", i)
		thGroup(t, e.a, name, parent)
		parent = name
	}
	thDynamic(t, e.a, "dyn", "thingName:*")
	before := thSnapshot(t, e)
	tests := []struct {
		name, group, parent string
		want                string
	}{
		{"eighth level", "level8", "level7", "at most 7 levels"},
		{"missing parent", "orphan", "nope", "does not exist"},
		{"dynamic parent", "under-dyn", "dyn", "dynamic"},
		{"own parent", "self", "self", "own parent"},
	}
	for _, tc := range tests {
		_, err := e.a.CreateThingGroup(thCtx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(tc.group), ParentGroupName: aws.String(tc.parent)})
		wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
		if msg := errorMessage(err); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q does not contain %q", tc.name, msg, tc.want)
		}
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected create changed the store", tc.name)
		}
	}
	// Level 6 can still get another child.
	thGroup(t, e.a, "level7b", "level6")
	if got := thDescribeGroupString(t, e.a, "level7b"); !strings.Contains(got, "parent=level6") {
		t.Errorf("level7b: %s", got)
	}
}

func TestListThingGroups(t *testing.T) {
	e := newEnv(t)
	// a ─ a1 ─ a11
	//   └ a2
	// b ─ b1
	// dyn (dynamic)
	for _, g := range [][2]string{{"a", ""}, {"a1", "a"}, {"a11", "a1"}, {"a2", "a"}, {"b", ""}, {"b1", "b"}} {
		thGroup(t, e.a, g[0], g[1])
	}
	thDynamic(t, e.a, "dyn", "thingName:x")
	thGroup(t, e.b, "a", "")
	tests := []struct {
		name string
		in   iot.ListThingGroupsInput
		want string
	}{
		{"all", iot.ListThingGroupsInput{}, "a,a1,a11,a2,b,b1,dyn"},
		{"all, recursive", iot.ListThingGroupsInput{Recursive: aws.Bool(true)}, "a,a1,a11,a2,b,b1,dyn"},
		{"roots only", iot.ListThingGroupsInput{Recursive: aws.Bool(false)}, "a,b,dyn"},
		{"children", iot.ListThingGroupsInput{ParentGroup: aws.String("a")}, "a1,a2"},
		{"children, not recursive", iot.ListThingGroupsInput{ParentGroup: aws.String("a"), Recursive: aws.Bool(false)}, "a1,a2"},
		{"descendants", iot.ListThingGroupsInput{ParentGroup: aws.String("a"), Recursive: aws.Bool(true)}, "a1,a11,a2"},
		{"leaf", iot.ListThingGroupsInput{ParentGroup: aws.String("a11"), Recursive: aws.Bool(true)}, ""},
		{"prefix", iot.ListThingGroupsInput{NamePrefixFilter: aws.String("a1")}, "a1,a11"},
		{"prefix among descendants", iot.ListThingGroupsInput{ParentGroup: aws.String("a"), Recursive: aws.Bool(true), NamePrefixFilter: aws.String("a1")}, "a1,a11"},
		{"prefix of roots", iot.ListThingGroupsInput{Recursive: aws.Bool(false), NamePrefixFilter: aws.String("b")}, "b"},
		{"prefix matches nothing", iot.ListThingGroupsInput{NamePrefixFilter: aws.String("c")}, ""},
	}
	for _, tc := range tests {
		for _, size := range []int32{1, 3, 250} {
			in := tc.in
			in.MaxResults = aws.Int32(size)
			if got := thJoin(thListGroups(t, e.a, in)); got != tc.want {
				t.Errorf("%s (page size %d): got %s, want %s", tc.name, size, got, tc.want)
			}
		}
	}
	_, err := e.a.ListThingGroups(thCtx, &iot.ListThingGroupsInput{ParentGroup: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	wantJSONError(t, e.call(t, "GET", "/thing-groups?recursive=1", nil), "InvalidRequestException", 400)
	wantJSONError(t, e.call(t, "GET", "/thing-groups?namePrefixFilter=a%20b", nil), "InvalidRequestException", 400)
	if got := thJoin(thListGroups(t, e.b, iot.ListThingGroupsInput{})); got != "a" {
		t.Errorf("account B: %s", got)
	}
}

func TestAddRemoveThingToThingGroup(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t:1", "", nil)
	thCreate(t, e.a, "t2", "", nil)
	thGroup(t, e.a, "g1", "")
	thGroup(t, e.a, "g2", "")
	thDynamic(t, e.a, "dyn", "thingName:zzz")

	// By name, and by ARN.
	thMustAdd(t, e.a, "t:1", "g1")
	if _, err := e.a.AddThingToThingGroup(thCtx, &iot.AddThingToThingGroupInput{
		ThingArn: aws.String(thArn(accountA, "t:1")), ThingGroupArn: aws.String(thGroupArn(accountA, "g2"))}); err != nil {
		t.Fatalf("add by ARN: %v", err)
	}
	if _, err := e.a.AddThingToThingGroup(thCtx, &iot.AddThingToThingGroupInput{
		ThingName: aws.String("t2"), ThingArn: aws.String(thArn(accountA, "t2")), ThingGroupName: aws.String("g1")}); err != nil {
		t.Fatalf("add by name and matching ARN: %v", err)
	}
	if got := thJoin(thGroupsOf(t, e.a, accountA, "t:1")); got != "g1,g2" {
		t.Errorf("t:1 is in %s", got)
	}
	// Adding again changes nothing, not even the change log.
	before := thSnapshot(t, e)
	thMustAdd(t, e.a, "t:1", "g1")
	if after := thSnapshot(t, e); after != before {
		t.Errorf("adding a member again changed the store")
	}
	rejects := []struct {
		name   string
		in     iot.AddThingToThingGroupInput
		code   string
		status int
	}{
		{"missing thing", iot.AddThingToThingGroupInput{ThingName: aws.String("nope"), ThingGroupName: aws.String("g1")}, "ResourceNotFoundException", 404},
		{"missing group", iot.AddThingToThingGroupInput{ThingName: aws.String("t2"), ThingGroupName: aws.String("nope")}, "ResourceNotFoundException", 404},
		{"other account's ARN", iot.AddThingToThingGroupInput{ThingArn: aws.String(thArn(accountB, "t2")), ThingGroupName: aws.String("g2")}, "ResourceNotFoundException", 404},
		{"other region's group ARN", iot.AddThingToThingGroupInput{ThingName: aws.String("t2"),
			ThingGroupArn: aws.String("arn:aws:iot:eu-west-1:" + accountA + ":thinggroup/g2")}, "ResourceNotFoundException", 404},
		{"no thing", iot.AddThingToThingGroupInput{ThingGroupName: aws.String("g2")}, "InvalidRequestException", 400},
		{"no group", iot.AddThingToThingGroupInput{ThingName: aws.String("t2")}, "InvalidRequestException", 400},
		{"name and ARN disagree", iot.AddThingToThingGroupInput{ThingName: aws.String("t2"), ThingArn: aws.String(thArn(accountA, "t:1")),
			ThingGroupName: aws.String("g2")}, "InvalidRequestException", 400},
		{"ARN of the wrong type", iot.AddThingToThingGroupInput{ThingArn: aws.String(thGroupArn(accountA, "t2")), ThingGroupName: aws.String("g2")}, "InvalidRequestException", 400},
		{"not an ARN", iot.AddThingToThingGroupInput{ThingName: aws.String("t2"), ThingGroupArn: aws.String("g2")}, "InvalidRequestException", 400},
		{"bad name", iot.AddThingToThingGroupInput{ThingName: aws.String("t 2"), ThingGroupName: aws.String("g2")}, "InvalidRequestException", 400},
		{"dynamic group", iot.AddThingToThingGroupInput{ThingName: aws.String("t2"), ThingGroupName: aws.String("dyn")}, "InvalidRequestException", 400},
	}
	for _, tc := range rejects {
		_, err := e.a.AddThingToThingGroup(thCtx, &tc.in)
		wantCode(t, err, tc.code, tc.status)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected add changed the store", tc.name)
		}
		_, err = e.a.RemoveThingFromThingGroup(thCtx, &iot.RemoveThingFromThingGroupInput{ThingName: tc.in.ThingName, ThingArn: tc.in.ThingArn,
			ThingGroupName: tc.in.ThingGroupName, ThingGroupArn: tc.in.ThingGroupArn})
		wantCode(t, err, tc.code, tc.status)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected remove changed the store", tc.name)
		}
	}

	// Remove by ARN; removing a non-member succeeds without change.
	if _, err := e.a.RemoveThingFromThingGroup(thCtx, &iot.RemoveThingFromThingGroupInput{
		ThingArn: aws.String(thArn(accountA, "t:1")), ThingGroupArn: aws.String(thGroupArn(accountA, "g1"))}); err != nil {
		t.Fatal(err)
	}
	before = thSnapshot(t, e)
	if _, err := e.a.RemoveThingFromThingGroup(thCtx, &iot.RemoveThingFromThingGroupInput{
		ThingName: aws.String("t:1"), ThingGroupName: aws.String("g1")}); err != nil {
		t.Fatal(err)
	}
	if after := thSnapshot(t, e); after != before {
		t.Errorf("removing a non-member changed the store")
	}
	if got := thJoin(thGroupsOf(t, e.a, accountA, "t:1")); got != "g2" {
		t.Errorf("t:1 is in %s", got)
	}
	if got, want := thChanges(t, e, thArn(accountA, "t:1")), []string{
		`CreateThing  -> {"thingName":"t:1","attributes":{},"version":1} @` + keyA,
		`AddThingToThingGroup  -> {"thingGroupName":"g1"} @` + keyA,
		`AddThingToThingGroup  -> {"thingGroupName":"g2"} @` + keyA,
		`RemoveThingFromThingGroup {"thingGroupName":"g1"} ->  @` + keyA,
	}; thJSON(got) != thJSON(want) {
		t.Errorf("change log:\n got %q\nwant %q", got, want)
	}
	_, err := e.a.ListThingGroupsForThing(thCtx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", 404)

	// Deleting a group removes its memberships, each logged.
	if _, err := e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("g2")}); err != nil {
		t.Fatal(err)
	}
	if got := thGroupsOf(t, e.a, accountA, "t:1"); len(got) != 0 {
		t.Errorf("t:1 still in %v", got)
	}
	if got := thChanges(t, e, thArn(accountA, "t:1")); got[len(got)-1] != `RemoveThingFromThingGroup {"thingGroupName":"g2"} ->  @`+keyA {
		t.Errorf("last change of t:1: %s", got[len(got)-1])
	}
}

func TestThingGroupMembershipLimits(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t", "", nil)
	// One group per hierarchy.
	thGroup(t, e.a, "root", "")
	thGroup(t, e.a, "kid", "root")
	thGroup(t, e.a, "kid2", "root")
	thGroup(t, e.a, "grandkid", "kid")
	thMustAdd(t, e.a, "t", "kid")
	before := thSnapshot(t, e)
	for _, g := range []string{"root", "kid2", "grandkid"} {
		err := thAdd(e.a, "t", g, true)
		wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
		if msg := errorMessage(err); !strings.Contains(msg, "same hierarchy") || !strings.Contains(msg, "kid") {
			t.Errorf("add to %s: message %q", g, msg)
		}
		if after := thSnapshot(t, e); after != before {
			t.Errorf("add to %s: rejected add changed the store", g)
		}
	}
	// At most 10 groups.
	for i := range 9 {
		g := fmt.Sprintf("g%d", i)
		thGroup(t, e.a, g, "")
		thMustAdd(t, e.a, "t", g)
	}
	thGroup(t, e.a, "eleventh", "")
	before = thSnapshot(t, e)
	for _, override := range []bool{false, true} {
		err := thAdd(e.a, "t", "eleventh", override)
		wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
		if msg := errorMessage(err); !strings.Contains(msg, "10 thing groups") {
			t.Errorf("override=%v: message %q", override, msg)
		}
		if after := thSnapshot(t, e); after != before {
			t.Errorf("override=%v: rejected add changed the store", override)
		}
	}
	// A group it is already in is still fine at the limit.
	thMustAdd(t, e.a, "t", "g0")
	if got := len(thGroupsOf(t, e.a, accountA, "t")); got != 10 {
		t.Errorf("t is in %d groups, want 10", got)
	}
}

func TestOverrideDynamicGroups(t *testing.T) {
	tests := []struct {
		name       string
		dynamic    int // of the 10 groups the thing is in
		override   bool
		wantErr    bool
		wantGroups string
	}{
		{"10 static, flag false", 0, false, true, ""},
		{"10 static, flag true", 0, true, true, ""},
		{"some dynamic, flag false", 2, false, true, ""},
		{"some dynamic, flag true", 2, true, false, "d1,s0,s1,s2,s3,s4,s5,s6,s7,target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			thCreate(t, e.a, "t", "", thAttrs("kind", "x"))
			for i := range 10 - tc.dynamic {
				g := fmt.Sprintf("s%d", i)
				thGroup(t, e.a, g, "")
				thMustAdd(t, e.a, "t", g)
			}
			// d1 is created before d2, so d2 is the most recently created.
			for i := 1; i <= tc.dynamic; i++ {
				thDynamic(t, e.a, fmt.Sprintf("d%d", i), "attributes.kind:x")
			}
			thGroup(t, e.a, "target", "")
			if got := len(thGroupsOf(t, e.a, accountA, "t")); got != 10 {
				t.Fatalf("setup: t is in %d groups", got)
			}
			before := thSnapshot(t, e)
			err := thAdd(e.a, "t", "target", tc.override)
			if tc.wantErr {
				wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
				if after := thSnapshot(t, e); after != before {
					t.Errorf("rejected add changed the store")
				}
				return
			}
			if err != nil {
				t.Fatalf("AddThingToThingGroup: %v", err)
			}
			if got := thJoin(thGroupsOf(t, e.a, accountA, "t")); got != tc.wantGroups {
				t.Errorf("groups %s, want %s", got, tc.wantGroups)
			}
			if got := thJoin(thMembers(t, e.a, "d2", false, 10)); got != "" {
				t.Errorf("d2 still lists %s", got)
			}
			changes := thChanges(t, e, thArn(accountA, "t"))
			if got, want := thJSON(changes[len(changes)-2:]), thJSON([]string{
				`RemoveThingFromThingGroup {"thingGroupName":"d2","dynamic":true} ->  @` + keyA,
				`AddThingToThingGroup  -> {"thingGroupName":"target"} @` + keyA,
			}); got != want {
				t.Errorf("last changes %s, want %s", got, want)
			}
		})
	}
}

func TestListThingsInThingGroupPagination(t *testing.T) {
	e := newEnv(t)
	thGroup(t, e.a, "top", "")
	thGroup(t, e.a, "mid", "top")
	thGroup(t, e.a, "bottom", "mid")
	thGroup(t, e.a, "empty", "top")
	thGroup(t, e.a, "other", "")
	var all []string
	place := map[string]string{}
	for i := range 23 {
		name := fmt.Sprintf("thing%02d", i)
		thCreate(t, e.a, name, "", nil)
		g := []string{"top", "mid", "bottom"}[i%3]
		thMustAdd(t, e.a, name, g)
		place[name] = g
		all = append(all, name)
	}
	thCreate(t, e.a, "outsider", "", nil)
	thMustAdd(t, e.a, "outsider", "other")
	for _, size := range []int32{1, 4, 7, 250} {
		got := thMembers(t, e.a, "top", false, size)
		if want := thJoin(thFilter(all, place, "top")); thJoin(got) != want {
			t.Errorf("top (size %d): %s, want %s", size, thJoin(got), want)
		}
		got = thMembers(t, e.a, "top", true, size)
		if thJoin(thSorted(got)) != thJoin(all) || len(got) != len(all) {
			t.Errorf("top recursive (size %d): %s", size, thJoin(got))
		}
		got = thMembers(t, e.a, "mid", true, size)
		if want := thJoin(thSorted(append(thFilter(all, place, "mid"), thFilter(all, place, "bottom")...))); thJoin(thSorted(got)) != want {
			t.Errorf("mid recursive (size %d): %s, want %s", size, thJoin(got), want)
		}
		if got := thMembers(t, e.a, "empty", true, size); len(got) != 0 {
			t.Errorf("empty recursive: %v", got)
		}
	}
	// A token belongs to its group and recursion flag.
	page, err := e.a.ListThingsInThingGroup(thCtx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("top"), MaxResults: aws.Int32(2)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page: %v", err)
	}
	_, err = e.a.ListThingsInThingGroup(thCtx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("mid"), NextToken: page.NextToken})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.ListThingsInThingGroup(thCtx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("top"), Recursive: true, NextToken: page.NextToken})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.ListThingsInThingGroup(thCtx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	wantJSONError(t, e.call(t, "GET", "/thing-groups/top/things?maxResults=251", nil), "InvalidRequestException", 400)
	wantJSONError(t, e.call(t, "GET", "/thing-groups/top/things?recursive=maybe", nil), "InvalidRequestException", 400)
	// An empty group answers things: [] and no token.
	body := wantOK(t, e.call(t, "GET", "/thing-groups/empty/things", nil))
	if things, ok := body["things"].([]any); !ok || len(things) != 0 {
		t.Errorf("empty group body %v", body)
	}
	if _, ok := body["nextToken"]; ok {
		t.Errorf("empty group has a nextToken")
	}
}

func thFilter(names []string, place map[string]string, group string) []string {
	var out []string
	for _, n := range names {
		if place[n] == group {
			out = append(out, n)
		}
	}
	return out
}
