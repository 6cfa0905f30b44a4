package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
)

// TestDiskFullIsReported: a write that fails because the database cannot
// grow (SQLITE_FULL, forced with max_page_count) is answered with an AWS
// 503 ServiceUnavailableException and logged as "disk full", not as an
// unexplained internal error; reads still work.
func TestDiskFullIsReported(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, t.TempDir(), SQLiteOptions{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const id, secret = "AKIADISKFULLTEST0000", "secretsecretsecretsecretsecretsecret0000"
	if err := db.CreateAccessKey(ctx, warden.AccessKey{ID: id, Secret: secret, Account: "123456789012", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	handler, err := api.New(ctx, api.Config{Store: db, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	if _, err := client.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("before")}); err != nil {
		t.Fatal(err)
	}

	// The writer is one connection: the limit holds for every write.
	var pages int
	if err := db.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 800)
	for i := 0; ; i++ {
		_, err = client.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("t" + strconv.Itoa(i)),
			AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"a": long}}})
		if err != nil {
			break
		}
		if i > 200 {
			t.Fatal("200 things written into a database that may not grow")
		}
	}
	var apiErr smithy.APIError
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &apiErr) || !errors.As(err, &status) {
		t.Fatalf("write on a full disk: %v, want an API error", err)
	}
	if apiErr.ErrorCode() != warden.CodeServiceUnavailable || status.HTTPStatusCode() != 503 {
		t.Errorf("a write on a full disk answered %d %s (%s), want 503 ServiceUnavailableException",
			status.HTTPStatusCode(), apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if n := strings.Count(logs.String(), `"msg":"disk full: writes are failing`); n != 1 {
		t.Errorf("%d log lines say disk full, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), `"msg":"internal error"`) {
		t.Errorf("the full disk was also logged as an unexplained internal error:\n%s", logs.String())
	}
	if _, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("before")}); err != nil {
		t.Errorf("a read on a full disk: %v", err)
	}
	// The readiness probe's disk check follows the writes: failed now,
	// ok again once a write gets through.
	if err := db.Writable(); !errors.Is(err, ErrStoreNotWritable) || !errors.Is(err, warden.ErrStorageFull) {
		t.Errorf("Writable on a full disk = %v, want ErrStoreNotWritable (storage full)", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping on a full disk = %v, want nil: reads work", err)
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("after")}); err != nil {
		t.Fatalf("write once the disk has room: %v", err)
	}
	if err := db.Writable(); err != nil {
		t.Errorf("Writable after a successful write = %v, want nil", err)
	}
}
