package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// customMetrics: a create with the same token and request returns the
// stored metric, any other create of the name is ResourceAlreadyExists;
// update changes the display name only; delete takes the tags and is
// idempotent; lists page in name order; every change is logged; metrics
// stay in their scope.
func customMetrics(t *testing.T, st warden.Store) {
	tags := []warden.Tag{{Key: "k", Value: "v"}}
	for _, name := range []string{"m3", "m1", "m2"} {
		m, err := st.CreateCustomMetric(ctx, scope, warden.CustomMetric{Name: name, Type: warden.CustomMetricNumber, DisplayName: "d " + name},
			tags, "token-"+name, t0)
		must(t, err)
		if m.Arn != "arn:aws:iot:us-east-1:123456789012:custommetric/"+name || !m.CreationDate.Equal(t0) || !m.LastModifiedDate.Equal(t0) {
			t.Fatalf("CreateCustomMetric(%s) = %+v", name, m)
		}
	}
	retry, err := st.CreateCustomMetric(ctx, scope, warden.CustomMetric{Name: "m1", Type: warden.CustomMetricNumber, DisplayName: "d m1"},
		nil, "token-m1", t0.Add(time.Hour))
	if err != nil || !retry.CreationDate.Equal(t0) {
		t.Fatalf("CreateCustomMetric retried = %+v, %v; want the stored metric", retry, err)
	}
	for what, m := range map[string]warden.CustomMetric{
		"another token":        {Name: "m1", Type: warden.CustomMetricNumber, DisplayName: "d m1"},
		"another type":         {Name: "m1", Type: warden.CustomMetricStringList, DisplayName: "d m1"},
		"another display name": {Name: "m1", Type: warden.CustomMetricNumber, DisplayName: "other"},
	} {
		token := "token-m1"
		if what == "another token" {
			token = "token-other"
		}
		_, err := st.CreateCustomMetric(ctx, scope, m, nil, token, t0)
		wantCode(t, "CreateCustomMetric of a taken name with "+what, err, warden.CodeResourceAlreadyExists)
	}
	got, err := st.CustomMetric(ctx, scope, "m1")
	if err != nil || got.Type != warden.CustomMetricNumber || got.DisplayName != "d m1" || got.Arn != warden.CustomMetricARN(scope, "m1") {
		t.Fatalf("CustomMetric(m1) = %+v, %v", got, err)
	}
	_, err = st.CustomMetric(ctx, scope, "missing")
	wantCode(t, "CustomMetric(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "CustomMetric", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.CustomMetric(ctx, s, "m1")
		return err
	})
	emptyElsewhere(t, "CustomMetrics", func(s warden.Scope) ([]string, error) {
		names, _, err := st.CustomMetrics(ctx, s, warden.Page{Limit: 10})
		return names, err
	})
	wantNames(t, "CustomMetrics", walk(t, 2, func(p warden.Page) ([]string, string, error) { return st.CustomMetrics(ctx, scope, p) }),
		"m1", "m2", "m3")

	updated, err := st.UpdateCustomMetric(ctx, scope, "m1", "renamed", t0.Add(time.Minute))
	if err != nil || updated.DisplayName != "renamed" || updated.Type != warden.CustomMetricNumber ||
		!updated.CreationDate.Equal(t0) || !updated.LastModifiedDate.Equal(t0.Add(time.Minute)) {
		t.Fatalf("UpdateCustomMetric = %+v, %v", updated, err)
	}
	if got, _ := st.CustomMetric(ctx, scope, "m1"); got != updated {
		t.Fatalf("CustomMetric after update = %+v, want %+v", got, updated)
	}
	_, err = st.UpdateCustomMetric(ctx, scope, "missing", "x", t0)
	wantCode(t, "UpdateCustomMetric(missing)", err, warden.CodeResourceNotFound)

	arn := warden.CustomMetricARN(scope, "m1")
	wantTags(t, st, arn, tags)
	must(t, st.TagResource(ctx, scope, arn, []warden.Tag{{Key: "k2", Value: "v2"}}))
	must(t, st.DeleteCustomMetric(ctx, scope, "m1", t0.Add(2*time.Minute)))
	must(t, st.DeleteCustomMetric(ctx, scope, "m1", t0.Add(2*time.Minute)))
	_, err = st.CustomMetric(ctx, scope, "m1")
	wantCode(t, "CustomMetric after delete", err, warden.CodeResourceNotFound)
	_, _, err = st.Tags(ctx, scope, arn, warden.Page{Limit: 10})
	wantCode(t, "Tags of a deleted custom metric", err, warden.CodeResourceNotFound)
	// A new metric of the name starts without the old one's tags.
	_, err = st.CreateCustomMetric(ctx, scope, warden.CustomMetric{Name: "m1", Type: warden.CustomMetricIPAddressList}, nil, "token-again", t0)
	must(t, err)
	wantTags(t, st, arn, nil)
	wantChanges(t, st, arn, "CreateCustomMetric", "UpdateCustomMetric", "DeleteCustomMetric", "CreateCustomMetric")
}

