package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingCreateDescribeIdempotent(t *testing.T) {
	e := newEnv(t)
	out := thCreate(t, e.a, "bulb:1", "LightBulb", thAttrs("model", "123", "wattage", "75"))
	if got, want := aws.ToString(out.ThingArn), thArn(accountA, "bulb:1"); got != want {
		t.Errorf("thingArn %s, want %s", got, want)
	}
	if !isUUID(aws.ToString(out.ThingId)) {
		t.Errorf("thingId %q is not a UUID", aws.ToString(out.ThingId))
	}
	d := thDescribe(t, e.a, "bulb:1")
	got := fmt.Sprintf("client=%s name=%s id=%s arn=%s type=%s attrs=%v version=%d",
		aws.ToString(d.DefaultClientId), aws.ToString(d.ThingName), aws.ToString(d.ThingId), aws.ToString(d.ThingArn),
		aws.ToString(d.ThingTypeName), d.Attributes, d.Version)
	want := fmt.Sprintf("client=bulb:1 name=bulb:1 id=%s arn=%s type=LightBulb attrs=map[model:123 wattage:75] version=1",
		aws.ToString(out.ThingId), thArn(accountA, "bulb:1"))
	if got != want {
		t.Errorf("DescribeThing:\n got %s\nwant %s", got, want)
	}

	// The same configuration again succeeds with the same thing.
	before := thSnapshot(t, e)
	again := thCreate(t, e.a, "bulb:1", "LightBulb", thAttrs("wattage", "75", "model", "123"))
	if aws.ToString(again.ThingId) != aws.ToString(out.ThingId) {
		t.Errorf("identical CreateThing gave id %s, want %s", aws.ToString(again.ThingId), aws.ToString(out.ThingId))
	}
	if after := thSnapshot(t, e); after != before {
		t.Errorf("identical CreateThing changed the store:\n%s\nwant\n%s", after, before)
	}
	// A different configuration conflicts.
	for _, tc := range []struct {
		name  string
		typ   string
		attrs map[string]string
	}{
		{"other attribute value", "LightBulb", thAttrs("model", "123", "wattage", "60")},
		{"fewer attributes", "LightBulb", thAttrs("model", "123")},
		{"no type", "", thAttrs("model", "123", "wattage", "75")},
		{"other type", "Lamp", thAttrs("model", "123", "wattage", "75")},
	} {
		in := &iot.CreateThingInput{ThingName: aws.String("bulb:1"), AttributePayload: &types.AttributePayload{Attributes: tc.attrs}}
		if tc.typ != "" {
			in.ThingTypeName = aws.String(tc.typ)
		}
		_, err := e.a.CreateThing(thCtx, in)
		wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected CreateThing changed the store", tc.name)
		}
	}
	// The conflict names the existing thing, as AWS does.
	r := e.call(t, "POST", "/things/bulb:1", []byte(`{"attributePayload":{"attributes":{"x":"y"}}}`))
	wantJSONError(t, r, "ResourceAlreadyExistsException", http.StatusConflict)
	if !strings.Contains(string(r.body), `"resourceId":"`+aws.ToString(out.ThingId)+`"`) ||
		!strings.Contains(string(r.body), `"resourceArn":"`+thArn(accountA, "bulb:1")+`"`) {
		t.Errorf("conflict body %s does not name the existing thing", r.body)
	}
	if got, want := thChanges(t, e, thArn(accountA, "bulb:1")), []string{
		`CreateThing  -> {"thingName":"bulb:1","thingTypeName":"LightBulb","attributes":{"model":"123","wattage":"75"},"version":1} @` + keyA,
	}; thJSON(got) != thJSON(want) {
		t.Errorf("change log:\n got %q\nwant %q", got, want)
	}

	_, err := e.a.DescribeThing(thCtx, &iot.DescribeThingInput{ThingName: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	// Without a type or attributes, DescribeThing still sends attributes {}.
	thCreate(t, e.a, "bare", "", nil)
	body := wantOK(t, e.call(t, "GET", "/things/bare", nil))
	if _, ok := body["thingTypeName"]; ok {
		t.Errorf("DescribeThing of an untyped thing has thingTypeName: %v", body)
	}
	if attrs, ok := body["attributes"].(map[string]any); !ok || len(attrs) != 0 {
		t.Errorf("DescribeThing attributes = %v, want {}", body["attributes"])
	}
	if fmt.Sprint(body["version"]) != "1" {
		t.Errorf("version = %v, want 1", body["version"])
	}
}

func TestThingUpdate(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t1", "", thAttrs("a", "1", "b", "2"))
	v := func(n int64) *int64 { return &n }
	steps := []struct {
		name      string
		in        iot.UpdateThingInput
		wantType  string
		wantAttrs string
		wantVer   int64
	}{
		{"merge adds and overwrites", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("b", "20", "c", "3"), Merge: true}}, "", "map[a:1 b:20 c:3]", 2},
		{"merge with empty value removes", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("a", ""), Merge: true}}, "", "map[b:20 c:3]", 3},
		{"replace", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("z", "9")}}, "", "map[z:9]", 4},
		{"set type with matching expectedVersion", iot.UpdateThingInput{ThingTypeName: aws.String("Sensor"), ExpectedVersion: v(4)},
			"Sensor", "map[z:9]", 5},
		{"typed thing may have more than 3 attributes", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("p", "1", "q", "2", "r", "3"), Merge: true}}, "Sensor", "map[p:1 q:2 r:3 z:9]", 6},
		{"no members still bumps the version", iot.UpdateThingInput{}, "Sensor", "map[p:1 q:2 r:3 z:9]", 7},
		{"remove type", iot.UpdateThingInput{RemoveThingType: true, AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("z", ""), Merge: true}, ExpectedVersion: v(7)}, "", "map[p:1 q:2 r:3]", 8},
	}
	for _, st := range steps {
		in := st.in
		in.ThingName = aws.String("t1")
		if _, err := e.a.UpdateThing(thCtx, &in); err != nil {
			t.Fatalf("%s: UpdateThing: %v", st.name, err)
		}
		d := thDescribe(t, e.a, "t1")
		if got := fmt.Sprintf("%s %v %d", aws.ToString(d.ThingTypeName), d.Attributes, d.Version); got != fmt.Sprintf("%s %s %d", st.wantType, st.wantAttrs, st.wantVer) {
			t.Errorf("%s: got %s, want %s %s %d", st.name, got, st.wantType, st.wantAttrs, st.wantVer)
		}
	}
	before := thSnapshot(t, e)
	rejects := []struct {
		name   string
		in     iot.UpdateThingInput
		code   string
		status int
	}{
		{"stale expectedVersion", iot.UpdateThingInput{ThingName: aws.String("t1"), ExpectedVersion: v(3)}, "VersionConflictException", 409},
		{"type and removeThingType", iot.UpdateThingInput{ThingName: aws.String("t1"), ThingTypeName: aws.String("X"), RemoveThingType: true}, "InvalidRequestException", 400},
		{"untyped thing over 3 attributes", iot.UpdateThingInput{ThingName: aws.String("t1"), AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("s", "4"), Merge: true}}, "InvalidRequestException", 400},
		{"bad attribute value", iot.UpdateThingInput{ThingName: aws.String("t1"), AttributePayload: &types.AttributePayload{
			Attributes: thAttrs("p", "has space"), Merge: true}}, "InvalidRequestException", 400},
		{"bad type name", iot.UpdateThingInput{ThingName: aws.String("t1"), ThingTypeName: aws.String("a/b")}, "InvalidRequestException", 400},
		{"missing thing", iot.UpdateThingInput{ThingName: aws.String("nope")}, "ResourceNotFoundException", 404},
	}
	for _, tc := range rejects {
		_, err := e.a.UpdateThing(thCtx, &tc.in)
		wantCode(t, err, tc.code, tc.status)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected UpdateThing changed the store", tc.name)
		}
	}
	ops := thChangeOps(t, e, thArn(accountA, "t1"))
	if want := "CreateThing" + strings.Repeat(",UpdateThing", 7); ops != want {
		t.Errorf("change log ops %s, want %s", ops, want)
	}
	changes := thChanges(t, e, thArn(accountA, "t1"))
	if want := `UpdateThing {"thingName":"t1","attributes":{"a":"1","b":"2"},"version":1} -> {"thingName":"t1","attributes":{"a":"1","b":"20","c":"3"},"version":2} @` + keyA; changes[1] != want {
		t.Errorf("first update logged as\n %s\nwant\n %s", changes[1], want)
	}
}

