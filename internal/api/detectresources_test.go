package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
)

func customMetricArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":custommetric/" + name
}

func dimensionArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":dimension/" + name
}

func createCustomMetric(t *testing.T, c *iot.Client, name string, typ types.CustomMetricType, token string, tags ...types.Tag) *iot.CreateCustomMetricOutput {
	t.Helper()
	out, err := c.CreateCustomMetric(context.Background(), &iot.CreateCustomMetricInput{MetricName: aws.String(name), MetricType: typ,
		DisplayName: aws.String("display " + name), ClientRequestToken: aws.String(token), Tags: tags})
	if err != nil {
		t.Fatalf("CreateCustomMetric(%s): %v", name, err)
	}
	return out
}

func createDimension(t *testing.T, c *iot.Client, name, token string, values []string, tags ...types.Tag) *iot.CreateDimensionOutput {
	t.Helper()
	out, err := c.CreateDimension(context.Background(), &iot.CreateDimensionInput{Name: aws.String(name), Type: types.DimensionTypeTopicFilter,
		StringValues: values, ClientRequestToken: aws.String(token), Tags: tags})
	if err != nil {
		t.Fatalf("CreateDimension(%s): %v", name, err)
	}
	return out
}

// detectState is everything account A's custom metrics and dimensions
// show (with tags) and the change-log head: equal before and after a
// refused request when it changed nothing.
func detectState(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, name := range listCustomMetrics(t, e.a, 250) {
		d, err := e.a.DescribeCustomMetric(e.ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "metric %s %s %s %q %v %v tags=%s\n", aws.ToString(d.MetricName), aws.ToString(d.MetricArn), d.MetricType,
			aws.ToString(d.DisplayName), d.CreationDate.UnixMilli(), d.LastModifiedDate.UnixMilli(),
			tagsString(listTags(t, e.a, aws.ToString(d.MetricArn))))
	}
	for _, name := range listDimensions(t, e.a, 250) {
		d, err := e.a.DescribeDimension(e.ctx, &iot.DescribeDimensionInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "dimension %s %s %s %q %v %v tags=%s\n", aws.ToString(d.Name), aws.ToString(d.Arn), d.Type,
			d.StringValues, d.CreationDate.UnixMilli(), d.LastModifiedDate.UnixMilli(), tagsString(listTags(t, e.a, aws.ToString(d.Arn))))
	}
	head, err := e.store.ChangeLogHead(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "change log head %d", head)
	return b.String()
}

func listCustomMetrics(t *testing.T, c *iot.Client, pageSize int32) []string {
	t.Helper()
	var names []string
	p := iot.NewListCustomMetricsPaginator(c, &iot.ListCustomMetricsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListCustomMetrics: %v", err)
		}
		if len(page.MetricNames) > int(pageSize) {
			t.Fatalf("ListCustomMetrics page of %d names, asked for %d", len(page.MetricNames), pageSize)
		}
		names = append(names, page.MetricNames...)
	}
	return names
}

func listDimensions(t *testing.T, c *iot.Client, pageSize int32) []string {
	t.Helper()
	var names []string
	p := iot.NewListDimensionsPaginator(c, &iot.ListDimensionsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListDimensions: %v", err)
		}
		if len(page.DimensionNames) > int(pageSize) {
			t.Fatalf("ListDimensions page of %d names, asked for %d", len(page.DimensionNames), pageSize)
		}
		names = append(names, page.DimensionNames...)
	}
	return names
}

// wantChangeOps checks the change-log operations recorded under arn.
func wantChangeOps(t *testing.T, e *env, arn string, want ...string) {
	t.Helper()
	changes, err := e.store.Changes(e.ctx, warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Operation)
		if c.Actor != keyA {
			t.Errorf("change %s of %s by %q, want %s", c.Operation, arn, c.Actor, keyA)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changes of %s = %q, want %q", arn, got, want)
	}
}

