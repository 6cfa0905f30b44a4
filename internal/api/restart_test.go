package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestRestartKeepsEverything closes the server and the store and opens them
// again on the same data directory, as a process restart would.
func TestRestartKeepsEverything(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var names []string
	for i, pc := range sixParams() {
		name := fmt.Sprintf("r%d", i)
		create(t, e.a, name, pc.params, tag("i", fmt.Sprint(i)), tag("type", string(pc.typ)))
		names = append(names, name)
	}
	if _, err := e.a.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{
		ActionName: aws.String("r0"), RoleArn: aws.String(roleArn2), ActionParams: snsParams(topicArn),
	}); err != nil {
		t.Fatal(err)
	}
	create(t, e.b, "b-only", deviceCertParams(), tag("owner", "b"))

	snapshot := func() map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m["A/"+n] = describeString(describe(t, e.a, n)) + " tags=" + tagsString(listTags(t, e.a, actionArn(accountA, region, n)))
		}
		m["B/b-only"] = describeString(describe(t, e.b, "b-only")) + " tags=" + tagsString(listTags(t, e.b, actionArn(accountB, region, "b-only")))
		m["list A"] = fmt.Sprint(listAll(t, e.a, ""))
		m["list A sns"] = fmt.Sprint(listAll(t, e.a, types.MitigationActionTypePublishFindingToSns))
		m["list B"] = fmt.Sprint(listAll(t, e.b, ""))
		return m
	}
	before := snapshot()
	// A nextToken handed out before the restart must still work after it:
	// the sealing key lives in the store.
	page, err := e.a.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{MaxResults: aws.Int32(2)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page: %v, nextToken %v", err, page.NextToken)
	}
	var rest []string
	for _, id := range page.ActionIdentifiers {
		rest = append(rest, aws.ToString(id.ActionName))
	}

	e.restart()

	after := snapshot()
	for k, want := range before {
		if got := after[k]; got != want {
			t.Errorf("%s changed across the restart:\ngot  %s\nwant %s", k, got, want)
		}
	}
	p := iot.NewListMitigationActionsPaginator(e.a, &iot.ListMitigationActionsInput{NextToken: page.NextToken, MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("paging with a token from before the restart: %v", err)
		}
		for _, id := range out.ActionIdentifiers {
			rest = append(rest, aws.ToString(id.ActionName))
		}
	}
	if want := listAll(t, e.a, ""); !slices.Equal(rest, want) {
		t.Errorf("paging across the restart: got %q, want %q", rest, want)
	}
	// The restarted server still enforces the rules on the stored data.
	_, err = e.a.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
		ActionName: aws.String("r1"), RoleArn: aws.String(roleArn2), ActionParams: deviceCertParams(),
	})
	wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
	again := create(t, e.a, "r3", sixParams()[3].params)
	if got, want := aws.ToString(again.ActionId), aws.ToString(describe(t, e.a, "r3").ActionId); got != want {
		t.Errorf("identical re-create after restart: got actionId %s, want %s", got, want)
	}
}