func TestThingDelete(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t1", "", nil)
	thUpdate(t, e.a, "t1", thAttrs("a", "1"), true) // version 2
	thGroup(t, e.a, "g1", "")
	thMustAdd(t, e.a, "t1", "g1")
	before := thSnapshot(t, e)
	_, err := e.a.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("t1"), ExpectedVersion: aws.Int64(1)})
	wantCode(t, err, "VersionConflictException", http.StatusConflict)
	if after := thSnapshot(t, e); after != before {
		t.Errorf("rejected DeleteThing changed the store")
	}
	r := e.call(t, "DELETE", "/things/t1?expectedVersion=two", nil)
	wantJSONError(t, r, "InvalidRequestException", http.StatusBadRequest)

	// A thing with an attached principal cannot be deleted.
	db := rawDB(t, e)
	principal := "arn:aws:iot:" + region + ":" + accountA + ":cert/" + strings.Repeat("ab", 32)
	if _, err := db.Exec(`INSERT INTO thing_principals (account, region, thing_name, principal, created_at) VALUES (?, ?, ?, ?, ?)`,
		accountA, region, "t1", principal, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	before = thSnapshot(t, e)
	_, err = e.a.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("t1")})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	if msg := errorMessage(err); !strings.Contains(msg, "principal") {
		t.Errorf("message %q does not mention the principals", msg)
	}
	if after := thSnapshot(t, e); after != before {
		t.Errorf("rejected DeleteThing changed the store")
	}
	if _, err := db.Exec(`DELETE FROM thing_principals`); err != nil {
		t.Fatal(err)
	}

	if _, err := e.a.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("t1"), ExpectedVersion: aws.Int64(2)}); err != nil {
		t.Fatalf("DeleteThing: %v", err)
	}
	_, err = e.a.DescribeThing(thCtx, &iot.DescribeThingInput{ThingName: aws.String("t1")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if got := thMembers(t, e.a, "g1", false, 10); len(got) != 0 {
		t.Errorf("g1 still lists %v after the thing was deleted", got)
	}
	if got := thListThings(t, e.a, iot.ListThingsInput{AttributeName: aws.String("a")}); len(got) != 0 {
		t.Errorf("ListThings by attribute still finds %v", got)
	}
	// Deleting a missing thing succeeds, with or without a version.
	for _, v := range []*int64{nil, aws.Int64(7)} {
		if _, err := e.a.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("t1"), ExpectedVersion: v}); err != nil {
			t.Errorf("DeleteThing of a missing thing: %v", err)
		}
	}
	if got, want := thChangeOps(t, e, thArn(accountA, "t1")), "CreateThing,UpdateThing,AddThingToThingGroup,RemoveThingFromThingGroup,DeleteThing"; got != want {
		t.Errorf("change log ops %s, want %s", got, want)
	}
	// The name can be used again, with a new id.
	thCreate(t, e.a, "t1", "", nil)
	if got := thGroupsOf(t, e.a, accountA, "t1"); len(got) != 0 {
		t.Errorf("recreated thing is in groups %v", got)
	}
}