// wantRecent checks that a wire timestamp lies in [lo, hi], with the
// store's millisecond precision.
func wantRecent(t *testing.T, what string, got time.Time, lo, hi time.Time) {
	t.Helper()
	if got.Before(lo.Add(-2*time.Millisecond)) || got.After(hi.Add(2*time.Millisecond)) {
		t.Errorf("%s = %v, want between %v and %v", what, got, lo, hi)
	}
}

// refusal is a request that must fail with code (none: succeed) and a
// message holding want, changing nothing.
type refusal struct {
	why  string
	call func() error
	code string
	want string
}

// wantRefusals runs each refusal and checks that the state is still state.
func wantRefusals(t *testing.T, e *env, state string, rs []refusal) {
	t.Helper()
	for _, tc := range rs {
		err := tc.call()
		if tc.code == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.why, err)
			}
		} else {
			wantCode(t, err, tc.code, map[string]int{"InvalidRequestException": 400, "ResourceNotFoundException": 404}[tc.code])
			if !strings.Contains(errorMessage(err), tc.want) {
				t.Errorf("%s: message %q does not mention %q", tc.why, errorMessage(err), tc.want)
			}
		}
		if got := detectState(t, e); got != state {
			t.Fatalf("%s changed the state:\n%s\nwant\n%s", tc.why, got, state)
		}
	}
}

func TestCustomMetricLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	before := time.Now()
	out := createCustomMetric(t, e.a, "battery_level", types.CustomMetricTypeNumber, "token-1", tag("team", "fleet"))
	created := time.Now()
	arn := customMetricArn(accountA, "battery_level")
	if aws.ToString(out.MetricName) != "battery_level" || aws.ToString(out.MetricArn) != arn {
		t.Fatalf("CreateCustomMetric = %s, %s; want battery_level, %s", aws.ToString(out.MetricName), aws.ToString(out.MetricArn), arn)
	}
	d, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("battery_level")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.MetricName) != "battery_level" || aws.ToString(d.MetricArn) != arn || d.MetricType != types.CustomMetricTypeNumber ||
		aws.ToString(d.DisplayName) != "display battery_level" {
		t.Fatalf("DescribeCustomMetric = %+v", d)
	}
	wantRecent(t, "creationDate", aws.ToTime(d.CreationDate), before, created)
	if !aws.ToTime(d.LastModifiedDate).Equal(aws.ToTime(d.CreationDate)) {
		t.Errorf("lastModifiedDate %v, want creationDate %v", d.LastModifiedDate, d.CreationDate)
	}
	// Timestamps are epoch seconds (JSON numbers) on the wire.
	raw := wantOK(t, e.call(t, http.MethodGet, "/custom-metric/battery_level", nil))
	for _, member := range []string{"creationDate", "lastModifiedDate"} {
		n, ok := raw[member].(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || f < float64(before.Unix()-1) || f > float64(created.Unix()+1) {
			t.Errorf("wire %s = %#v, want epoch seconds", member, raw[member])
		}
	}
	if got := tagsString(listTags(t, e.a, arn)); got != "team=fleet" {
		t.Errorf("tags = %s, want team=fleet", got)
	}

	time.Sleep(5 * time.Millisecond)
	updateStart := time.Now()
	u, err := e.a.UpdateCustomMetric(ctx, &iot.UpdateCustomMetricInput{MetricName: aws.String("battery_level"), DisplayName: aws.String("Battery %")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(u.DisplayName) != "Battery %" || u.MetricType != types.CustomMetricTypeNumber || aws.ToString(u.MetricArn) != arn ||
		!aws.ToTime(u.CreationDate).Equal(aws.ToTime(d.CreationDate)) {
		t.Fatalf("UpdateCustomMetric = %+v", u)
	}
	wantRecent(t, "lastModifiedDate after update", aws.ToTime(u.LastModifiedDate), updateStart, time.Now())
	d2, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("battery_level")})
	if err != nil || aws.ToString(d2.DisplayName) != "Battery %" || !aws.ToTime(d2.LastModifiedDate).Equal(aws.ToTime(u.LastModifiedDate)) {
		t.Fatalf("DescribeCustomMetric after update = %+v, %v", d2, err)
	}

	if _, err := e.a.DeleteCustomMetric(ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("battery_level")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("battery_level")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	// Deleting what does not exist succeeds and logs nothing.
	if _, err := e.a.DeleteCustomMetric(ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("battery_level")}); err != nil {
		t.Fatalf("DeleteCustomMetric of a deleted metric: %v", err)
	}
	wantChangeOps(t, e, arn, "CreateCustomMetric", "UpdateCustomMetric", "DeleteCustomMetric")

	// The name is free again, and the type can differ.
	createCustomMetric(t, e.a, "battery_level", types.CustomMetricTypeNumberList, "token-2")
	d3, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("battery_level")})
	if err != nil || d3.MetricType != types.CustomMetricTypeNumberList || len(listTags(t, e.a, arn)) != 0 {
		t.Fatalf("re-created metric = %+v, %v (tags %v)", d3, err, listTags(t, e.a, arn))
	}
}

