package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
)

var thCtx = context.Background()

func thArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":thing/" + name
}

func thGroupArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":thinggroup/" + name
}

func thAttrs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// thCreate makes a thing and fails the test on error.
func thCreate(t testing.TB, c *iot.Client, name, typeName string, attrs map[string]string) *iot.CreateThingOutput {
	t.Helper()
	in := &iot.CreateThingInput{ThingName: aws.String(name)}
	if typeName != "" {
		in.ThingTypeName = aws.String(typeName)
	}
	if attrs != nil {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	out, err := c.CreateThing(thCtx, in)
	if err != nil {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
	return out
}

func thUpdate(t testing.TB, c *iot.Client, name string, attrs map[string]string, merge bool) {
	t.Helper()
	_, err := c.UpdateThing(thCtx, &iot.UpdateThingInput{ThingName: aws.String(name),
		AttributePayload: &types.AttributePayload{Attributes: attrs, Merge: merge}})
	if err != nil {
		t.Fatalf("UpdateThing(%s): %v", name, err)
	}
}

func thDescribe(t testing.TB, c *iot.Client, name string) *iot.DescribeThingOutput {
	t.Helper()
	out, err := c.DescribeThing(thCtx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeThing(%s): %v", name, err)
	}
	return out
}

// thGroup makes a static group under parent ("" for a root).
func thGroup(t testing.TB, c *iot.Client, name, parent string, tags ...types.Tag) *iot.CreateThingGroupOutput {
	t.Helper()
	in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name), Tags: tags}
	if parent != "" {
		in.ParentGroupName = aws.String(parent)
	}
	out, err := c.CreateThingGroup(thCtx, in)
	if err != nil {
		t.Fatalf("CreateThingGroup(%s): %v", name, err)
	}
	return out
}

func thDynamic(t testing.TB, c *iot.Client, name, query string) *iot.CreateDynamicThingGroupOutput {
	t.Helper()
	out, err := c.CreateDynamicThingGroup(thCtx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String(name), QueryString: aws.String(query)})
	if err != nil {
		t.Fatalf("CreateDynamicThingGroup(%s, %q): %v", name, query, err)
	}
	return out
}

func thAdd(c *iot.Client, thing, group string, override bool) error {
	_, err := c.AddThingToThingGroup(thCtx, &iot.AddThingToThingGroupInput{
		ThingName: aws.String(thing), ThingGroupName: aws.String(group), OverrideDynamicGroups: override})
	return err
}

func thMustAdd(t testing.TB, c *iot.Client, thing, group string) {
	t.Helper()
	if err := thAdd(c, thing, group, false); err != nil {
		t.Fatalf("AddThingToThingGroup(%s, %s): %v", thing, group, err)
	}
}

// thMembers lists a group's things through the paginator with page size n.
func thMembers(t testing.TB, c *iot.Client, group string, recursive bool, n int32) []string {
	t.Helper()
	var names []string
	p := iot.NewListThingsInThingGroupPaginator(c, &iot.ListThingsInThingGroupInput{
		ThingGroupName: aws.String(group), Recursive: recursive, MaxResults: aws.Int32(n)})
	for p.HasMorePages() {
		page, err := p.NextPage(thCtx)
		if err != nil {
			t.Fatalf("ListThingsInThingGroup(%s): %v", group, err)
		}
		if len(page.Things) > int(n) {
			t.Fatalf("ListThingsInThingGroup(%s): got a page of %d, asked for %d", group, len(page.Things), n)
		}
		names = append(names, page.Things...)
	}
	return names
}

// thGroupsOf lists the groups a thing is in, checking each ARN.
func thGroupsOf(t testing.TB, c *iot.Client, account, thing string) []string {
	t.Helper()
	var names []string
	p := iot.NewListThingGroupsForThingPaginator(c, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing), MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(thCtx)
		if err != nil {
			t.Fatalf("ListThingGroupsForThing(%s): %v", thing, err)
		}
		for _, g := range page.ThingGroups {
			if got, want := aws.ToString(g.GroupArn), thGroupArn(account, aws.ToString(g.GroupName)); got != want {
				t.Errorf("group ARN %s, want %s", got, want)
			}
			names = append(names, aws.ToString(g.GroupName))
		}
	}
	return names
}

// thListThings lists thing names matching in, following nextToken.
func thListThings(t testing.TB, c *iot.Client, in iot.ListThingsInput) []string {
	t.Helper()
	var names []string
	p := iot.NewListThingsPaginator(c, &in)
	for p.HasMorePages() {
		page, err := p.NextPage(thCtx)
		if err != nil {
			t.Fatalf("ListThings: %v", err)
		}
		for _, th := range page.Things {
			names = append(names, aws.ToString(th.ThingName))
		}
	}
	return names
}

func thListGroups(t testing.TB, c *iot.Client, in iot.ListThingGroupsInput) []string {
	t.Helper()
	var names []string
	p := iot.NewListThingGroupsPaginator(c, &in)
	for p.HasMorePages() {
		page, err := p.NextPage(thCtx)
		if err != nil {
			t.Fatalf("ListThingGroups: %v", err)
		}
		for _, g := range page.ThingGroups {
			names = append(names, aws.ToString(g.GroupName))
		}
	}
	return names
}

func thJoin(s []string) string { return strings.Join(s, ",") }

// thSnapshot renders every row of the thing tables, the tags and the
// change-log length, so a test can assert that a rejected request changed
// nothing at all.
func thSnapshot(t testing.TB, e *env) string {
	t.Helper()
	db := rawDB(t, e)
	var b strings.Builder
	for _, q := range []string{
		`SELECT account, region, name, id, thing_type_name, attributes, version, updated_at FROM things ORDER BY account, region, name`,
		`SELECT account, region, thing_name, attr_name, attr_value FROM thing_attributes ORDER BY 1, 2, 3, 4`,
		`SELECT account, region, name, parent_name, root_name, depth, description, attributes, dynamic, query_string, version FROM thing_groups ORDER BY seq`,
		`SELECT account, region, ancestor, descendant, distance FROM thing_group_ancestors ORDER BY 1, 2, 3, 4`,
		`SELECT account, region, group_name, thing_name, dynamic FROM thing_group_members ORDER BY seq`,
		`SELECT account, region, resource_arn, tag_key, tag_value FROM tags ORDER BY 1, 2, 3, 4`,
		`SELECT COUNT(*) FROM change_log`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// thChanges renders the change log of one resource as "Operation before -> after @actor" lines.
func thChanges(t testing.TB, e *env, arn string) []string {
	t.Helper()
	changes, err := e.store.Changes(thCtx, warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatalf("Changes(%s): %v", arn, err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, c.Operation+" "+c.Before+" -> "+c.After+" @"+c.Actor)
	}
	return out
}

// thChangeOps lists only the operations of a resource's change log.
func thChangeOps(t testing.TB, e *env, arn string) string {
	t.Helper()
	var ops []string
	for _, c := range thChanges(t, e, arn) {
		ops = append(ops, strings.SplitN(c, " ", 2)[0])
	}
	return thJoin(ops)
}

func thSorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func thJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
