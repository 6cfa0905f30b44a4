package main

import (
	"context"
	"database/sql"
	"maps"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/warden-iot/warden/internal/pgtest"
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
	out, err := cl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(describeThingName)})
	if err != nil {
		t.Fatalf("describe thing: %v", err)
	}
	if !maps.Equal(out.Attributes, describeThingAttributes) || aws.ToString(out.ThingId) == "" ||
		aws.ToString(out.ThingArn) == "" || out.Version != 1 {
		t.Fatalf("describe thing decoded as %+v", out)
	}
	if err := describeThing(ctx, cl, describeThingName); err != nil {
		t.Fatalf("describe thing: %v", err)
	}
	if err := createThing(ctx, cl, "bench-ct-1-0-0", nil); err != nil {
		t.Fatalf("create thing: %v", err)
	}
	if err := createThing(ctx, cl, describeThingName, describeThingAttributes); err != nil {
		t.Fatalf("create thing with attributes: %v", err)
	}
	if err := deleteThing(ctx, cl, "bench-ct-1-0-0"); err != nil {
		t.Fatalf("delete thing: %v", err)
	}
}

func TestParseWorkloads(t *testing.T) {
	got, err := parseWorkloads("create-thing, describe,describe-thing")
	if err != nil || !slices.Equal(got, []string{wlDescribe, wlDescribeThing, wlCreateThing}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := parseWorkloads("describe,nope"); err == nil {
		t.Fatal("no error for an unknown workload")
	}
	if _, err := parseWorkloads(""); err == nil {
		t.Fatal("no error for no workload")
	}
}

func TestRunLoadAgainstCeiling(t *testing.T) {
	srv := httptest.NewServer(ceilingHandler())
	defer srv.Close()
	cl := newClient(strings.TrimPrefix(srv.URL, "http://"), creds{"AKIAIOSFODNN7EXAMPLE", "secret"}, 2)
	for _, wl := range []string{wlCreateDelete, wlCreateThing} {
		res, cleanup := runLoad(context.Background(), cl, wl, 2, 100*time.Millisecond)
		if err := cleanup(); err != nil {
			t.Fatal(err)
		}
		if res.errors != 0 || len(res.latencies["create"]) == 0 || len(res.latencies["delete"]) == 0 {
			t.Fatalf("%s: errors %d (%s), creates %d, deletes %d", wl, res.errors, res.firstErr, len(res.latencies["create"]), len(res.latencies["delete"]))
		}
	}
	for _, wl := range []string{wlDescribe, wlDescribeThing} {
		res, cleanup := runLoad(context.Background(), cl, wl, 2, 100*time.Millisecond)
		if err := cleanup(); err != nil {
			t.Fatal(err)
		}
		if res.errors != 0 || len(res.latencies["describe"]) == 0 {
			t.Fatalf("%s: errors %d (%s), describes %d", wl, res.errors, res.firstErr, len(res.latencies["describe"]))
		}
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

func TestSchemaURLAndWardenArgs(t *testing.T) {
	u, err := schemaURL("postgres://bench:s3cret@127.0.0.1:5432/db?sslmode=disable", "warden_bench_x")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sslmode=disable", "search_path=warden_bench_x", "application_name=warden_bench_x", "bench:s3cret@127.0.0.1:5432/db"} {
		if !strings.Contains(u, want) {
			t.Errorf("%s lacks %s", u, want)
		}
	}
	for _, bad := range []string{"mysql://x@h/db", "db", "host=h dbname=db"} {
		if _, err := schemaURL(bad, "s"); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
	cfg := &config{Sync: "full", LogLevel: "info"}
	if args := wardenArgs(cfg, "/d", "127.0.0.1:1"); slices.Contains(args, "--database") {
		t.Fatalf("SQLite run passes %v", args)
	}
	cfg.db = &benchDB{url: u}
	args := wardenArgs(cfg, "/d", "127.0.0.1:1")
	if i := slices.Index(args, "--database"); i < 0 || args[i+1] != u {
		t.Fatalf("args %v, want --database %s", args, u)
	}
	if shown := strings.Join(redactArgs(args), " "); strings.Contains(shown, "s3cret") || !strings.Contains(shown, "search_path=warden_bench_x") {
		t.Fatalf("redacted args %s", shown)
	}
}

// TestBenchSchemaIsFreshAndDropped needs PostgreSQL (WARDEN_TEST_DATABASE).
func TestBenchSchemaIsFreshAndDropped(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	ctx := context.Background()
	db, err := openBenchDB(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	exists := func(admin *sql.DB) bool {
		var n int
		if err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1`, db.schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !exists(db.admin) {
		t.Fatalf("schema %s not created", db.schema)
	}
	other, err := sql.Open("pgx", pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := db.drop(); err != nil {
		t.Fatal(err)
	}
	if exists(other) {
		t.Fatalf("schema %s not dropped", db.schema)
	}
}