func TestCustomMetricEachType(t *testing.T) {
	e := newEnv(t)
	for _, typ := range types.CustomMetricType("").Values() {
		name := "m_" + strings.ReplaceAll(string(typ), "-", "_")
		createCustomMetric(t, e.a, name, typ, "t-"+name)
		d, err := e.a.DescribeCustomMetric(e.ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String(name)})
		if err != nil || d.MetricType != typ {
			t.Fatalf("DescribeCustomMetric(%s) = %+v, %v; want type %s", name, d, err, typ)
		}
	}
	// displayName is optional.
	if _, err := e.a.CreateCustomMetric(e.ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("plain"),
		MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("t-plain")}); err != nil {
		t.Fatal(err)
	}
	raw := wantOK(t, e.call(t, http.MethodGet, "/custom-metric/plain", nil))
	if _, present := raw["displayName"]; present {
		t.Errorf("DescribeCustomMetric of a metric without displayName: %v", raw)
	}
}

func TestCustomMetricCreateIsIdempotentByToken(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	first := createCustomMetric(t, e.a, "temp", types.CustomMetricTypeNumber, "token-a", tag("k", "v"))
	d1, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("temp")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	retry := createCustomMetric(t, e.a, "temp", types.CustomMetricTypeNumber, "token-a", tag("k", "v"))
	if aws.ToString(retry.MetricArn) != aws.ToString(first.MetricArn) || aws.ToString(retry.MetricName) != "temp" {
		t.Fatalf("retried CreateCustomMetric = %+v, want %+v", retry, first)
	}
	d2, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("temp")})
	if err != nil || !aws.ToTime(d2.CreationDate).Equal(aws.ToTime(d1.CreationDate)) {
		t.Fatalf("after a retry creationDate %v, want %v (%v)", d2.CreationDate, d1.CreationDate, err)
	}
	state := detectState(t, e)
	for _, tc := range []struct {
		why   string
		in    iot.CreateCustomMetricInput
		token string
	}{
		{"another token", iot.CreateCustomMetricInput{MetricType: types.CustomMetricTypeNumber, DisplayName: aws.String("display temp")}, "token-b"},
		{"the same token and another type", iot.CreateCustomMetricInput{MetricType: types.CustomMetricTypeStringList, DisplayName: aws.String("display temp")}, "token-a"},
		{"the same token and another display name", iot.CreateCustomMetricInput{MetricType: types.CustomMetricTypeNumber, DisplayName: aws.String("other")}, "token-a"},
		// The SDK fills in a fresh token when none is given.
		{"no token", iot.CreateCustomMetricInput{MetricType: types.CustomMetricTypeNumber, DisplayName: aws.String("display temp")}, ""},
	} {
		in := tc.in
		in.MetricName = aws.String("temp")
		if tc.token != "" {
			in.ClientRequestToken = aws.String(tc.token)
		}
		_, err := e.a.CreateCustomMetric(ctx, &in)
		wantCode(t, err, "ResourceAlreadyExistsException", 409)
		if got := detectState(t, e); got != state {
			t.Fatalf("CreateCustomMetric with %s changed the state:\n%s\nwant\n%s", tc.why, got, state)
		}
	}
	wantChangeOps(t, e, customMetricArn(accountA, "temp"), "CreateCustomMetric")
	// A token is the account's: account B's create of the name is its own.
	createCustomMetric(t, e.b, "temp", types.CustomMetricTypeNumber, "token-a")
}

func TestCustomMetricRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	createCustomMetric(t, e.a, "kept", types.CustomMetricTypeNumber, "token-kept", tag("k", "v"))
	state := detectState(t, e)
	tooManyTags := make([]types.Tag, warden.MaxTagsPerResource+1)
	for i := range tooManyTags {
		tooManyTags[i] = tag(fmt.Sprint("k", i), "v")
	}
	wantRefusals(t, e, state, []refusal{
		{"an aws: name", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("aws:battery"),
				MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("t1")})
			return err
		}, "InvalidRequestException", "aws:"},
		{"an unknown type", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("m"),
				MetricType: "boolean", ClientRequestToken: aws.String("t2")})
			return err
		}, "InvalidRequestException", "metricType"},
		{"a display name of 129 characters", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("m"),
				MetricType: types.CustomMetricTypeNumber, DisplayName: aws.String(strings.Repeat("d", 129)), ClientRequestToken: aws.String("t3")})
			return err
		}, "InvalidRequestException", "displayName"},
		{"a name outside the pattern", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("bad.name"),
				MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("t4")})
			return err
		}, "InvalidRequestException", "metricName"},
		{"a token outside the pattern", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("m"),
				MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("bad token")})
			return err
		}, "InvalidRequestException", "clientRequestToken"},
		{"too many tags", func() error {
			_, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("m"),
				MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("t5"), Tags: tooManyTags})
			return err
		}, "InvalidRequestException", "tags"},
		{"describe of a missing metric", func() error {
			_, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("missing")})
			return err
		}, "ResourceNotFoundException", "missing"},
		{"update of a missing metric", func() error {
			_, err := e.a.UpdateCustomMetric(ctx, &iot.UpdateCustomMetricInput{MetricName: aws.String("missing"), DisplayName: aws.String("x")})
			return err
		}, "ResourceNotFoundException", "missing"},
		{"an update's display name of 129 characters", func() error {
			_, err := e.a.UpdateCustomMetric(ctx, &iot.UpdateCustomMetricInput{MetricName: aws.String("kept"), DisplayName: aws.String(strings.Repeat("d", 129))})
			return err
		}, "InvalidRequestException", "displayName"},
		{"describe from another account", func() error {
			_, err := e.b.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("kept")})
			return err
		}, "ResourceNotFoundException", "kept"},
		{"delete from another account", func() error {
			_, err := e.b.DeleteCustomMetric(ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("kept")})
			return err
		}, "", ""},
		{"tagging from another account", func() error {
			_, err := e.b.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(customMetricArn(accountA, "kept")), Tags: []types.Tag{tag("x", "y")}})
			return err
		}, "ResourceNotFoundException", ""},
		{"a list page of 251", func() error {
			_, err := e.a.ListCustomMetrics(ctx, &iot.ListCustomMetricsInput{MaxResults: aws.Int32(251)})
			return err
		}, "InvalidRequestException", "maxResults"},
	})
}

