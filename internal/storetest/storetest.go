// Package storetest is the conformance suite of warden.Store: the contract
// every implementation keeps, whatever its database. Each implementation's
// tests run it on every dialect they support (as River's riverdrivertest
// does for its drivers), so that a rule kept by one database and not the
// other fails a test.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// Exercise runs the suite. open returns a new, empty store, closed when t
// ends; every subtest opens its own, and the subtests run in parallel.
func Exercise(t *testing.T, open func(t *testing.T) warden.Store) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, st warden.Store)
	}{
		{"Things", things},
		{"ThingGroups", thingGroups},
		{"DynamicGroups", dynamicGroups},
		{"Certificates", certificates},
		{"DeviceCertificate", deviceCertificate},
		{"Policies", policies},
		{"Logging", logging},
		{"Tags", tags},
		{"ChangeLog", changeLog},
		{"AccessKeys", accessKeys},
		{"MitigationActions", mitigationActions},
		{"MitigationTasks", mitigationTasks},
		{"DetectMitigationTasks", detectMitigationTasks},
		{"DetectExecutionsOneByOne", detectExecutionsOneByOne},
		{"Audits", audits},
		{"AuditClaims", auditClaims},
		{"SNS", sns},
		{"SNSClaimPerSubscription", snsClaimPerSubscription},
		{"IAM", iam},
		{"ConnectionLog", connectionLog},
		{"CustomMetrics", customMetrics},
		{"Dimensions", dimensions},
		{"Violations", violations},
		{"SecurityProfiles", securityProfiles},
		{"SecurityProfileTargets", securityProfileTargets},
		{"SecurityProfileAttachRace", securityProfileAttachRace},
		{"DetectConcurrentCreates", concurrentCreates},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

// The suite works in scope; nothing it stores there may be visible in the
// other scopes, which differ from it by account and by region.
var (
	scope        = warden.Scope{Account: "123456789012", Region: "us-east-1"}
	otherAccount = warden.Scope{Account: "210987654321", Region: "us-east-1"}
	otherRegion  = warden.Scope{Account: "123456789012", Region: "eu-west-1"}
	otherScopes  = []warden.Scope{otherAccount, otherRegion}
)

// t0 is the suite's clock: a whole millisecond, as the store keeps times.
var t0 = time.UnixMilli(1_800_000_000_000).UTC()

var ctx = context.Background()

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails the test unless err is a *warden.Error (found by
// errors.As, so it may be wrapped) of code.
func wantCode(t *testing.T, what string, err error, code warden.Code) {
	t.Helper()
	var werr *warden.Error
	if !errors.As(err, &werr) || werr.Code != code {
		t.Fatalf("%s: err %v, want %s", what, err, code)
	}
}

// walk lists every page of list, limit items a page, checking that only the
// last page is short, and returns the items in the order listed.
func walk[T any](t *testing.T, limit int, list func(p warden.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	p := warden.Page{Limit: limit}
	for pages := 0; ; pages++ {
		items, next, err := list(p)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		if len(items) != limit {
			t.Fatalf("page %d holds %d items and has a next page; want %d", pages, len(items), limit)
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		p.After = next
	}
}

// names maps items to their names.
func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

// equal reports whether a and b hold the same strings in the same order.
func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantNames fails the test unless got equals want.
func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// notElsewhere checks that get (a look-up in scope) is ResourceNotFound, or
// notFound, in every other scope.
func notElsewhere(t *testing.T, what string, notFound warden.Code, get func(s warden.Scope) error) {
	t.Helper()
	for _, s := range otherScopes {
		wantCode(t, what+" in "+s.Account+"/"+s.Region, get(s), notFound)
	}
}

// emptyElsewhere checks that list (of scope) lists nothing in the other
// scopes.
func emptyElsewhere[T any](t *testing.T, what string, list func(s warden.Scope) ([]T, error)) {
	t.Helper()
	for _, s := range otherScopes {
		items, err := list(s)
		if err != nil || len(items) != 0 {
			t.Fatalf("%s in %s/%s = %d items, %v; want none", what, s.Account, s.Region, len(items), err)
		}
	}
}
