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

func TestDynamicThingGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "hot1", "Sensor", thAttrs("temp", "70"))
	thCreate(t, e.a, "hot2", "", thAttrs("temp", "95"))
	thCreate(t, e.a, "cold", "Sensor", thAttrs("temp", "20"))
	thCreate(t, e.a, "none", "", nil)

	out, err := e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("RoomTooWarm"), QueryString: aws.String("attributes.temp>60"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("warm rooms")},
		Tags:                 []types.Tag{tag("k", "v")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%s %s %s %s %s", aws.ToString(out.ThingGroupName), aws.ToString(out.ThingGroupArn),
		aws.ToString(out.IndexName), aws.ToString(out.QueryString), aws.ToString(out.QueryVersion)),
		"RoomTooWarm "+thGroupArn(accountA, "RoomTooWarm")+" AWS_Things attributes.temp>60 2017-09-30"; got != want {
		t.Errorf("CreateDynamicThingGroup answered %s, want %s", got, want)
	}
	if !isUUID(aws.ToString(out.ThingGroupId)) {
		t.Errorf("thingGroupId %s", aws.ToString(out.ThingGroupId))
	}
	if got := thDescribeGroupString(t, e.a, "RoomTooWarm"); !strings.HasSuffix(got,
		`v=1 desc="warm rooms" attrs=map[] parent= chain=[] query=AWS_Things/attributes.temp>60/2017-09-30/ACTIVE`) {
		t.Errorf("describe: %s", got)
	}
	if got := tagsString(listTags(t, e.a, thGroupArn(accountA, "RoomTooWarm"))); got != "k=v" {
		t.Errorf("tags %s", got)
	}
	if got := thJoin(thMembers(t, e.a, "RoomTooWarm", false, 10)); got != "hot1,hot2" {
		t.Errorf("members after create: %s", got)
	}
	if got := thJoin(thMembers(t, e.a, "RoomTooWarm", true, 1)); got != "hot1,hot2" {
		t.Errorf("members (recursive): %s", got)
	}
	if got := thJoin(thGroupsOf(t, e.a, accountA, "hot1")); got != "RoomTooWarm" {
		t.Errorf("hot1 in %s", got)
	}

	// Membership follows create, update and delete of things.
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"create matching thing", func() error {
			_, err := e.a.CreateThing(thCtx, &iot.CreateThingInput{ThingName: aws.String("hot3"),
				AttributePayload: &types.AttributePayload{Attributes: thAttrs("temp", "61")}})
			return err
		}, "hot1,hot2,hot3"},
		{"create non-matching thing", func() error {
			_, err := e.a.CreateThing(thCtx, &iot.CreateThingInput{ThingName: aws.String("hot0")})
			return err
		}, "hot1,hot2,hot3"},
		{"update makes a thing match", func() error {
			_, err := e.a.UpdateThing(thCtx, &iot.UpdateThingInput{ThingName: aws.String("cold"),
				AttributePayload: &types.AttributePayload{Attributes: thAttrs("temp", "80"), Merge: true}})
			return err
		}, "cold,hot1,hot2,hot3"},
		{"update makes a thing stop matching", func() error {
			_, err := e.a.UpdateThing(thCtx, &iot.UpdateThingInput{ThingName: aws.String("hot1"),
				AttributePayload: &types.AttributePayload{Attributes: thAttrs("temp", "60"), Merge: true}})
			return err
		}, "cold,hot2,hot3"},
		{"update removing the attribute", func() error {
			_, err := e.a.UpdateThing(thCtx, &iot.UpdateThingInput{ThingName: aws.String("hot3"),
				AttributePayload: &types.AttributePayload{Attributes: thAttrs("temp", ""), Merge: true}})
			return err
		}, "cold,hot2"},
		{"delete a member", func() error {
			_, err := e.a.DeleteThing(thCtx, &iot.DeleteThingInput{ThingName: aws.String("hot2")})
			return err
		}, "cold"},
		{"change the query", func() error {
			_, err := e.a.UpdateDynamicThingGroup(thCtx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("RoomTooWarm"),
				ThingGroupProperties: &types.ThingGroupProperties{}, QueryString: aws.String("thingTypeName:Sensor OR thingName:none"),
				ExpectedVersion: aws.Int64(1)})
			return err
		}, "cold,hot1,none"},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := thJoin(thMembers(t, e.a, "RoomTooWarm", false, 2)); got != st.want {
			t.Errorf("%s: members %s, want %s", st.name, got, st.want)
		}
	}
	if got := thDescribeGroupString(t, e.a, "RoomTooWarm"); !strings.Contains(got, "v=2") ||
		!strings.Contains(got, "/thingTypeName:Sensor OR thingName:none/") {
		t.Errorf("describe after update: %s", got)
	}
	// Dynamic membership changes are logged against the thing, by the
	// request's actor.
	if got, want := thChanges(t, e, thArn(accountA, "cold")), []string{
		`CreateThing  -> {"thingName":"cold","thingTypeName":"Sensor","attributes":{"temp":"20"},"version":1} @` + keyA,
		`UpdateThing {"thingName":"cold","thingTypeName":"Sensor","attributes":{"temp":"20"},"version":1} -> {"thingName":"cold","thingTypeName":"Sensor","attributes":{"temp":"80"},"version":2} @` + keyA,
		`AddThingToThingGroup  -> {"thingGroupName":"RoomTooWarm","dynamic":true} @` + keyA,
	}; thJSON(got) != thJSON(want) {
		t.Errorf("cold's change log:\n got %q\nwant %q", got, want)
	}
	if got := thChangeOps(t, e, thArn(accountA, "hot2")); got != "CreateThing,AddThingToThingGroup,RemoveThingFromThingGroup,DeleteThing" {
		t.Errorf("hot2's change log: %s", got)
	}
	if got := thChangeOps(t, e, thArn(accountA, "hot3")); got != "CreateThing,AddThingToThingGroup,UpdateThing,RemoveThingFromThingGroup" {
		t.Errorf("hot3's change log: %s", got)
	}
	if got := thChangeOps(t, e, thGroupArn(accountA, "RoomTooWarm")); got != "CreateDynamicThingGroup,UpdateDynamicThingGroup" {
		t.Errorf("group's change log: %s", got)
	}

	// The wrong operation for the kind of group is refused.
	before := thSnapshot(t, e)
	_, err = e.a.UpdateThingGroup(thCtx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("RoomTooWarm"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.DeleteThingGroup(thCtx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("RoomTooWarm")})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.RemoveThingFromThingGroup(thCtx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("cold"), ThingGroupName: aws.String("RoomTooWarm")})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.DeleteDynamicThingGroup(thCtx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("RoomTooWarm"), ExpectedVersion: aws.Int64(1)})
	wantCode(t, err, "VersionConflictException", 409)
	if got := thSnapshot(t, e); got != before {
		t.Errorf("rejected requests changed the store")
	}
	thGroup(t, e.a, "static", "")
	after := thSnapshot(t, e)
	_, err = e.a.UpdateDynamicThingGroup(thCtx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("static"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.DeleteDynamicThingGroup(thCtx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("static")})
	wantCode(t, err, "InvalidRequestException", 400)
	if got := thSnapshot(t, e); got != after {
		t.Errorf("rejected requests changed the store")
	}

	// Idempotent create; a different query conflicts.
	again, err := e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("RoomTooWarm"),
		QueryString:          aws.String("thingTypeName:Sensor OR thingName:none"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("warm rooms")}})
	if err != nil || aws.ToString(again.ThingGroupId) != aws.ToString(out.ThingGroupId) {
		t.Errorf("identical create: %v, id %s, want %s", err, aws.ToString(again.ThingGroupId), aws.ToString(out.ThingGroupId))
	}
	_, err = e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("RoomTooWarm"), QueryString: aws.String("thingName:x")})
	wantCode(t, err, "ResourceAlreadyExistsException", 409)

	// Delete: memberships and tags go, repeat deletes succeed.
	for range 2 {
		if _, err := e.a.DeleteDynamicThingGroup(thCtx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("RoomTooWarm")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := thGroupsOf(t, e.a, accountA, "cold"); len(got) != 0 {
		t.Errorf("cold still in %v", got)
	}
	_, err = e.a.ListTagsForResource(thCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(thGroupArn(accountA, "RoomTooWarm"))})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if got := thChanges(t, e, thArn(accountA, "cold")); got[len(got)-1] != `RemoveThingFromThingGroup {"thingGroupName":"RoomTooWarm","dynamic":true} ->  @`+keyA {
		t.Errorf("cold's last change: %s", got[len(got)-1])
	}
	// Updating a thing after the group is gone is unaffected by it.
	thUpdate(t, e.a, "cold", thAttrs("temp", "99"), true)
	if got := thGroupsOf(t, e.a, accountA, "cold"); len(got) != 0 {
		t.Errorf("cold in %v after its dynamic group was deleted", got)
	}
}

