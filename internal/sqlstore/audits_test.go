package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

// startLoggingAudits configures scope s's logging check and starts n audits.
func startLoggingAudits(t *testing.T, db *DB, s warden.Scope, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	u := warden.AuditConfigurationUpdate{RoleArn: new("arn:aws:iam::" + s.Account + ":role/audit"),
		Checks: map[string]warden.AuditCheckConfiguration{warden.CheckLoggingDisabled: {Enabled: true}}}
	if err := db.UpdateAuditConfiguration(ctx, s, u, now); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := db.StartAuditTask(ctx, s, []string{warden.CheckLoggingDisabled}, now); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClaimAuditTaskTakesTurns: claims go to the account with the fewest
// running tasks, and an account limit skips accounts at the limit.
func TestClaimAuditTaskTakesTurns(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	a := warden.Scope{Account: "111111111111", Region: "us-east-1"}
	b := warden.Scope{Account: "222222222222", Region: "eu-west-1"}
	startLoggingAudits(t, db, a, 3, now) // A's are older: plain FIFO would run all of them first
	startLoggingAudits(t, db, b, 2, now)
	claim := func(limit int) string {
		t.Helper()
		c, ok, err := db.ClaimAuditTask(ctx, "runner", time.Minute, 3, limit, now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "none"
		}
		return c.Scope.Account
	}
	var got []string
	got = append(got, claim(0), claim(1), claim(1), claim(0), claim(0), claim(0))
	want := []string{a.Account, b.Account, "none", a.Account, b.Account, a.Account}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims went to %v, want %v", got, want)
	}
	// An expired lease is no running task: the account is free again.
	if c, ok, err := db.ClaimAuditTask(ctx, "runner", time.Minute, 3, 1, now.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("after the leases expired: ok=%v err=%v", ok, err)
	} else if c.Attempt != 2 {
		t.Errorf("reclaimed task's attempt %d, want 2", c.Attempt)
	}
}

// TestPostgresAuditClaimsFairAcrossNodes: nodes claiming at the same moment
// with an account limit of 1 never give one account two tasks.
func TestPostgresAuditClaimsFairAcrossNodes(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	ctx := context.Background()
	url := pgtest.Database(t, t.TempDir())
	const nodes, perNode, accounts = 4, 4, 3
	dbs := make([]*DB, nodes)
	for i := range dbs {
		db, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: perNode, MasterKey: testMasterKey})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	now := time.Now()
	for i := range accounts {
		startLoggingAudits(t, dbs[0], warden.Scope{Account: fmt.Sprintf("%012d", i+1), Region: "us-east-1"}, 5, now)
	}
	for round := range 5 {
		gate := make(chan struct{})
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for n, db := range dbs {
			for i := range perNode {
				wg.Go(func() {
					<-gate
					c, ok, err := db.ClaimAuditTask(ctx, fmt.Sprintf("node%d-%d", n, i), time.Minute, 100, 1, now)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						claimed[c.Scope.Account]++
						mu.Unlock()
					}
				})
			}
		}
		close(gate)
		wg.Wait()
		if len(claimed) != accounts {
			t.Errorf("round %d: claims %v, want one task of each of the %d accounts", round, claimed, accounts)
		}
		for acct, n := range claimed {
			if n != 1 {
				t.Errorf("round %d: account %s got %d tasks at once, want 1", round, acct, n)
			}
		}
		// The next round: the leases of this one have expired.
		now = now.Add(2 * time.Minute)
	}
}