func TestThingValidation(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "keep", "", thAttrs("a", "1"))
	before := thSnapshot(t, e)
	long := strings.Repeat("n", 129)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		code   string
		status int
		member string
	}{
		{"name too long", "POST", "/things/" + long, `{}`, "InvalidRequestException", 400, "thingName"},
		{"name bad char", "POST", "/things/a.b", `{}`, "InvalidRequestException", 400, "thingName"},
		{"type bad char", "POST", "/things/x", `{"thingTypeName":"a b"}`, "InvalidRequestException", 400, "thingTypeName"},
		{"type too long", "POST", "/things/x", `{"thingTypeName":"` + long + `"}`, "InvalidRequestException", 400, "thingTypeName"},
		{"attribute name bad", "POST", "/things/x", `{"attributePayload":{"attributes":{"a b":"1"}}}`, "InvalidRequestException", 400, "attributePayload.attributes"},
		{"attribute value too long", "POST", "/things/x", `{"attributePayload":{"attributes":{"a":"` + strings.Repeat("v", 801) + `"}}}`, "InvalidRequestException", 400, "attributePayload.attributes.a"},
		{"attribute name too long", "POST", "/things/x", `{"attributePayload":{"attributes":{"` + long + `":"1"}}}`, "InvalidRequestException", 400, "attributePayload.attributes"},
		{"4 attributes without type", "POST", "/things/x", `{"attributePayload":{"attributes":{"a":"1","b":"2","c":"3","d":"4"}}}`, "InvalidRequestException", 400, "at most 3"},
		{"billing group", "POST", "/things/x", `{"billingGroupName":"bg"}`, "ResourceNotFoundException", 404, "Billing group"},
		{"billing group bad", "POST", "/things/x", `{"billingGroupName":"b g"}`, "InvalidRequestException", 400, "billingGroupName"},
		{"attributes wrong type", "POST", "/things/x", `{"attributePayload":{"attributes":["a"]}}`, "InvalidRequestException", 400, "attributes"},
		{"describe bad name", "GET", "/things/a%20b", ``, "InvalidRequestException", 400, "thingName"},
		{"update bad version type", "PATCH", "/things/keep", `{"expectedVersion":"1"}`, "InvalidRequestException", 400, "expectedVersion"},
		{"delete bad name", "DELETE", "/things/a%2Fb", ``, "InvalidRequestException", 400, "thingName"},
		{"list maxResults 0", "GET", "/things?maxResults=0", ``, "InvalidRequestException", 400, "maxResults"},
		{"list maxResults 251", "GET", "/things?maxResults=251", ``, "InvalidRequestException", 400, "maxResults"},
		{"list bad attributeName", "GET", "/things?attributeName=a%20b", ``, "InvalidRequestException", 400, "attributeName"},
		{"list value without name", "GET", "/things?attributeValue=1", ``, "InvalidRequestException", 400, "attributeName"},
		{"list bad thingTypeName", "GET", "/things?thingTypeName=", ``, "InvalidRequestException", 400, "thingTypeName"},
		{"list bad prefix flag", "GET", "/things?attributeName=a&attributeValue=1&usePrefixAttributeValue=yes", ``, "InvalidRequestException", 400, "usePrefixAttributeValue"},
		{"list bad token", "GET", "/things?nextToken=abc", ``, "InvalidRequestException", 400, "nextToken"},
	}
	for _, tc := range tests {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		msg := wantJSONError(t, e.call(t, tc.method, tc.path, body), tc.code, tc.status)
		if !strings.Contains(msg, tc.member) {
			t.Errorf("%s: message %q does not mention %q", tc.name, msg, tc.member)
		}
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected request changed the store", tc.name)
		}
	}
	// Boundaries that are accepted.
	thCreate(t, e.a, strings.Repeat("n", 128), "", nil)
	thCreate(t, e.a, "x", strings.Repeat("T", 128), thAttrs(strings.Repeat("k", 128), strings.Repeat("v", 800), "a_.,@/:#-", "", "b", "2"))
	if d := thDescribe(t, e.a, "x"); len(d.Attributes) != 2 {
		t.Errorf("empty attribute value was stored: %v", d.Attributes)
	}
}