func TestDynamicThingGroupValidation(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "t", "", nil)
	thDynamic(t, e.a, "keep", "thingName:t")
	before := thSnapshot(t, e)
	s := aws.String
	tests := []struct {
		name   string
		in     iot.CreateDynamicThingGroupInput
		code   string
		status int
		want   string
	}{
		{"empty query", iot.CreateDynamicThingGroupInput{QueryString: s("")}, "InvalidRequestException", 400, "queryString"},
		{"query too long", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:" + strings.Repeat("a", 1000))}, "InvalidQueryException", 400, "at most 1000"},
		{"term without field", iot.CreateDynamicThingGroupInput{QueryString: s("abc")}, "InvalidQueryException", 400, "names no field"},
		{"unsupported field", iot.CreateDynamicThingGroupInput{QueryString: s("shadow.reported.temp>5")}, "InvalidQueryException", 400, "not supported"},
		{"syntax", iot.CreateDynamicThingGroupInput{QueryString: s("(thingName:a")}, "InvalidQueryException", 400, "missing ')'"},
		{"too many terms", iot.CreateDynamicThingGroupInput{QueryString: s(strings.TrimSpace(strings.Repeat("thingName:a ", 13)))}, "InvalidQueryException", 400, "at most 12"},
		{"unknown index", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), IndexName: s("AWS_ThingGroups")}, "ResourceNotFoundException", 404, "AWS_Things"},
		{"bad index name", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), IndexName: s("a b")}, "InvalidRequestException", 400, "indexName"},
		{"unknown query version", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), QueryVersion: s("2020-01-01")}, "InvalidRequestException", 400, "2017-09-30"},
		{"bad name", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), ThingGroupName: s("a b")}, "InvalidRequestException", 400, "thingGroupName"},
		{"bad description", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), ThingGroupProperties: &types.ThingGroupProperties{
			ThingGroupDescription: s(strings.Repeat("d", 2029))}}, "InvalidRequestException", 400, "thingGroupDescription"},
		{"51 tags", iot.CreateDynamicThingGroupInput{QueryString: s("thingName:a"), Tags: manyTags(51)}, "InvalidRequestException", 400, "tags"},
	}
	for _, tc := range tests {
		in := tc.in
		if in.ThingGroupName == nil {
			in.ThingGroupName = s("new")
		}
		_, err := e.a.CreateDynamicThingGroup(thCtx, &in)
		wantCode(t, err, tc.code, tc.status)
		if msg := errorMessage(err); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q does not contain %q", tc.name, msg, tc.want)
		}
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected create changed the store", tc.name)
		}
		// The same query members on UpdateDynamicThingGroup.
		if in.QueryString != nil && *in.QueryString == "" || tc.name == "51 tags" || tc.name == "bad name" {
			continue
		}
		_, err = e.a.UpdateDynamicThingGroup(thCtx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: s("keep"),
			ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: thDescription(in.ThingGroupProperties)},
			QueryString:          in.QueryString, IndexName: in.IndexName, QueryVersion: in.QueryVersion})
		wantCode(t, err, tc.code, tc.status)
		if after := thSnapshot(t, e); after != before {
			t.Errorf("%s: rejected update changed the store", tc.name)
		}
	}
	// Defaults may also be given explicitly.
	if _, err := e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{ThingGroupName: s("explicit"),
		QueryString: s("thingName:t"), IndexName: s("AWS_Things"), QueryVersion: s("2017-09-30")}); err != nil {
		t.Fatal(err)
	}
	// The quota of dynamic groups.
	for i := 2; i < 100; i++ {
		thDynamic(t, e.a, fmt.Sprintf("d%03d", i), "thingName:nothing")
	}
	_, err := e.a.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{ThingGroupName: s("one-too-many"), QueryString: s("thingName:a")})
	wantCode(t, err, "LimitExceededException", http.StatusGone)
}

