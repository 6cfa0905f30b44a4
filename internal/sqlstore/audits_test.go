package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/storetest"
)

// TestPostgresAuditClaimsFairAcrossNodes: nodes claiming at the same moment
// with an account limit of 1 never give one account two tasks.
func TestPostgresAuditClaimsFairAcrossNodes(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	ctx := context.Background()
	const nodes, perNode, accounts = 4, 4, 3
	dbs := postgresNodes(t, nodes, perNode)
	now := time.Now()
	for i := range accounts {
		storetest.StartLoggingAudits(t, dbs[0], warden.Scope{Account: fmt.Sprintf("%012d", i+1), Region: "us-east-1"}, 5, now)
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
