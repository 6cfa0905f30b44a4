package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/engine/enginetest"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// BenchmarkMitigationNodesPostgres runs one task of N findings ×
// UPDATE_DEVICE_CERTIFICATE (WARDEN_BENCH_FINDINGS, default 100,000) on
// PostgreSQL with 1, 2 and 3 engines at once, each on a *sqlstore.DB of its
// own (its own pool and owner, as separate processes have). In the same run
// and schema, as many workers run a plain SKIP LOCKED loop over a queue
// table of N rows: claim a batch (UPDATE … WHERE id IN (SELECT … FOR UPDATE
// SKIP LOCKED LIMIT n) RETURNING), then in one transaction deactivate each
// row's certificate, write its change-log row and mark the batch done —
// claim, effect, completion and nothing else, at READ COMMITTED. The two
// sides take turns in slices of a second, so that both meet the same machine
// load; each rate is its work over its own time. Run it once:
//
//	WARDEN_TEST_DATABASE=postgres://… go test ./internal/engine -run '^$' -bench MitigationNodes -benchtime 1x -timeout 30m
func BenchmarkMitigationNodesPostgres(b *testing.B) {
	pgtest.SkipUnlessPostgres(b)
	n := benchFindings(b, 100_000)
	for _, nodes := range []int{1, 2, 3} {
		b.Run("nodes="+strconv.Itoa(nodes), func(b *testing.B) {
			for range b.N {
				runNodes(b, n, nodes)
			}
		})
	}
}

func runNodes(b *testing.B, n, nodes int) {
	f := newFixture(b)
	f.now = time.Now()
	f.seed(enginetest.Options{Findings: n, NoThings: true, Prefix: "e"})
	f.seed(enginetest.Options{Findings: n, NoThings: true, Prefix: "c", AuditTaskID: "baseline"})
	f.action("deactivate", deactivate())
	loop := newPlainLoop(b, f, "baseline", nodes, benchBatch())
	defer loop.close()
	// The planner sees seeded tables as a live database's would be seen.
	for _, t := range []string{"certificates", "audit_findings", "bench_queue"} {
		if _, err := f.raw.Exec(`ANALYZE ` + t); err != nil {
			b.Fatal(err)
		}
	}

	logs := &countingHandler{}
	var engines []*engine.Engine
	var dbs []*sqlstore.DB
	for i := range nodes {
		db, err := sqlstore.Open(f.ctx, sqlstore.Options{Database: pgtest.Database(b, f.dir), DataDir: f.dir})
		if err != nil {
			b.Fatal(err)
		}
		dbs = append(dbs, db)
		engines = append(engines, engine.New(db, engine.Options{Owner: fmt.Sprintf("node-%d", i+1), Batch: benchBatch(),
			Logger: slog.New(logs)}))
	}
	closeDBs := func() {
		for _, db := range dbs {
			db.Close()
		}
		dbs = nil
	}
	defer closeDBs()
	// Backends report their statistics when idle for 10 s or on exit: wait
	// for the seeding's, close the engines' pools at the end.
	time.Sleep(11 * time.Second)
	rollbacks0 := f.pgRollbacks(b)
	f.start("bench", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})

	var engineErrors atomic.Int64
	var firstErr atomic.Value
	engineSide := &side{done: func() bool {
		var status string
		if err := f.raw.QueryRow(`SELECT status FROM mitigation_tasks WHERE task_id = 'bench'`).Scan(&status); err != nil {
			b.Fatal(err)
		}
		return status != warden.MitigationTaskInProgress
	}}
	for _, e := range engines {
		engineSide.workers = append(engineSide.workers, func() (bool, error) {
			worked, err := e.RunOnce(f.ctx)
			if err != nil {
				// As the engine's loop does: count it, back off, go on.
				engineErrors.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				time.Sleep(100 * time.Millisecond)
				return true, nil
			}
			return worked, nil
		})
	}
	plain := &side{done: func() bool { return loop.done.Load() >= int64(n) }}
	for i := range nodes {
		plain.workers = append(plain.workers, func() (bool, error) { return loop.step(i) })
	}

	const slice = time.Second
	deadline := time.Now().Add(25 * time.Minute)
	for !engineSide.finished || !plain.finished {
		if time.Now().After(deadline) {
			b.Fatalf("not done after 25 minutes: Warden %v, plain loop %d of %d", engineSide.finished, loop.done.Load(), n)
		}
		if err := engineSide.run(slice); err != nil {
			b.Fatal(err)
		}
		if err := plain.run(slice); err != nil {
			b.Fatal(err)
		}
	}
	closeDBs()
	loop.close()
	time.Sleep(time.Second)
	rollbacks := f.pgRollbacks(b) - rollbacks0

	f.checkNodesDone(b, n)
	loop.check(n)
	retaken := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE attempt > 1`)
	rate := float64(n) / engineSide.elapsed.Seconds()
	plainRate := float64(n) / plain.elapsed.Seconds()
	b.ReportMetric(rate, "exec/s")
	b.ReportMetric(plainRate, "loop-exec/s")
	b.ReportMetric(100*rate/plainRate, "%-of-loop")
	b.ReportMetric(float64(rollbacks), "pg-rollbacks")
	b.ReportMetric(float64(retaken), "reclaimed-execs")
	b.ReportMetric(float64(engineErrors.Load()), "engine-errors")
	b.Logf("%d executions, %d node(s): Warden %.0f/s in %v, plain SKIP LOCKED loop %.0f/s in %v (%.0f%%); "+
		"PostgreSQL rolled back %d of Warden's transactions (retries after serialization failures; the loop rolls none back); "+
		"%d executions claimed more than once; engine errors %d %v, lost leases %d, warnings %d",
		n, nodes, rate, engineSide.elapsed.Round(time.Millisecond), plainRate, plain.elapsed.Round(time.Millisecond), 100*rate/plainRate,
		rollbacks, retaken, engineErrors.Load(), firstErr.Load(), logs.lost.Load(), logs.warnings.Load())
}

// side is one contender: workers run concurrently, each calling its step
// until the slice is over or it finds nothing to do.
type side struct {
	workers  []func() (worked bool, err error)
	done     func() bool
	elapsed  time.Duration
	finished bool
}

// run runs one slice; an error stops its worker and is returned.
func (s *side) run(slice time.Duration) error {
	if s.finished {
		return nil
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(s.workers))
	for i, w := range s.workers {
		wg.Go(func() {
			for time.Since(start) < slice {
				worked, err := w()
				if err != nil || !worked {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	s.finished = s.done()
	return errors.Join(errs...)
}

// pgRollbacks is PostgreSQL's count of rolled-back transactions in this
// database: Warden's writes retry after a serialization failure.
func (f *fixture) pgRollbacks(b *testing.B) int64 {
	var n int64
	if err := f.raw.QueryRow(`SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// checkNodesDone: the task COMPLETED, every execution SUCCEEDED exactly