func TestCustomMetricListPages(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 5; i >= 1; i-- {
		name := fmt.Sprintf("metric_%d", i)
		createCustomMetric(t, e.a, name, types.CustomMetricTypeNumber, "t"+name)
		want = append([]string{name}, want...)
	}
	for _, size := range []int32{1, 2, 5, 250} {
		if got := listCustomMetrics(t, e.a, size); !slices.Equal(got, want) {
			t.Errorf("ListCustomMetrics by %d = %q, want %q", size, got, want)
		}
	}
	page, err := e.a.ListCustomMetrics(e.ctx, &iot.ListCustomMetricsInput{MaxResults: aws.Int32(2)})
	if err != nil || len(page.MetricNames) != 2 || page.NextToken == nil {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	// Deleting a listed name does not shift the next page.
	if _, err := e.a.DeleteCustomMetric(e.ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("metric_1")}); err != nil {
		t.Fatal(err)
	}
	next, err := e.a.ListCustomMetrics(e.ctx, &iot.ListCustomMetricsInput{MaxResults: aws.Int32(2), NextToken: page.NextToken})
	if err != nil || !slices.Equal(next.MetricNames, []string{"metric_3", "metric_4"}) {
		t.Fatalf("second page = %+v, %v", next, err)
	}
	// Another account sees none of them, nor can it use the token.
	if got := listCustomMetrics(t, e.b, 10); len(got) != 0 {
		t.Errorf("account B lists %q", got)
	}
	_, err = e.b.ListCustomMetrics(e.ctx, &iot.ListCustomMetricsInput{MaxResults: aws.Int32(2), NextToken: page.NextToken})
	wantCode(t, err, "InvalidRequestException", 400)
	// A token is the operation's: ListDimensions refuses it.
	_, err = e.a.ListDimensions(e.ctx, &iot.ListDimensionsInput{MaxResults: aws.Int32(2), NextToken: page.NextToken})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestDimensionLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	values := []string{"devices/${iot:ClientId}/telemetry", "fleet/+/status", "alerts/#", "#", "+", "a//b"}
	before := time.Now()
	out := createDimension(t, e.a, "TopicFilterForAuthMessages", "token-1", values, tag("team", "fleet"))
	created := time.Now()
	arn := dimensionArn(accountA, "TopicFilterForAuthMessages")
	if aws.ToString(out.Name) != "TopicFilterForAuthMessages" || aws.ToString(out.Arn) != arn {
		t.Fatalf("CreateDimension = %s, %s; want %s", aws.ToString(out.Name), aws.ToString(out.Arn), arn)
	}
	d, err := e.a.DescribeDimension(ctx, &iot.DescribeDimensionInput{Name: aws.String("TopicFilterForAuthMessages")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Name) != "TopicFilterForAuthMessages" || aws.ToString(d.Arn) != arn || d.Type != types.DimensionTypeTopicFilter ||
		!slices.Equal(d.StringValues, values) {
		t.Fatalf("DescribeDimension = %+v", d)
	}
	wantRecent(t, "creationDate", aws.ToTime(d.CreationDate), before, created)
	if !aws.ToTime(d.LastModifiedDate).Equal(aws.ToTime(d.CreationDate)) {
		t.Errorf("lastModifiedDate %v, want creationDate %v", d.LastModifiedDate, d.CreationDate)
	}
	raw := wantOK(t, e.call(t, http.MethodGet, "/dimensions/TopicFilterForAuthMessages", nil))
	if _, ok := raw["creationDate"].(json.Number); !ok {
		t.Errorf("wire creationDate = %#v, want epoch seconds", raw["creationDate"])
	}
	if got := tagsString(listTags(t, e.a, arn)); got != "team=fleet" {
		t.Errorf("tags = %s, want team=fleet", got)
	}

	time.Sleep(5 * time.Millisecond)
	updateStart := time.Now()
	replaced := []string{"only/this"}
	u, err := e.a.UpdateDimension(ctx, &iot.UpdateDimensionInput{Name: aws.String("TopicFilterForAuthMessages"), StringValues: replaced})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.StringValues, replaced) || u.Type != types.DimensionTypeTopicFilter || aws.ToString(u.Arn) != arn ||
		!aws.ToTime(u.CreationDate).Equal(aws.ToTime(d.CreationDate)) {
		t.Fatalf("UpdateDimension = %+v", u)
	}
	wantRecent(t, "lastModifiedDate after update", aws.ToTime(u.LastModifiedDate), updateStart, time.Now())
	d2, err := e.a.DescribeDimension(ctx, &iot.DescribeDimensionInput{Name: aws.String("TopicFilterForAuthMessages")})
	if err != nil || !slices.Equal(d2.StringValues, replaced) {
		t.Fatalf("DescribeDimension after update = %+v, %v", d2, err)
	}

	if _, err := e.a.DeleteDimension(ctx, &iot.DeleteDimensionInput{Name: aws.String("TopicFilterForAuthMessages")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DescribeDimension(ctx, &iot.DescribeDimensionInput{Name: aws.String("TopicFilterForAuthMessages")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if _, err := e.a.DeleteDimension(ctx, &iot.DeleteDimensionInput{Name: aws.String("TopicFilterForAuthMessages")}); err != nil {
		t.Fatalf("DeleteDimension of a deleted dimension: %v", err)
	}
	wantChangeOps(t, e, arn, "CreateDimension", "UpdateDimension", "DeleteDimension")
}

func TestDimensionCreateIsIdempotentByToken(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	values := []string{"a/b", "c/+"}
	first := createDimension(t, e.a, "dim", "token-a", values)
	time.Sleep(5 * time.Millisecond)
	retry := createDimension(t, e.a, "dim", "token-a", values)
	if aws.ToString(retry.Arn) != aws.ToString(first.Arn) {
		t.Fatalf("retried CreateDimension = %+v, want %+v", retry, first)
	}
	state := detectState(t, e)
	for _, tc := range []struct {
		why    string
		token  *string
		values []string
	}{
		{"another token", aws.String("token-b"), values},
		{"the same token and other values", aws.String("token-a"), []string{"a/b"}},
		{"the same token and the values reordered", aws.String("token-a"), []string{"c/+", "a/b"}},
		{"no token (the SDK makes one)", nil, values},
	} {
		_, err := e.a.CreateDimension(ctx, &iot.CreateDimensionInput{Name: aws.String("dim"), Type: types.DimensionTypeTopicFilter,
			StringValues: tc.values, ClientRequestToken: tc.token})
		wantCode(t, err, "ResourceAlreadyExistsException", 409)
		if got := detectState(t, e); got != state {
			t.Fatalf("CreateDimension with %s changed the state:\n%s\nwant\n%s", tc.why, got, state)
		}
	}
	wantChangeOps(t, e, dimensionArn(accountA, "dim"), "CreateDimension")
}

func TestDimensionRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	createDimension(t, e.a, "kept", "token-kept", []string{"kept/+"}, tag("k", "v"))
	state := detectState(t, e)
	hundredAndOne := make([]string, 101)
	for i := range hundredAndOne {
		hundredAndOne[i] = fmt.Sprint("t/", i)
	}
	create := func(values []string, typ types.DimensionType) func() error {
		return func() error {
			_, err := e.a.CreateDimension(ctx, &iot.CreateDimensionInput{Name: aws.String("new"), Type: typ,
				StringValues: values, ClientRequestToken: aws.String("t")})
			return err
		}
	}
	update := func(name string, values []string) func() error {
		return func() error {
			_, err := e.a.UpdateDimension(ctx, &iot.UpdateDimensionInput{Name: aws.String(name), StringValues: values})
			return err
		}
	}
	wantRefusals(t, e, state, []refusal{
		{"# not last", create([]string{"a/#/b"}, types.DimensionTypeTopicFilter), "InvalidRequestException", "#"},
		{"# inside a level", create([]string{"a/b#"}, types.DimensionTypeTopicFilter), "InvalidRequestException", "#"},
		{"+ inside a level", create([]string{"ok", "a+/b"}, types.DimensionTypeTopicFilter), "InvalidRequestException", "stringValues.2"},
		{"another substitution", create([]string{"a/${iot:Connection.Thing.ThingName}"}, types.DimensionTypeTopicFilter), "InvalidRequestException", "${iot:ClientId}"},
		{"no values", create([]string{}, types.DimensionTypeTopicFilter), "InvalidRequestException", "stringValues"},
		{"101 values", create(hundredAndOne, types.DimensionTypeTopicFilter), "InvalidRequestException", "stringValues"},
		{"an empty value", create([]string{""}, types.DimensionTypeTopicFilter), "InvalidRequestException", "stringValues"},
		{"a value of 257 characters", create([]string{strings.Repeat("a", 257)}, types.DimensionTypeTopicFilter), "InvalidRequestException", "stringValues"},
		{"another type", create([]string{"a"}, "CLIENT_ID"), "InvalidRequestException", "type"},
		{"an update with + inside a level", update("kept", []string{"x+"}), "InvalidRequestException", "+"},
		{"an update with no values", update("kept", []string{}), "InvalidRequestException", "stringValues"},
		{"an update of a missing dimension", update("missing", []string{"a"}), "ResourceNotFoundException", "missing"},
		{"describe of a missing dimension", func() error {
			_, err := e.a.DescribeDimension(ctx, &iot.DescribeDimensionInput{Name: aws.String("missing")})
			return err
		}, "ResourceNotFoundException", "missing"},
		{"describe from another account", func() error {
			_, err := e.b.DescribeDimension(ctx, &iot.DescribeDimensionInput{Name: aws.String("kept")})
			return err
		}, "ResourceNotFoundException", "kept"},
		{"delete from another account", func() error {
			_, err := e.b.DeleteDimension(ctx, &iot.DeleteDimensionInput{Name: aws.String("kept")})
			return err
		}, "", ""},
		{"untagging from another account", func() error {
			_, err := e.b.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(dimensionArn(accountA, "kept")), TagKeys: []string{"k"}})
			return err
		}, "ResourceNotFoundException", ""},
	})
}

func TestDimensionListPages(t *testing.T) {
	e := newEnv(t)
	want := []string{"d_a", "d_b", "d_c", "d_d"}
	for _, name := range []string{"d_c", "d_a", "d_d", "d_b"} {
		createDimension(t, e.a, name, "t"+name, []string{"x"})
	}
	for _, size := range []int32{1, 3, 4, 250} {
		if got := listDimensions(t, e.a, size); !slices.Equal(got, want) {
			t.Errorf("ListDimensions by %d = %q, want %q", size, got, want)
		}
	}
	if got := listDimensions(t, e.b, 10); len(got) != 0 {
		t.Errorf("account B lists %q", got)
	}
	_, err := e.a.ListDimensions(e.ctx, &iot.ListDimensionsInput{MaxResults: aws.Int32(0)})
	wantCode(t, err, "InvalidRequestException", 400)
}

// Deleting a custom metric drops the datapoints devices reported for it,
// and no other metric's.
func TestCustomMetricDeleteDropsItsDatapoints(t *testing.T) {
	e := newEnv(t)
	createCustomMetric(t, e.a, "gone", types.CustomMetricTypeNumber, "t1")
	db := rawDB(t, e)
	for _, metric := range []string{"gone", "kept"} {
		if _, err := db.Exec(`INSERT INTO detect_metric_values (account, region, thing_name, metric, at, value)
			VALUES ('` + accountA + `', '` + region + `', 'thing1', '` + metric + `', 1, '{"number":1}')`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.a.DeleteCustomMetric(e.ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT metric FROM detect_metric_values ORDER BY metric`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var left []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		left = append(left, m)
	}
	if !slices.Equal(left, []string{"kept"}) {
		t.Fatalf("datapoints left after DeleteCustomMetric: %q, want only kept's", left)
	}
}

// Custom metric and dimension ARNs take tags like any taggable resource.
func TestCustomMetricAndDimensionTags(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	createCustomMetric(t, e.a, "m", types.CustomMetricTypeStringList, "tm")
	createDimension(t, e.a, "d", "td", []string{"a"})
	for _, arn := range []string{customMetricArn(accountA, "m"), dimensionArn(accountA, "d")} {
		if _, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("a", "1"), tag("b", "2")}}); err != nil {
			t.Fatalf("TagResource(%s): %v", arn, err)
		}
		if _, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a"}}); err != nil {
			t.Fatalf("UntagResource(%s): %v", arn, err)
		}
		if got := tagsString(listTags(t, e.a, arn)); got != "b=2" {
			t.Errorf("tags of %s = %s, want b=2", arn, got)
		}
	}
	for _, arn := range []string{customMetricArn(accountA, "missing"), dimensionArn(accountA, "missing")} {
		_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("a", "1")}})
		wantCode(t, err, "ResourceNotFoundException", 404)
	}
}
