package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestListMitigationActionsByType(t *testing.T) {
	e := newEnv(t)
	byType := map[types.MitigationActionType][]string{}
	var all []string
	for i, pc := range sixParams() {
		name := fmt.Sprintf("t%d", i)
		create(t, e.a, name, pc.params)
		byType[pc.typ] = append(byType[pc.typ], name)
		all = append(all, name)
	}
	create(t, e.a, "t6", sixParams()[2].params)
	byType[types.MitigationActionTypeAddThingsToThingGroup] = append(byType[types.MitigationActionTypeAddThingsToThingGroup], "t6")
	all = append(all, "t6")

	for _, typ := range types.MitigationActionType("").Values() {
		got := sortedCopy(listAll(t, e.a, typ))
		if want := sortedCopy(byType[typ]); !slices.Equal(got, want) {
			t.Errorf("actionType=%s: got %q, want %q", typ, got, want)
		}
	}
	if got, want := sortedCopy(listAll(t, e.a, "")), sortedCopy(all); !slices.Equal(got, want) {
		t.Errorf("no filter: got %q, want %q", got, want)
	}

	_, err := e.a.ListMitigationActions(context.Background(), &iot.ListMitigationActionsInput{ActionType: "DELETE_EVERYTHING"})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
}

func TestListMitigationActionsIdentifiers(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	for i := range 3 {
		create(t, e.a, fmt.Sprintf("n%d", i), deviceCertParams())
		time.Sleep(2 * time.Millisecond)
	}
	out, err := e.a.ListMitigationActions(context.Background(), &iot.ListMitigationActionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextToken != nil {
		t.Errorf("got nextToken %q with everything on one page, want none", *out.NextToken)
	}
	var names []string
	for _, id := range out.ActionIdentifiers {
		name := aws.ToString(id.ActionName)
		names = append(names, name)
		if got, want := aws.ToString(id.ActionArn), actionArn(accountA, region, name); got != want {
			t.Errorf("%s: got actionArn %q, want %q", name, got, want)
		}
		if got, want := aws.ToTime(id.CreationDate), aws.ToTime(describe(t, e.a, name).CreationDate); !got.Equal(want) {
			t.Errorf("%s: got creationDate %v, want Describe's %v", name, got, want)
		}
		if c := aws.ToTime(id.CreationDate); c.Before(before.Add(-2*time.Millisecond)) || c.After(time.Now()) {
			t.Errorf("%s: creationDate %v is not between %v and now", name, c, before)
		}
	}
	// store.go documents newest first, as the AWS CLI example shows.
	if want := []string{"n2", "n1", "n0"}; !slices.Equal(names, want) {
		t.Errorf("got order %q, want newest first %q", names, want)
	}
}

func TestListMitigationActionsMaxResults(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		create(t, e.a, fmt.Sprintf("m%02d", i), deviceCertParams())
	}
	ctx := context.Background()
	tests := []struct {
		maxResults *int32
		wantCount  int
		wantNext   bool
	}{
		{nil, 25, true}, // the documented default
		{aws.Int32(1), 1, true},
		{aws.Int32(29), 29, true},
		{aws.Int32(30), 30, false},
		{aws.Int32(250), 30, false},
	}
	for _, tc := range tests {
		out, err := e.a.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{MaxResults: tc.maxResults})
		if err != nil {
			t.Errorf("maxResults=%v: %v", aws.ToInt32(tc.maxResults), err)
			continue
		}
		if got := len(out.ActionIdentifiers); got != tc.wantCount {
			t.Errorf("maxResults=%v: got %d actions, want %d", aws.ToInt32(tc.maxResults), got, tc.wantCount)
		}
		if got := out.NextToken != nil; got != tc.wantNext {
			t.Errorf("maxResults=%v: got nextToken present=%v, want %v", aws.ToInt32(tc.maxResults), got, tc.wantNext)
		}
	}
	for _, bad := range []int32{0, -1, 251, 1000} {
		_, err := e.a.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{MaxResults: aws.Int32(bad)})
		t.Run(fmt.Sprint("maxResults=", bad), func(t *testing.T) {
			wantInvalidRequest(t, err, "maxResults")
		})
	}
	// Not a number at all: only raw HTTP can send it.
	r := e.call(t, "GET", "/mitigationactions/actions?maxResults=ten", nil)
	wantJSONError(t, r, "InvalidRequestException", http.StatusBadRequest)
}