// dimensions: as customMetrics, with string values instead of a display
// name.
func dimensions(t *testing.T, st warden.Store) {
	tags := []warden.Tag{{Key: "k", Value: "v"}}
	values := []string{"a/+/b", "c/#"}
	for _, name := range []string{"d2", "d1", "d3"} {
		d, err := st.CreateDimension(ctx, scope, warden.Dimension{Name: name, Type: warden.DimensionTopicFilter, StringValues: values},
			tags, "token-"+name, t0)
		must(t, err)
		if d.Arn != "arn:aws:iot:us-east-1:123456789012:dimension/"+name || !d.CreationDate.Equal(t0) || !equal(d.StringValues, values) {
			t.Fatalf("CreateDimension(%s) = %+v", name, d)
		}
	}
	retry, err := st.CreateDimension(ctx, scope, warden.Dimension{Name: "d1", Type: warden.DimensionTopicFilter, StringValues: values},
		nil, "token-d1", t0.Add(time.Hour))
	if err != nil || !retry.CreationDate.Equal(t0) {
		t.Fatalf("CreateDimension retried = %+v, %v; want the stored dimension", retry, err)
	}
	_, err = st.CreateDimension(ctx, scope, warden.Dimension{Name: "d1", Type: warden.DimensionTopicFilter, StringValues: values},
		nil, "token-other", t0)
	wantCode(t, "CreateDimension of a taken name with another token", err, warden.CodeResourceAlreadyExists)
	_, err = st.CreateDimension(ctx, scope, warden.Dimension{Name: "d1", Type: warden.DimensionTopicFilter, StringValues: []string{"x"}},
		nil, "token-d1", t0)
	wantCode(t, "CreateDimension of a taken name with other values", err, warden.CodeResourceAlreadyExists)
	_, err = st.Dimension(ctx, scope, "missing")
	wantCode(t, "Dimension(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "Dimension", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.Dimension(ctx, s, "d1")
		return err
	})
	emptyElsewhere(t, "Dimensions", func(s warden.Scope) ([]string, error) {
		names, _, err := st.Dimensions(ctx, s, warden.Page{Limit: 10})
		return names, err
	})
	wantNames(t, "Dimensions", walk(t, 2, func(p warden.Page) ([]string, string, error) { return st.Dimensions(ctx, scope, p) }),
		"d1", "d2", "d3")

	replaced := []string{"x/${iot:ClientId}/y"}
	updated, err := st.UpdateDimension(ctx, scope, "d1", replaced, t0.Add(time.Minute))
	if err != nil || !equal(updated.StringValues, replaced) || updated.Type != warden.DimensionTopicFilter ||
		!updated.LastModifiedDate.Equal(t0.Add(time.Minute)) {
		t.Fatalf("UpdateDimension = %+v, %v", updated, err)
	}
	if got, err := st.Dimension(ctx, scope, "d1"); err != nil || !equal(got.StringValues, replaced) || !got.CreationDate.Equal(t0) {
		t.Fatalf("Dimension after update = %+v, %v", got, err)
	}
	_, err = st.UpdateDimension(ctx, scope, "missing", replaced, t0)
	wantCode(t, "UpdateDimension(missing)", err, warden.CodeResourceNotFound)

	arn := warden.DimensionARN(scope, "d1")
	wantTags(t, st, arn, tags)
	must(t, st.DeleteDimension(ctx, scope, "d1", t0.Add(2*time.Minute)))
	must(t, st.DeleteDimension(ctx, scope, "d1", t0.Add(2*time.Minute)))
	_, err = st.Dimension(ctx, scope, "d1")
	wantCode(t, "Dimension after delete", err, warden.CodeResourceNotFound)
	_, _, err = st.Tags(ctx, scope, arn, warden.Page{Limit: 10})
	wantCode(t, "Tags of a deleted dimension", err, warden.CodeResourceNotFound)
	wantChanges(t, st, arn, "CreateDimension", "UpdateDimension", "DeleteDimension")
}

// wantTags fails the test unless arn's tags are want.
func wantTags(t *testing.T, st warden.Store, arn string, want []warden.Tag) {
	t.Helper()
	got := walk(t, 10, func(p warden.Page) ([]warden.Tag, string, error) { return st.Tags(ctx, scope, arn, p) })
	if len(got) != len(want) {
		t.Fatalf("Tags(%s) = %+v, want %+v", arn, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Tags(%s) = %+v, want %+v", arn, got, want)
		}
	}
}

// wantChanges fails the test unless arn's change-log operations are want.
func wantChanges(t *testing.T, st warden.Store, arn string, want ...string) {
	t.Helper()
	changes, err := st.Changes(ctx, warden.ChangeFilter{ResourceArn: arn})
	must(t, err)
	wantNames(t, "Changes of "+arn, names(changes, func(c warden.Change) string { return c.Operation }), want...)
}

// concurrentCreates: of creates of one name racing with different tokens
// exactly one wins; racing retries with one token all get the stored
// resource.
func concurrentCreates(t *testing.T, st warden.Store) {
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := st.CreateCustomMetric(ctx, scope, warden.CustomMetric{Name: "raced", Type: warden.CustomMetricNumber}, nil,
				fmt.Sprint("token-", i), t0)
			errs <- err
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case warden.ErrorCode(err) != warden.CodeResourceAlreadyExists:
			t.Fatalf("racing CreateCustomMetric: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d racing creates with different tokens succeeded, want 1", won, n)
	}
	stored := make(chan warden.Dimension, n)
	for i := range n {
		go func() {
			d, err := st.CreateDimension(ctx, scope, warden.Dimension{Name: "raced", Type: warden.DimensionTopicFilter, StringValues: []string{"a"}},
				nil, "one-token", t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Errorf("racing retries of CreateDimension: %v", err)
			}
			stored <- d
		}()
	}
	first := <-stored
	for range n - 1 {
		if d := <-stored; !d.CreationDate.Equal(first.CreationDate) {
			t.Fatalf("racing retries got creation dates %v and %v, want the one stored", first.CreationDate, d.CreationDate)
		}
	}
	wantChanges(t, st, warden.DimensionARN(scope, "raced"), "CreateDimension")
}
