package main

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// The ceiling's fixed bodies must decode as the SDK's responses, or the
// ceiling would measure error paths.
func TestCeilingAnswersDecodeInTheSDK(t *testing.T) {
	srv := httptest.NewServer(ceilingHandler())
	defer srv.Close()
	cl := newClient(strings.TrimPrefix(srv.URL, "http://"), creds{"AKIAIOSFODNN7EXAMPLE", "secret"}, 2)
	ctx := context.Background()
	if err := describe(ctx, cl, describeActionName); err != nil {
		t.Fatalf("describe: %v", err)
	}
	if err := createAction(ctx, cl, "bench-cd-0"); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := deleteAction(ctx, cl, "bench-cd-0"); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func TestRunLoadAgainstCeiling(t *testing.T) {
	srv := httptest.NewServer(ceilingHandler())
	defer srv.Close()
	cl := newClient(strings.TrimPrefix(srv.URL, "http://"), creds{"AKIAIOSFODNN7EXAMPLE", "secret"}, 2)
	res, cleanup := runLoad(context.Background(), cl, wlCreateDelete, 2, 100*time.Millisecond)
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if res.errors != 0 || len(res.latencies["create"]) == 0 || len(res.latencies["delete"]) == 0 {
		t.Fatalf("errors %d (%s), creates %d, deletes %d", res.errors, res.firstErr, len(res.latencies["create"]), len(res.latencies["delete"]))
	}
}

func TestParseCreds(t *testing.T) {
	out := "Warden access key for account 123456789012 (saved in x, profile warden).\n\n" +
		"export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\nexport AWS_SECRET_ACCESS_KEY=abc/def+ghi\nexport AWS_DEFAULT_REGION=us-east-1\n"
	c, err := parseCreds(out)
	if err != nil || c.id != "AKIAABCDEFGHIJKLMNOP" || c.secret != "abc/def+ghi" {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := parseCreds("nothing"); err == nil {
		t.Fatal("no error without export lines")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i))
	}
	if p := percentile(l, 50); p != 50 {
		t.Errorf("p50 = %d", p)
	}
	if p := percentile(l, 99); p != 99 {
		t.Errorf("p99 = %d", p)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}

func TestProcReaders(t *testing.T) {
	// Burn a little CPU so the tick counter moves.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	if ticks, err := procCPU(os.Getpid()); err != nil || ticks <= 0 {
		t.Fatalf("procCPU = %d, %v", ticks, err)
	}
	if rss, _, err := procMemKiB(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("procMemKiB = %d, %v", rss, err)
	}
	if busy, err := systemCPU(); err != nil || busy <= 0 {
		t.Fatalf("systemCPU = %d, %v", busy, err)
	}
}