func TestListThings(t *testing.T) {
	e := newEnv(t)
	fixtures := []struct {
		name, typ string
		attrs     map[string]string
	}{
		{"bulb1", "Bulb", thAttrs("color", "red", "watt", "60")},
		{"bulb2", "Bulb", thAttrs("color", "redish", "watt", "75")},
		{"bulb3", "Bulb", thAttrs("color", "blue")},
		{"sensor1", "Sensor", thAttrs("color", "red")},
		{"sensor2", "", thAttrs("site", "eu-1")},
		{"plain", "", nil},
	}
	for _, f := range fixtures {
		thCreate(t, e.a, f.name, f.typ, f.attrs)
	}
	thCreate(t, e.b, "other-account", "Bulb", thAttrs("color", "red"))
	tests := []struct {
		name string
		in   iot.ListThingsInput
		want string
	}{
		{"all", iot.ListThingsInput{}, "bulb1,bulb2,bulb3,plain,sensor1,sensor2"},
		{"has attribute", iot.ListThingsInput{AttributeName: aws.String("color")}, "bulb1,bulb2,bulb3,sensor1"},
		{"attribute value", iot.ListThingsInput{AttributeName: aws.String("color"), AttributeValue: aws.String("red")}, "bulb1,sensor1"},
		{"attribute prefix", iot.ListThingsInput{AttributeName: aws.String("color"), AttributeValue: aws.String("red"), UsePrefixAttributeValue: true}, "bulb1,bulb2,sensor1"},
		{"no match", iot.ListThingsInput{AttributeName: aws.String("color"), AttributeValue: aws.String("green")}, ""},
		{"type", iot.ListThingsInput{ThingTypeName: aws.String("Bulb")}, "bulb1,bulb2,bulb3"},
		{"type and attribute", iot.ListThingsInput{ThingTypeName: aws.String("Bulb"), AttributeName: aws.String("color"), AttributeValue: aws.String("red")}, "bulb1"},
		{"type and has attribute", iot.ListThingsInput{ThingTypeName: aws.String("Sensor"), AttributeName: aws.String("color")}, "sensor1"},
		{"unknown type", iot.ListThingsInput{ThingTypeName: aws.String("Nope")}, ""},
	}
	for _, tc := range tests {
		for _, size := range []int32{1, 2, 250} {
			in := tc.in
			in.MaxResults = aws.Int32(size)
			if got := thJoin(thListThings(t, e.a, in)); got != tc.want {
				t.Errorf("%s (page size %d): got %s, want %s", tc.name, size, got, tc.want)
			}
		}
	}
	// One page's contents and shape.
	page, err := e.a.ListThings(thCtx, &iot.ListThingsInput{MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Things) != 2 || page.NextToken == nil {
		t.Fatalf("first page: %d things, nextToken %v", len(page.Things), page.NextToken)
	}
	th := page.Things[0]
	if got := fmt.Sprintf("%s %s %s %v %d", aws.ToString(th.ThingName), aws.ToString(th.ThingTypeName), aws.ToString(th.ThingArn), th.Attributes, th.Version); got != "bulb1 Bulb "+thArn(accountA, "bulb1")+" map[color:red watt:60] 1" {
		t.Errorf("ThingAttribute: %s", got)
	}
	// A token is bound to its filter and account.
	_, err = e.a.ListThings(thCtx, &iot.ListThingsInput{NextToken: page.NextToken, ThingTypeName: aws.String("Bulb")})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	_, err = e.b.ListThings(thCtx, &iot.ListThingsInput{NextToken: page.NextToken})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	// Things created while paging appear if they sort after the cursor.
	thCreate(t, e.a, "zz-late", "", nil)
	rest := thListThings(t, e.a, iot.ListThingsInput{NextToken: page.NextToken, MaxResults: aws.Int32(250)})
	if got := thJoin(rest); got != "bulb3,plain,sensor1,sensor2,zz-late" {
		t.Errorf("rest after cursor: %s", got)
	}
	if got := thJoin(thListThings(t, e.b, iot.ListThingsInput{})); got != "other-account" {
		t.Errorf("account B lists %s", got)
	}
}

func TestThingsCrossAccountIsolation(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "shared", "", thAttrs("owner", "a"))
	thGroup(t, e.a, "grp", "")
	thMustAdd(t, e.a, "shared", "grp")
	thDynamic(t, e.a, "dyn", "attributes.owner:*")

	_, err := e.b.DescribeThing(thCtx, &iot.DescribeThingInput{ThingName: aws.String("shared")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.DescribeThingGroup(thCtx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("grp")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.ListThingsInThingGroup(thCtx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("grp")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.ListThingGroupsForThing(thCtx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("shared")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.UpdateThing(thCtx, &iot.UpdateThingInput{ThingName: aws.String("shared")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	// B naming A's resources by ARN sees nothing either.
	_, err = e.b.AddThingToThingGroup(thCtx, &iot.AddThingToThingGroupInput{
		ThingArn: aws.String(thArn(accountA, "shared")), ThingGroupArn: aws.String(thGroupArn(accountA, "grp"))})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.ListTagsForResource(thCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(thGroupArn(accountA, "grp"))})
	wantCode(t, err, "ResourceNotFoundException", 404)
	// Deletes by B are no-ops for A.
	if _, err := e.b.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("grp")}); err != nil {
		t.Fatal(err)
	}
	if got := thListThings(t, e.b, iot.ListThingsInput{}); len(got) != 0 {
		t.Errorf("B lists things %v", got)
	}
	if got := thListGroups(t, e.b, iot.ListThingGroupsInput{}); len(got) != 0 {
		t.Errorf("B lists groups %v", got)
	}
	// B's own things of the same names are independent, and A's dynamic
	// group does not pick them up.
	thCreate(t, e.b, "shared", "", thAttrs("owner", "b"))
	thGroup(t, e.b, "grp", "")
	thMustAdd(t, e.b, "shared", "grp")
	if got := thJoin(thMembers(t, e.a, "dyn", false, 10)); got != "shared" {
		t.Errorf("A's dynamic group lists %s", got)
	}
	if got := thDescribe(t, e.a, "shared").Attributes["owner"]; got != "a" {
		t.Errorf("A's thing has owner %s", got)
	}
	if got := thJoin(thGroupsOf(t, e.a, accountA, "shared")); got != "dyn,grp" {
		t.Errorf("A's thing is in %s", got)
	}
	if got := thJoin(thGroupsOf(t, e.b, accountB, "shared")); got != "grp" {
		t.Errorf("B's thing is in %s", got)
	}
	// Another region of the same account is another scope too.
	west := e.clientIn(keyA, secretA, "us-west-2")
	if got := thListThings(t, west, iot.ListThingsInput{}); len(got) != 0 {
		t.Errorf("us-west-2 lists %v", got)
	}
}

func TestThingsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t1", "Bulb", thAttrs("color", "red"))
	thCreate(t, e.a, "t2", "", thAttrs("color", "blue"))
	thGroup(t, e.a, "root", "", tag("team", "x"))
	thGroup(t, e.a, "child", "root")
	thMustAdd(t, e.a, "t1", "child")
	thDynamic(t, e.a, "reds", "attributes.color:red")
	want := thSnapshot(t, e)
	d1 := thDescribe(t, e.a, "t1")

	e.restart()
	if got := thSnapshot(t, e); got != want {
		t.Errorf("store after restart:\n%s\nwant\n%s", got, want)
	}
	if d := thDescribe(t, e.a, "t1"); aws.ToString(d.ThingId) != aws.ToString(d1.ThingId) || d.Version != 1 {
		t.Errorf("t1 after restart: id %s version %d", aws.ToString(d.ThingId), d.Version)
	}
	if got := thJoin(thMembers(t, e.a, "root", true, 5)); got != "t1" {
		t.Errorf("root recursive after restart: %s", got)
	}
	if got := tagsString(listTags(t, e.a, thGroupArn(accountA, "root"))); got != "team=x" {
		t.Errorf("root tags after restart: %s", got)
	}
	// Dynamic membership keeps following changes after the restart.
	thUpdate(t, e.a, "t2", thAttrs("color", "red"), true)
	if got := thJoin(thMembers(t, e.a, "reds", false, 5)); got != "t1,t2" {
		t.Errorf("reds after restart and update: %s", got)
	}
}
