package engine_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/engine/enginetest"
)

// benchFindings is the number of findings of the benchmarks' tasks
// (WARDEN_BENCH_FINDINGS, default 100,000).
func benchFindings(b *testing.B, def int) int {
	if v := os.Getenv("WARDEN_BENCH_FINDINGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return def
}

// benchBatch is the engine's batch size (WARDEN_BENCH_BATCH, default the
// engine's default).
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("WARDEN_BENCH_BATCH"))
	if n <= 0 {
		n = engine.DefaultBatch
	}
	return n
}

// BenchmarkMitigationDeactivate runs one task of N findings ×
// UPDATE_DEVICE_CERTIFICATE and, in the same run and database, a plain
// batched SQL loop making the same changes on another N certificates: per
// finding the certificate row, its change-log row and an execution row (in
// a copy of the executions table), with prepared statements, in
// transactions of the engine's batch size, and nothing else — the ceiling.
// The two take turns in slices of 250 ms, so that both meet the same
// machine load; each rate is its work over its own time. It reports both
// rates, their ratio, and the latency of DescribeAuditMitigationActionsTask
// (through HTTP and the Go SDK) polled every 5 ms while the task runs. Run
// it once:
//
//	go test ./internal/engine -run '^$' -bench Mitigation -benchtime 1x
func BenchmarkMitigationDeactivate(b *testing.B) {
	n := benchFindings(b, 100_000)
	for range b.N {
		f := newFixture(b)
		f.now = time.Now()
		f.seed(enginetest.Options{Findings: n, NoThings: true, Prefix: "e"})
		f.seed(enginetest.Options{Findings: n, NoThings: true, Prefix: "c", AuditTaskID: "ceiling"})
		f.action("deactivate", deactivate())
		ceiling := f.newCeiling(b, "ceiling", benchBatch())

		describe := f.describePoller(b, "bench")
		f.ceilingRunning = new(atomic.Bool)
		e := engine.New(f.db, engine.Options{Batch: benchBatch()})
		f.start("bench", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
		var engineTime, ceilingTime time.Duration
		engineDone, ceilingDone := false, false
		const slice = 250 * time.Millisecond
		for !engineDone || !ceilingDone {
			start := time.Now()
			for !engineDone && time.Since(start) < slice {
				worked, err := e.RunOnce(f.ctx)
				if err != nil {
					b.Fatal(err)
				}
				engineDone = !worked
			}
			engineTime += time.Since(start)
			start = time.Now()
			f.ceilingRunning.Store(true)
			for !ceilingDone && time.Since(start) < slice {
				ceilingDone = !ceiling.step()
			}
			f.ceilingRunning.Store(false)
			ceilingTime += time.Since(start)
		}
		lat := describe()
		f.checkDone(b, "bench", n)
		if ceiling.done != n {
			b.Fatalf("ceiling loop did %d findings, want %d", ceiling.done, n)
		}
		rate := float64(n) / engineTime.Seconds()
		ceilingRate := float64(n) / ceilingTime.Seconds()
		b.ReportMetric(rate, "exec/s")
		b.ReportMetric(ceilingRate, "ceiling-exec/s")
		b.ReportMetric(100*rate/ceilingRate, "%-of-ceiling")
		b.ReportMetric(float64(lat.p99.Microseconds())/1000, "describe-p99-ms")
		b.Logf("%d executions: engine %.0f/s, plain SQL loop %.0f/s (%.0f%%); DescribeAuditMitigationActionsTask while running: %d calls, p50 %v, p99 %v, max %v; TagResource meanwhile: %d calls, p50 %v, p99 %v, max %v",
			n, rate, ceilingRate, 100*rate/ceilingRate, lat.n, lat.p50, lat.p99, lat.max, lat.writes.n, lat.writes.p50, lat.writes.p99, lat.writes.max)
	}
}

// BenchmarkMitigationThreeActions runs one task of N findings ×
// (UPDATE_DEVICE_CERTIFICATE, ADD_THINGS_TO_THING_GROUP,
// PUBLISH_FINDING_TO_SNS to a topic with one confirmed subscription): the
// SNS messages are enqueued in the outbox, not delivered.
func BenchmarkMitigationThreeActions(b *testing.B) {
	n := benchFindings(b, 100_000) / 2
	for range b.N {
		f := newFixture(b)
		f.now = time.Now()
		f.seed(enginetest.Options{Findings: n, Prefix: "e"})
		f.action("deactivate", deactivate())
		f.action("quarantine", quarantine("quarantine"))
		f.action("publish", warden.MitigationActionParams{PublishFindingToSnsParams: &warden.PublishFindingToSnsParams{TopicArn: f.topic(b, "findings")}})
		if _, _, err := f.db.CreateThingGroup(f.ctx, scope, warden.ThingGroup{Name: "quarantine", ID: warden.NewUUID(),
			CreationDate: f.now, LastModifiedDate: f.now}, nil); err != nil {
			b.Fatal(err)
		}
		describe := f.describePoller(b, "bench")
		f.start("bench", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate", "quarantine", "publish"}})
		rate := f.runEngine(b, "bench", 3*n)
		lat := describe()
		b.ReportMetric(rate, "exec/s")
		b.ReportMetric(float64(lat.p99.Microseconds())/1000, "describe-p99-ms")
		b.Logf("%d executions (%d findings × 3 actions): engine %.0f/s; DescribeAuditMitigationActionsTask while running: %d calls, p50 %v, p99 %v, max %v; TagResource meanwhile: %d calls, p50 %v, p99 %v, max %v",
			3*n, n, rate, lat.n, lat.p50, lat.p99, lat.max, lat.writes.n, lat.writes.p50, lat.writes.p99, lat.writes.max)
	}
}

// topic creates an SNS topic with one confirmed HTTP subscription.
func (f *fixture) topic(b *testing.B, name string) string {
	if _, _, err := f.db.CreateTopic(f.ctx, scope, warden.Topic{Name: name, CreatedAt: f.now}, nil); err != nil {
		b.Fatal(err)
	}
	sub := warden.Subscription{Arn: scope.SNSARN(name + ":" + warden.NewUUID()), Topic: name, Protocol: "http",
		Endpoint: "http://127.0.0.1:9/findings", Token: "token-" + warden.NewUUID()}
	if _, err := f.db.Subscribe(f.ctx, scope, sub, f.now); err != nil {
		b.Fatal(err)
	}
	if _, err := f.db.ConfirmSubscription(f.ctx, scope, name, sub.Token, false, f.now); err != nil {
		b.Fatal(err)
	}
	return scope.SNSARN(name)
}

// runEngine runs the task to its end in this goroutine and returns
// executions per second, from its start to its end.
func (f *fixture) runEngine(b *testing.B, taskID string, executions int) float64 {
	b.Helper()
	e := engine.New(f.db, engine.Options{Batch: benchBatch()})
	start := time.Now()
	if err := e.RunUntilIdle(f.ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	f.checkDone(b, taskID, executions)
	return float64(executions) / elapsed.Seconds()
}

func (f *fixture) checkDone(b *testing.B, taskID string, executions int) {
	t, err := f.db.MitigationTask(f.ctx, scope, taskID)
	if err != nil {
		b.Fatal(err)
	}
	if t.Status != warden.MitigationTaskCompleted {
		b.Fatalf("task %s is %s, want COMPLETED: %+v", taskID, t.Status, t.Statistics)
	}
	if n := f.count(`SELECT COUNT(*) FROM mitigation_executions e JOIN mitigation_tasks t ON t.seq = e.task_seq
		WHERE t.task_id = ? AND e.status = 'COMPLETED'`, taskID); n != executions {
		b.Fatalf("%d executions COMPLETED, want %d", n, executions)
	}
}

// ceiling is the plain SQL loop: it works through bench_executions, a copy
// of mitigation_executions (same columns, keys and index) filled with one
// PENDING row per finding of an audit.
type ceiling struct {
	b     *testing.B
	f     *fixture
	batch int
	after int64
	done  int
}

func (f *fixture) newCeiling(b *testing.B, auditTaskID string, batch int) *ceiling {
	for _, q := range []string{
		`CREATE TABLE bench_executions AS SELECT * FROM mitigation_executions WHERE 1 = 0`,
		`CREATE UNIQUE INDEX bench_executions_pk ON bench_executions (task_seq, finding_seq, action_index)`,
		`CREATE INDEX bench_executions_open ON bench_executions (task_seq, finding_seq, lease_expires)
			WHERE action_index = 0 AND status IN ('PENDING', 'IN_PROGRESS')`,
	} {
		if _, err := f.raw.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.raw.Exec(`INSERT INTO bench_executions (task_seq, finding_seq, action_index, finding_id, check_name, status,
			start_time, end_time, error_code, message, lease_owner, lease_expires, attempt)
		SELECT 0, seq, 0, finding_id, check_name, 'PENDING', 0, 0, '', '', '', 0, 0 FROM audit_findings WHERE task_id = ?`, auditTaskID); err != nil {
		b.Fatal(err)
	}
	return &ceiling{b: b, f: f, batch: batch}
}

// step does one transaction; false when there was nothing left.
func (c *ceiling) step() bool {
	b, ctx := c.b, context.Background()
	tx, err := c.f.raw.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	type work struct {
		findingSeq int64
		certID     string
	}
	var todo []work
	rows, err := tx.QueryContext(ctx, `SELECT e.finding_seq, f.resource_identifier FROM bench_executions e
		JOIN audit_findings f ON f.seq = e.finding_seq
		WHERE e.task_seq = 0 AND e.finding_seq > ? AND e.status = 'PENDING' ORDER BY e.finding_seq LIMIT ?`, c.after, c.batch)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var w work
		var ident string
		if err := rows.Scan(&w.findingSeq, &ident); err != nil {
			b.Fatal(err)
		}
		var id struct {
			DeviceCertificateID string `json:"deviceCertificateId"`
		}
		_ = json.Unmarshal([]byte(ident), &id)
		w.certID = id.DeviceCertificateID
		todo = append(todo, w)
	}
	rows.Close()
	if len(todo) == 0 {
		return false
	}
	cert := mustPrepare(b, tx, `UPDATE certificates SET status = 'INACTIVE', customer_version = customer_version + 1,
		generation_id = ?, updated_at = ? WHERE account = ? AND region = ? AND id = ? AND status = 'ACTIVE'`)
	log := mustPrepare(b, tx, `INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
		VALUES (?, ?, ?, 'UpdateCertificate', '{"status":"ACTIVE"}', '{"status":"INACTIVE"}', ?, ?)`)
	done := mustPrepare(b, tx, `UPDATE bench_executions SET status = 'COMPLETED', end_time = ?
		WHERE task_seq = 0 AND finding_seq = ? AND action_index = 0`)
	now := time.Now().UnixMilli()
	for _, w := range todo {
		if _, err := cert.Exec(warden.NewUUID(), now, scope.Account, scope.Region, w.certID); err != nil {
			b.Fatal(err)
		}
		if _, err := log.Exec(scope.Account, scope.Region, scope.CertificateARN(w.certID), "execution:ceiling", now); err != nil {
			b.Fatal(err)
		}
		if _, err := done.Exec(now, w.findingSeq); err != nil {
			b.Fatal(err)
		}
		c.after = w.findingSeq
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	c.done += len(todo)
	return true
}

func mustPrepare(b *testing.B, tx *sql.Tx, query string) *sql.Stmt {
	s, err := tx.Prepare(query)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

type latencies struct {
	n             int
	p50, p99, max time.Duration
	// writes: TagResource calls made every 50 ms meanwhile (a write
	// waits for SQLite's one writer, which the engine's batches hold).
	writes latencySummary
}

type latencySummary struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(samples []time.Duration) latencySummary {
	slices.Sort(samples)
	if len(samples) == 0 {
		return latencySummary{}
	}
	at := func(p float64) time.Duration { return samples[min(len(samples)-1, int(p*float64(len(samples))))] }
	return latencySummary{n: len(samples), p50: at(0.5), p99: at(0.99), max: samples[len(samples)-1]}
}

// describePoller calls DescribeAuditMitigationActionsTask every 5 ms, and
// TagResource every 50 ms, through the real API and SDK until the returned
// function is called, which reports the latencies of the calls made while
// the task was IN_PROGRESS.
func (f *fixture) describePoller(b *testing.B, taskID string) func() latencies {
	const key, secret = "AKIABENCHMARKAAAAAAA", "benchmarksecretbenchmarksecretbenchmark0"
	if err := f.db.CreateAccessKey(f.ctx, warden.AccessKey{ID: key, Secret: secret, Account: scope.Account, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	h, err := api.New(f.ctx, api.Config{Store: f.db})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	client := iot.New(iot.Options{Region: scope.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var samples, writes []time.Duration
	running := func() bool {
		t, err := f.db.MitigationTask(f.ctx, scope, taskID)
		return err == nil && t.Status == warden.MitigationTaskInProgress
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		arn := scope.IoTARN("mitigationaction/deactivate")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if !running() {
				continue
			}
			ceilingBefore := f.ceilingRunning != nil && f.ceilingRunning.Load()
			start := time.Now()
			_, err := client.TagResource(f.ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn),
				Tags: []iottypes.Tag{{Key: aws.String("probe"), Value: aws.String(strconv.Itoa(i))}}})
			d := time.Since(start)
			if err != nil {
				b.Error(err)
				return
			}
			if ceilingBefore || f.ceilingRunning != nil && f.ceilingRunning.Load() {
				continue // the ceiling loop's own connection held SQLite's write lock
			}
			mu.Lock()
			writes = append(writes, d)
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			out, err := client.DescribeAuditMitigationActionsTask(f.ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
			d := time.Since(start)
			if err != nil || out.TaskStatus != "IN_PROGRESS" {
				continue // not started yet, or done
			}
			mu.Lock()
			samples = append(samples, d)
			mu.Unlock()
		}
	}()
	return func() latencies {
		close(stop)
		wg.Wait()
		srv.Close()
		r := summarize(samples)
		return latencies{n: r.n, p50: r.p50, p99: r.p99, max: r.max, writes: summarize(writes)}
	}
}