// thDescription lets the table above reuse a create's description.
func thDescription(p *types.ThingGroupProperties) *string {
	if p == nil {
		return nil
	}
	return p.ThingGroupDescription
}

func TestDynamicGroupsAndTheGroupLimit(t *testing.T) {
	e := newEnv(t)
	thCreate(t, e.a, "busy", "", thAttrs("x", "1"))
	thCreate(t, e.a, "free", "", thAttrs("x", "1"))
	for i := range 10 {
		g := fmt.Sprintf("s%d", i)
		thGroup(t, e.a, g, "")
		thMustAdd(t, e.a, "busy", g)
	}
	// A thing already in 10 groups is not added to a dynamic group, whether
	// the group is created or the thing changes.
	thDynamic(t, e.a, "xs", "attributes.x:1")
	if got := thJoin(thMembers(t, e.a, "xs", false, 10)); got != "free" {
		t.Errorf("xs lists %s, want free", got)
	}
	thUpdate(t, e.a, "busy", thAttrs("y", "2"), true)
	if got := thJoin(thMembers(t, e.a, "xs", false, 10)); got != "free" {
		t.Errorf("xs lists %s after busy's update, want free", got)
	}
	// Once it leaves a static group, its next change lets it join.
	if _, err := e.a.RemoveThingFromThingGroup(thCtx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("busy"), ThingGroupName: aws.String("s0")}); err != nil {
		t.Fatal(err)
	}
	thUpdate(t, e.a, "busy", thAttrs("y", "3"), true)
	if got := thJoin(thMembers(t, e.a, "xs", false, 10)); got != "busy,free" {
		t.Errorf("xs lists %s, want busy,free", got)
	}
	// A dynamic membership counts toward the limit of static adds.
	err := thAdd(e.a, "busy", "s0", false)
	wantCode(t, err, "InvalidRequestException", 400)
	// Dynamic groups are not hierarchies: any number of them can hold a thing.
	thDynamic(t, e.a, "xs2", "attributes.x:*")
	if got := thJoin(thGroupsOf(t, e.a, accountA, "free")); got != "xs,xs2" {
		t.Errorf("free is in %s", got)
	}
}