// once, every certificate deactivated once, no lease left.
func (f *fixture) checkNodesDone(b *testing.B, n int) {
	b.Helper()
	f.checkDone(b, "bench", n)
	if got := f.task("bench").Statistics[check]; got != (warden.MitigationTaskStatistics{Total: int64(n), Succeeded: int64(n)}) {
		b.Fatalf("statistics %+v, want %d succeeded", got, n)
	}
	if c := f.count(`SELECT COUNT(*) FROM change_log WHERE operation = 'UpdateCertificate' AND actor LIKE 'execution:bench/%'`); c != n {
		b.Fatalf("%d certificate changes by the task, want %d", c, n)
	}
	if c := f.count(`SELECT COUNT(DISTINCT resource_arn) FROM change_log WHERE operation = 'UpdateCertificate' AND actor LIKE 'execution:bench/%'`); c != n {
		b.Fatalf("%d certificates changed by the task, want %d", c, n)
	}
	if c := f.count(`SELECT COUNT(*) FROM certificates WHERE id LIKE ? AND status <> 'INACTIVE'`, certPrefix("e")); c != 0 {
		b.Fatalf("%d of the task's certificates not INACTIVE", c)
	}
	if c := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE lease_owner <> ''`); c != 0 {
		b.Fatalf("%d executions still leased", c)
	}
}

func certPrefix(prefix string) string { return enginetest.CertificateID(prefix, 0)[:48] + "%" }

// plainLoop is the baseline: a queue table with one row per finding of an
// audit, worked through by SKIP LOCKED claims, each worker on its own pool.
type plainLoop struct {
	b       *testing.B // for newPlainLoop and check, on the benchmark's goroutine
	f       *fixture
	batch   int
	workers []*sql.DB
	done    atomic.Int64
}

func newPlainLoop(b *testing.B, f *fixture, auditTaskID string, workers, batch int) *plainLoop {
	for _, q := range []string{
		`CREATE TABLE bench_queue (id BIGINT PRIMARY KEY, cert_id TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'PENDING',
			lease_owner TEXT NOT NULL DEFAULT '', lease_expires BIGINT NOT NULL DEFAULT 0, end_time BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX bench_queue_open ON bench_queue (id) WHERE status = 'PENDING'`,
	} {
		if _, err := f.raw.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.raw.Exec(`INSERT INTO bench_queue (id, cert_id)
		SELECT seq, resource_identifier::json->>'deviceCertificateId' FROM audit_findings WHERE task_id = ?`, auditTaskID); err != nil {
		b.Fatal(err)
	}
	l := &plainLoop{b: b, f: f, batch: batch}
	for range workers {
		db, err := enginetest.Open(pgtest.Database(b, f.dir), f.dir)
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		l.workers = append(l.workers, db)
	}
	return l
}

func (l *plainLoop) close() {
	for _, db := range l.workers {
		db.Close()
	}
	l.workers = nil
}

// step claims and applies one batch on worker w's connection; false when
// there was nothing left to claim.
func (l *plainLoop) step(w int) (bool, error) {
	ctx, db := context.Background(), l.workers[w]
	owner := "loop-" + strconv.Itoa(w)
	now := time.Now().UnixMilli()
	rows, err := db.QueryContext(ctx, `UPDATE bench_queue SET lease_owner = ?, lease_expires = ?
		WHERE id IN (SELECT id FROM bench_queue WHERE status = 'PENDING' AND lease_expires < ?
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
		AND status = 'PENDING' AND lease_expires < ?
		RETURNING id, cert_id`, owner, now+30_000, now, l.batch, now)
	if err != nil {
		return false, err
	}
	var ids []any
	var certs []string
	for rows.Next() {
		var id int64
		var cert string
		if err := rows.Scan(&id, &cert); err != nil {
			rows.Close()
			return false, err
		}
		ids, certs = append(ids, id), append(certs, cert)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return false, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	cert, err := tx.Prepare(`UPDATE certificates SET status = 'INACTIVE', customer_version = customer_version + 1,
		generation_id = ?, updated_at = ? WHERE account = ? AND region = ? AND id = ? AND status = 'ACTIVE'`)
	if err != nil {
		return false, err
	}
	log, err := tx.Prepare(`INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
		VALUES (?, ?, ?, 'UpdateCertificate', '{"status":"ACTIVE"}', '{"status":"INACTIVE"}', 'baseline', ?)`)
	if err != nil {
		return false, err
	}
	for _, id := range certs {
		if _, err := cert.Exec(warden.NewUUID(), now, scope.Account, scope.Region, id); err != nil {
			return false, err
		}
		if _, err := log.Exec(scope.Account, scope.Region, scope.CertificateARN(id), now); err != nil {
			return false, err
		}
	}
	// Completion, fenced by the lease like Warden's.
	res, err := tx.Exec(`UPDATE bench_queue SET status = 'COMPLETED', lease_owner = '', lease_expires = 0, end_time = ?
		WHERE lease_owner = ? AND status = 'PENDING' AND id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`,
		append([]any{now, owner}, ids...)...)
	if err != nil {
		return false, err
	}
	if c, err := res.RowsAffected(); err != nil || c != int64(len(ids)) {
		return false, fmt.Errorf("plain loop completed %d of %d rows: %v", c, len(ids), err)
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	l.done.Add(int64(len(ids)))
	return true, nil
}

// check: every queue row done once, every certificate deactivated once.
func (l *plainLoop) check(n int) {
	b, f := l.b, l.f
	if c := f.count(`SELECT COUNT(*) FROM bench_queue WHERE status = 'COMPLETED'`); c != n || l.done.Load() != int64(n) {
		b.Fatalf("plain loop: %d rows COMPLETED, %d counted, want %d", c, l.done.Load(), n)
	}
	if c := f.count(`SELECT COUNT(DISTINCT resource_arn) FROM change_log WHERE actor = 'baseline'`); c != n {
		b.Fatalf("plain loop: %d certificates changed, want %d", c, n)
	}
	if c := f.count(`SELECT COUNT(*) FROM change_log WHERE actor = 'baseline'`); c != n {
		b.Fatalf("plain loop: %d certificate changes, want %d", c, n)
	}
	if c := f.count(`SELECT COUNT(*) FROM certificates WHERE id LIKE ? AND status <> 'INACTIVE'`, certPrefix("c")); c != 0 {
		b.Fatalf("plain loop: %d certificates not INACTIVE", c)
	}
}

// countingHandler counts the engines' warnings (lost leases among them).
type countingHandler struct {
	warnings, lost atomic.Int64
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.warnings.Add(1)
	if strings.Contains(r.Message, "lost its lease") {
		h.lost.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