func TestListMitigationActionsPaginator(t *testing.T) {
	tests := []struct {
		actions, limit int
		wantPages      []int
	}{
		{10, 3, []int{3, 3, 3, 1}},
		{9, 3, []int{3, 3, 3}}, // an exact multiple ends without an empty page
		{9, 4, []int{4, 4, 1}},
		{1, 1, []int{1}},
		{0, 5, []int{0}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d by %d", tc.actions, tc.limit), func(t *testing.T) {
			e := newEnv(t)
			var want []string
			for i := range tc.actions {
				name := fmt.Sprintf("p%02d", i)
				create(t, e.a, name, deviceCertParams())
				want = append([]string{name}, want...) // newest first
			}
			// Actions of another type and another account must not show up.
			create(t, e.a, "other-type", snsParams(topicArn))
			create(t, e.b, "other-account", deviceCertParams())

			p := iot.NewListMitigationActionsPaginator(e.a, &iot.ListMitigationActionsInput{
				ActionType: types.MitigationActionTypeUpdateDeviceCertificate,
			}, func(o *iot.ListMitigationActionsPaginatorOptions) { o.Limit = int32(tc.limit) })
			var got []string
			var pages []int
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatalf("page %d: %v", len(pages)+1, err)
				}
				pages = append(pages, len(page.ActionIdentifiers))
				for _, id := range page.ActionIdentifiers {
					got = append(got, aws.ToString(id.ActionName))
				}
				if len(pages) > 20 {
					t.Fatalf("paging does not end: pages %v", pages)
				}
			}
			if !slices.Equal(pages, tc.wantPages) {
				t.Errorf("got page sizes %v, want %v", pages, tc.wantPages)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestListMitigationActionsPagingWhileChanging adds and deletes actions
// between pages, including the last action a page returned (the one a naive
// cursor would point at), and checks that no action is skipped or repeated.
func TestListMitigationActionsPagingWhileChanging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 12 {
		create(t, e.a, fmt.Sprintf("c%02d", i), deviceCertParams())
	}
	del := func(name string) {
		t.Helper()
		if _, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	deleted := map[string]bool{}
	added := map[string]bool{}
	seen := map[string]int{}
	var order []string
	p := iot.NewListMitigationActionsPaginator(e.a, &iot.ListMitigationActionsInput{MaxResults: aws.Int32(3)})
	for page := 0; p.HasMorePages(); page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", page+1, err)
		}
		var last string
		for _, id := range out.ActionIdentifiers {
			name := aws.ToString(id.ActionName)
			seen[name]++
			order = append(order, name)
			last = name
		}
		switch page {
		case 0:
			del(last)  // the action the cursor is after
			del("c05") // one not reached yet
			deleted[last], deleted["c05"] = true, true
			for _, n := range []string{"new1", "new2"} {
				create(t, e.a, n, deviceCertParams())
				added[n] = true
			}
		case 1:
			del("c11") // one already returned
			create(t, e.a, "new3", deviceCertParams())
			added["new3"] = true
		case 2:
			del(last)
			create(t, e.a, last, deviceCertParams()) // re-created: now newer than the cursor
			added[last] = true
		}
		if page > 10 {
			t.Fatalf("paging does not end: %q", order)
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s returned %d times (order %q)", name, n, order)
		}
	}
	for i := range 12 {
		name := fmt.Sprintf("c%02d", i)
		switch {
		case name == "c05":
			if seen[name] != 0 {
				t.Errorf("%s was deleted before its page but was returned (order %q)", name, order)
			}
		case seen[name] == 0 && !deleted[name]:
			t.Errorf("%s was never returned (order %q)", name, order)
		}
	}
	for name := range seen {
		if !strings.HasPrefix(name, "c") && !added[name] {
			t.Errorf("unexpected action %s returned", name)
		}
	}
}

func TestListMitigationActionsBadNextToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 {
		create(t, e.a, fmt.Sprintf("a%d", i), deviceCertParams())
		create(t, e.b, fmt.Sprintf("b%d", i), deviceCertParams())
	}
	first := func(c *iot.Client, in iot.ListMitigationActionsInput) string {
		t.Helper()
		in.MaxResults = aws.Int32(1)
		out, err := c.ListMitigationActions(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		if out.NextToken == nil {
			t.Fatal("no nextToken after a page of 1 of 3")
		}
		return *out.NextToken
	}
	good := first(e.a, iot.ListMitigationActionsInput{})
	// The good token works.
	if _, err := e.a.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{NextToken: aws.String(good)}); err != nil {
		t.Fatalf("a genuine nextToken was refused: %v", err)
	}
	// A token is base64url of a 16-byte MAC followed by the cursor.
	enc := base64.RawURLEncoding
	raw, err := enc.DecodeString(good)
	if err != nil || len(raw) <= 16 {
		t.Fatalf("nextToken %q is not base64url of a MAC and a cursor", good)
	}
	mac, cursorBytes := raw[:16], raw[16:]
	cursor := enc.EncodeToString(cursorBytes)
	forgedCursor := enc.EncodeToString(append(append([]byte{}, mac...), "999999"...))
	madeUpMAC := enc.EncodeToString(append(make([]byte, 16), cursorBytes...))
	emptyCursor := enc.EncodeToString(mac)
	flipped := []byte(good)
	flipped[0] ^= 1

	euWest := e.clientIn(keyA, secretA, "eu-west-1")
	create(t, euWest, "eu0", deviceCertParams())
	create(t, euWest, "eu1", deviceCertParams())

	tests := []struct {
		name   string
		client *iot.Client
		in     iot.ListMitigationActionsInput
	}{
		{"garbage", e.a, iot.ListMitigationActionsInput{NextToken: aws.String("not a token!")}},
		{"no mac", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(cursor)}},
		{"forged cursor, genuine mac", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(forgedCursor)}},
		{"made-up mac", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(madeUpMAC)}},
		{"flipped byte", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(string(flipped))}},
		{"empty cursor", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(emptyCursor)}},
		{"other account's token", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(first(e.b, iot.ListMitigationActionsInput{}))}},
		{"token used by another account", e.b, iot.ListMitigationActionsInput{NextToken: aws.String(good)}},
		{"other region's token", e.a, iot.ListMitigationActionsInput{NextToken: aws.String(first(euWest, iot.ListMitigationActionsInput{}))}},
		{"token used in another region", euWest, iot.ListMitigationActionsInput{NextToken: aws.String(good)}},
		{"token of another filter", e.a, iot.ListMitigationActionsInput{
			NextToken: aws.String(good), ActionType: types.MitigationActionTypeUpdateDeviceCertificate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.ListMitigationActions(ctx, &tc.in)
			wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
		})
	}
}
