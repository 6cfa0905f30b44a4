package e2e_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine/enginetest"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

// TestMultiNodeMitigationSurvivesSIGKILL runs three `warden serve` nodes on
// one PostgreSQL schema, starts a mitigation task over 20,000 findings
// (deactivate the certificate, quarantine its thing) through one of them,
// SIGKILLs a node that holds a lease mid-task, and checks that the two
// survivors finish the task with every effect exactly once, that more than
// one node did the work, and that the survivors answer alike.
func TestMultiNodeMitigationSurvivesSIGKILL(t *testing.T) {
	mnSkip(t)
	const n = 20000
	const taskID = "multinode"
	ctx := context.Background()
	bin := buildWarden(t)
	root := t.TempDir()
	database := pgtest.Database(t, root)
	scope := warden.Scope{Account: warden.DefaultAccount, Region: "us-east-1"}

	nodes := mnStartNodes(t, bin, database, root, 3)
	key, secret := mnCredentials(t, nodes)
	db := mnOpenDB(t, database)
	began := time.Now()
	seeded, err := enginetest.Seed(ctx, db, enginetest.Options{Scope: scope, Findings: n})
	if err != nil {
		t.Fatal(err)
	}
	mnAnalyze(t, db)
	t.Logf("seeded %d findings in %v", n, time.Since(began).Round(time.Millisecond))

	c0, c1 := nodes[0].client(key, secret), nodes[1].client(key, secret)
	if _, err := c0.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine")}); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/mitigation"
	for name, p := range map[string]*iottypes.MitigationActionParams{
		"deactivate": {UpdateDeviceCertificateParams: &iottypes.UpdateDeviceCertificateParams{Action: iottypes.DeviceCertificateUpdateActionDeactivate}},
		"quarantine": {AddThingsToThingGroupParams: &iottypes.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}},
	} {
		if _, err := c0.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String(name), RoleArn: aws.String(role), ActionParams: p}); err != nil {
			t.Fatal(err)
		}
	}
	began = time.Now()
	if _, err := c1.StartAuditMitigationActionsTask(ctx, &iot.StartAuditMitigationActionsTaskInput{
		TaskId: aws.String(taskID), ClientRequestToken: aws.String(taskID),
		Target:                     &iottypes.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("a3aea009955e501a31b764abe1bebd3d")},
		AuditCheckToActionsMapping: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {"deactivate", "quarantine"}},
	}); err != nil {
		t.Fatal(err)
	}

	// Once some findings are done, kill a node that holds a lease right
	// then, so that its batch must be claimed again by a survivor.
	var victim *mnNode
	// The deadlines are generous: a loaded 2-core machine applies a few
	// hundred findings a second on PostgreSQL, with or without its peers.
	for deadline := time.Now().Add(60 * time.Second); victim == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task did not reach a fifth of its findings in 60 s")
		}
		done := mnSucceeded(t, c0, taskID)
		if done >= n {
			t.Fatalf("the task finished before a node could be killed (%d findings)", done)
		}
		if done < n/5 {
			continue
		}
		victim = mnLeaseHolder(t, db, nodes)
		if victim == nil && done > n/2 {
			victim = nodes[0] // no lease seen: kill one all the same
		}
		if victim != nil {
			victim.kill(t)
			t.Logf("SIGKILL %s with %d of %d findings done (%v after the start); batches so far: %s",
				victim.name, done, n, time.Since(began).Round(time.Millisecond), mnBatchSummary(nodes))
		}
	}
	var survivors []*mnNode
	for _, nd := range nodes {
		if nd != victim {
			survivors = append(survivors, nd)
		}
	}

	sc := survivors[0].client(key, secret)
	killedAt := time.Now()
	for {
		d, err := sc.DescribeAuditMitigationActionsTask(ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
		if err != nil {
			t.Fatal(err)
		}
		if d.TaskStatus != iottypes.AuditMitigationActionsTaskStatusInProgress {
			st := d.TaskStatistics["DEVICE_CERTIFICATE_EXPIRING_CHECK"]
			if d.TaskStatus != iottypes.AuditMitigationActionsTaskStatusCompleted || aws.ToInt64(st.SucceededFindingsCount) != n {
				t.Fatalf("task %s with %s, want COMPLETED with %d succeeded", d.TaskStatus, mnJSON(t, st), n)
			}
			break
		}
		if time.Since(killedAt) > 120*time.Second {
			t.Fatalf("the task did not complete within 120 s of the kill: %s", mnJSON(t, d.TaskStatistics))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("COMPLETED %v after the kill, %v after the start; batches: %s", time.Since(killedAt).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond), mnBatchSummary(nodes))

	// Every execution done, none under a lease; every effect exactly once.
	count := counter(t, db)
	if c := count(`SELECT COUNT(*) FROM mitigation_executions WHERE status <> 'COMPLETED' OR lease_owner <> ''`); c != 0 {
		t.Errorf("%d executions not COMPLETED or still leased", c)
	}
	if c := count(`SELECT COUNT(*) FROM mitigation_executions`); c != 2*n {
		t.Errorf("%d executions, want %d", c, 2*n)
	}
	t.Logf("%d findings were claimed more than once (the killed node's batch, and any other whose lease ran out)",
		count(`SELECT COUNT(*) FROM mitigation_executions WHERE action_index = 0 AND attempt > 1`))
	rows, err := db.Query(`SELECT resource_arn, operation, actor FROM change_log`)
	if err != nil {
		t.Fatal(err)
	}
	effects := map[string]map[string]int{} // operation → resource → rows
	for rows.Next() {
		var arn, op, actor string
		if err := rows.Scan(&arn, &op, &actor); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(actor, "execution:"+taskID+"/") {
			continue // the API calls that set the test up
		}
		if effects[op] == nil {
			effects[op] = map[string]int{}
		}
		effects[op][arn]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(effects) != 2 || len(effects["UpdateCertificate"]) != n || len(effects["AddThingToThingGroup"]) != n {
		t.Errorf("the change log holds effects on %v resources by operation, want %d UpdateCertificate and %d AddThingToThingGroup",
			mnLens(effects), n, n)
	}
	for _, s := range seeded {
		if c := effects["UpdateCertificate"][scope.CertificateARN(s.CertificateID)]; c != 1 {
			t.Fatalf("certificate %s deactivated %d times in the change log, want once", s.CertificateID, c)
		}
		if c := effects["AddThingToThingGroup"][warden.ThingARN(scope, s.Things[0])]; c != 1 {
			t.Fatalf("thing %s added to the group %d times in the change log, want once", s.Things[0], c)
		}
	}
	if c := count(`SELECT COUNT(*) FROM certificates WHERE status <> 'INACTIVE'`); c != 0 {
		t.Errorf("%d certificates not INACTIVE", c)
	}
	if c := count(`SELECT COUNT(*) FROM thing_group_members WHERE group_name = 'quarantine'`); c != n {
		t.Errorf("%d things in quarantine, want %d", c, n)
	}

	// The work was shared: the batches each node logged having committed.
	took := 0
	total := 0
	for _, nd := range nodes {
		_, f, _ := nd.batchCounts()
		total += f
		if f > 0 {
			took++
		}
	}
	if took < 2 {
		t.Errorf("only %d node(s) committed mitigation batches (%s); the work was not shared", took, mnBatchSummary(nodes))
	}
	if total > n {
		t.Errorf("the nodes logged %d findings applied, more than the task's %d", total, n)
	}

	// Every survivor answers alike; a nextToken of one pages on the other.
	f := seeded[n/2]
	now := time.Now()
	reads := []struct {
		name string
		call func(c *iot.Client) (any, error)
	}{
		{"DescribeAuditMitigationActionsTask", func(c *iot.Client) (any, error) {
			return c.DescribeAuditMitigationActionsTask(ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
		}},
		{"ListAuditMitigationActionsTasks", func(c *iot.Client) (any, error) {
			return c.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{
				StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour))})
		}},
		{"ListAuditMitigationActionsExecutions", func(c *iot.Client) (any, error) {
			return c.ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{
				TaskId: aws.String(taskID), FindingId: aws.String(f.FindingID), MaxResults: aws.Int32(1)})
		}},
		{"DescribeMitigationAction", func(c *iot.Client) (any, error) {
			return c.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("quarantine")})
		}},
		{"ListMitigationActions", func(c *iot.Client) (any, error) {
			return c.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{})
		}},
		{"DescribeThing", func(c *iot.Client) (any, error) {
			return c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(f.Things[0])})
		}},
		{"DescribeCertificate", func(c *iot.Client) (any, error) {
			return c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(f.CertificateID)})
		}},
		{"ListThingsInThingGroup", func(c *iot.Client) (any, error) {
			return c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("quarantine"), MaxResults: aws.Int32(5)})
		}},
	}
	clients := []*iot.Client{survivors[0].client(key, secret), survivors[1].client(key, secret)}
	for _, r := range reads {
		var first string
		for i, c := range clients {
			out, err := r.call(c)
			if err != nil {
				t.Fatalf("%s on %s: %v", r.name, survivors[i].name, err)
			}
			got := mnJSON(t, out)
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("%s answers differ:\n%s: %s\n%s: %s", r.name, survivors[0].name, first, survivors[i].name, got)
			}
		}
	}
	page1, err := clients[0].ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{
		TaskId: aws.String(taskID), FindingId: aws.String(f.FindingID), MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	page2, err := clients[1].ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{
		TaskId: aws.String(taskID), FindingId: aws.String(f.FindingID), MaxResults: aws.Int32(1), NextToken: page1.NextToken})
	if err != nil {
		t.Fatalf("page 2 on %s with the nextToken of %s: %v", survivors[1].name, survivors[0].name, err)
	}
	if len(page1.ActionsExecutions) != 1 || len(page2.ActionsExecutions) != 1 || page2.NextToken != nil ||
		aws.ToString(page1.ActionsExecutions[0].ActionName) != "deactivate" || aws.ToString(page2.ActionsExecutions[0].ActionName) != "quarantine" {
		t.Errorf("paging the finding's executions across nodes: page 1 %s, page 2 %s", mnJSON(t, page1.ActionsExecutions), mnJSON(t, page2))
	}
	for _, nd := range survivors {
		nd.stop(t)
	}
	mnCheckLogs(t, nodes)
}

// TestMultiNodeRaceStartAndCancel starts two nodes on an empty schema at
// once, then, round after round, sends both the same
// StartAuditMitigationActionsTask at the same moment, and then both the
// CancelAuditMitigationActionsTask of that task.
func TestMultiNodeRaceStartAndCancel(t *testing.T) {
	mnSkip(t)
	const n = 8000
	const rounds = 8
	ctx := context.Background()
	bin := buildWarden(t)
	root := t.TempDir()
	database := pgtest.Database(t, root)
	scope := warden.Scope{Account: warden.DefaultAccount, Region: "us-east-1"}

	// Both come up on the empty schema: migrations run once, one key.
	began := time.Now()
	nodes := mnStartNodes(t, bin, database, root, 2)
	t.Logf("both nodes listening %v after their start", time.Since(began).Round(time.Millisecond))
	key, secret := mnCredentials(t, nodes)
	db := mnOpenDB(t, database)
	var dup, keys int
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("%d migrations were recorded more than once", dup)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM access_keys`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Errorf("%d access keys after the first start, want 1", keys)
	}

	if _, err := enginetest.Seed(ctx, db, enginetest.Options{Scope: scope, Findings: n, NoThings: true}); err != nil {
		t.Fatal(err)
	}
	mnAnalyze(t, db)
	clients := []*iot.Client{nodes[0].client(key, secret), nodes[1].client(key, secret)}
	if _, err := clients[0].CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("deactivate"),
		RoleArn:      aws.String("arn:aws:iam::123456789012:role/mitigation"),
		ActionParams: &iottypes.MitigationActionParams{UpdateDeviceCertificateParams: &iottypes.UpdateDeviceCertificateParams{Action: iottypes.DeviceCertificateUpdateActionDeactivate}},
	}); err != nil {
		t.Fatal(err)
	}

	for round := range rounds {
		taskID := fmt.Sprintf("race-%d", round)
		// Even rounds: one clientRequestToken (a retried request: both
		// succeed, one task). Odd rounds: a token each (two callers:
		// one wins, the other gets TaskAlreadyExistsException).
		sameToken := round%2 == 0
		// Rounds 2, 3, 6, 7: cancel once findings are being applied;
		// the others at once, mostly before the fan-out.
		midway := round/2%2 == 1
		starts := mnRace(clients, func(i int, c *iot.Client) error {
			token := taskID
			if !sameToken {
				token = fmt.Sprintf("%s-node%d", taskID, i)
			}
			_, err := c.StartAuditMitigationActionsTask(ctx, &iot.StartAuditMitigationActionsTaskInput{
				TaskId: aws.String(taskID), ClientRequestToken: aws.String(token),
				Target:                     &iottypes.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("a3aea009955e501a31b764abe1bebd3d")},
				AuditCheckToActionsMapping: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {"deactivate"}},
			})
			return err
		})
		ok, codes := mnOutcomes(starts)
		switch {
		case sameToken && ok != 2:
			t.Fatalf("round %d: one token, start answers %v; want both to succeed", round, codes)
		case !sameToken && (ok != 1 || codes[0]+codes[1] != "TaskAlreadyExistsException"):
			t.Fatalf("round %d: two tokens, start answers %v; want one success and one TaskAlreadyExistsException", round, codes)
		}
		var tasks int
		if err := db.QueryRow(`SELECT COUNT(*) FROM mitigation_tasks WHERE task_id = ?`, taskID).Scan(&tasks); err != nil {
			t.Fatal(err)
		}
		if tasks != 1 {
			t.Fatalf("round %d: %d tasks %s, want 1", round, tasks, taskID)
		}

		if midway {
			// Let the engines apply some findings first, so that the
			// cancel also meets executions under a live lease.
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Millisecond) {
				done := mnSucceeded(t, clients[round%2], taskID)
				if done >= n {
					t.Fatalf("round %d: the task finished before it could be canceled", round)
				}
				if done > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d: no finding succeeded in 20 s", round)
				}
			}
		}
		cancels := mnRace(clients, func(_ int, c *iot.Client) error {
			_, err := c.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
			return err
		})
		ok, codes = mnOutcomes(cancels)
		if ok != 1 || codes[0]+codes[1] != "InvalidRequestException" {
			// Both InvalidRequest: the task ended before the cancels came.
			t.Fatalf("round %d: cancel answers %v; want one success and one InvalidRequestException (task no longer IN_PROGRESS)", round, codes)
		}

		// Leased executions finish, the rest of the fan-out is canceled:
		// then nothing is PENDING and the statistics add up.
		var st mnTaskCounts
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st = mnCounts(t, db, taskID)
			if st.fanoutDone && st.pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: 20 s after the cancel: %+v", round, st)
			}
		}
		var answers []string
		for i, c := range clients {
			d, err := c.DescribeAuditMitigationActionsTask(ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
			if err != nil {
				t.Fatalf("round %d: describe on %s: %v", round, nodes[i].name, err)
			}
			answers = append(answers, mnJSON(t, d))
			s := d.TaskStatistics["DEVICE_CERTIFICATE_EXPIRING_CHECK"]
			stats := [5]int64{aws.ToInt64(s.TotalFindingsCount), aws.ToInt64(s.SucceededFindingsCount), aws.ToInt64(s.FailedFindingsCount),
				aws.ToInt64(s.SkippedFindingsCount), aws.ToInt64(s.CanceledFindingsCount)}
			want := [5]int64{n, st.completed, st.failed, st.skipped, st.canceled}
			if d.TaskStatus != iottypes.AuditMitigationActionsTaskStatusCanceled || stats != want {
				t.Fatalf("round %d: %s says %s with statistics (total, succeeded, failed, skipped, canceled) %v; the executions say %v",
					round, nodes[i].name, d.TaskStatus, stats, want)
			}
		}
		if st.canceled == 0 {
			t.Errorf("round %d: no finding was canceled (%+v)", round, st)
		}
		if answers[0] != answers[1] {
			t.Errorf("round %d: the nodes describe the task differently:\n%s\n%s", round, answers[0], answers[1])
		}
		t.Logf("round %d (one token: %v, cancel midway: %v): start answers %q, cancel answers %q; %d findings succeeded, %d canceled",
			round, sameToken, midway, mnCodes(starts), mnCodes(cancels), st.completed, st.canceled)
	}
	for _, nd := range nodes {
		nd.stop(t)
	}
	mnCheckLogs(t, nodes)
}

func mnSkip(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs several servers; skipped in -short mode")
	}
	pgtest.SkipUnlessPostgres(t)
}

func mnOpenDB(t *testing.T, database string) *sql.DB {
	t.Helper()
	db, err := sqlstore.OpenSQL(sqlstore.Options{Database: database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mnAnalyze gathers statistics on the tables Seed filled behind the
// servers' backs, as autovacuum would within a minute or so: without them
// PostgreSQL plans the deactivation's UPDATE of one certificate as a scan of
// every certificate of the account, and 20,000 findings take minutes.
func mnAnalyze(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec(`ANALYZE certificates, things, thing_principals, audit_findings`); err != nil {
		t.Fatal(err)
	}
}

// mnNode is a `warden serve` process on the shared database, with what its
// log has told.
type mnNode struct {
	wardenProcess
	name string
	dir  string

	mu            sync.Mutex
	batches       int      // mitigation batches it logged having committed
	batchFindings int      // their findings
	leasesLost    int      // batches it found claimed by another when it committed
	problems      []string // error-level log lines and 5xx answers
}

// mnMasterKey seals the secrets of the nodes' shared database.
const mnMasterKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="

// mnStartNodes starts count nodes at once, each with its own data dir
// under root, and waits until all listen.
func mnStartNodes(t *testing.T, bin, database, root string, count int) []*mnNode {
	t.Helper()
	nodes := make([]*mnNode, count)
	listening := make([]chan string, count)
	for i := range nodes {
		nd := &mnNode{name: fmt.Sprintf("node%d", i), dir: filepath.Join(root, fmt.Sprintf("node%d", i)), wardenProcess: wardenProcess{done: make(chan struct{})}}
		nd.cmd = exec.Command(bin, "serve", "--database", database, "--data-dir", nd.dir, "--listen", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0",
			"--mitigation-lease", "3s", "--sync", "normal", "--log-level", "debug")
		nd.cmd.Env = append(os.Environ(), "WARDEN_MASTER_KEY="+mnMasterKey) // every node shares it
		stderr, err := nd.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = nd.cmd.Process.Kill()
			<-nd.done
			if t.Failed() {
				for _, p := range nd.takeProblems() {
					t.Logf("%s logged: %s", nd.name, p)
				}
			}
		})
		listening[i] = make(chan string, 1)
		go nd.readLog(stderr, listening[i])
		nodes[i] = nd
	}
	for i, nd := range nodes {
		select {
		case nd.addr = <-listening[i]:
		case <-nd.done:
			t.Fatalf("%s exited before listening: %v", nd.name, nd.problemList())
		case <-time.After(30 * time.Second):
			t.Fatalf("%s logged no listening address in 30 s", nd.name)
		}
	}
	return nodes
}

// readLog follows the node's JSON log until the process ends.
func (nd *mnNode) readLog(stderr io.Reader, listening chan<- string) {
	defer close(nd.done)
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Level    string `json:"level"`
			Msg      string `json:"msg"`
			Addr     string `json:"addr"`
			Findings int    `json:"findings"`
			Status   int    `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			nd.problem("not a log line: " + sc.Text())
			continue
		}
		switch {
		case line.Msg == "listening":
			select {
			case listening <- line.Addr:
			default:
			}
		case line.Msg == "mitigation batch":
			nd.mu.Lock()
			nd.batches++
			nd.batchFindings += line.Findings
			nd.mu.Unlock()
		case line.Msg == "mitigation batch lost its lease":
			nd.mu.Lock()
			nd.leasesLost++
			nd.mu.Unlock()
		case line.Level == "ERROR", line.Msg == "request" && line.Status >= 500:
			nd.problem(sc.Text())
		}
	}
	_ = nd.cmd.Wait()
}

func (nd *mnNode) problem(s string) {
	nd.mu.Lock()
	nd.problems = append(nd.problems, s)
	nd.mu.Unlock()
}

func (nd *mnNode) takeProblems() []string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	p := nd.problems
	nd.problems = nil
	return p
}

func (nd *mnNode) problemList() []string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return append([]string(nil), nd.problems...)
}

func (nd *mnNode) batchCounts() (batches, findings, leasesLost int) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.batches, nd.batchFindings, nd.leasesLost
}

// client signs with the shared key and never retries, so that a 500 or a
// conflict reaches the test as it was answered.
func (nd *mnNode) client(key, secret string) *iot.Client {
	cfg := wardentest.AWSConfig("http://"+nd.addr, key, secret, wardentest.Region)
	cfg.HTTPClient, cfg.Retryer = nil, func() aws.Retryer { return aws.NopRetryer{} }
	return iot.NewFromConfig(cfg)
}

// mnCredentials reads the key of account 123456789012 from the one data
// dir that has a credentials file: only the node that created it writes it.
func mnCredentials(t *testing.T, nodes []*mnNode) (key, secret string) {
	t.Helper()
	var found []string
	for _, nd := range nodes {
		data, err := os.ReadFile(filepath.Join(nd.dir, "credentials"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, nd.name)
		for _, line := range strings.Split(string(data), "\n") {
			name, value, _ := strings.Cut(line, "=")
			switch strings.TrimSpace(name) {
			case "aws_access_key_id":
				key = strings.TrimSpace(value)
			case "aws_secret_access_key":
				secret = strings.TrimSpace(value)
			}
		}
	}
	if len(found) != 1 || key == "" || secret == "" {
		t.Fatalf("credentials files in the data dirs of %v (want exactly one, with a key)", found)
	}
	return key, secret
}

// mnLeaseHolder is the node whose engine holds a live lease now, if any.
func mnLeaseHolder(t *testing.T, db *sql.DB, nodes []*mnNode) *mnNode {
	t.Helper()
	rows, err := db.Query(`SELECT DISTINCT lease_owner FROM mitigation_executions WHERE lease_owner <> '' AND status = 'PENDING'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		if err := rows.Scan(&owner); err != nil {
			t.Fatal(err)
		}
		// mitigation-<host>-<pid>-<random>
		parts := strings.Split(owner, "-")
		if len(parts) < 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil {
			continue
		}
		for _, nd := range nodes {
			if nd.cmd.Process.Pid == pid {
				return nd
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return nil
}

func mnSucceeded(t *testing.T, c *iot.Client, taskID string) int {
	t.Helper()
	d, err := c.DescribeAuditMitigationActionsTask(context.Background(), &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(taskID)})
	if err != nil {
		t.Fatal(err)
	}
	return int(aws.ToInt64(d.TaskStatistics["DEVICE_CERTIFICATE_EXPIRING_CHECK"].SucceededFindingsCount))
}

func mnBatchSummary(nodes []*mnNode) string {
	var parts []string
	for _, nd := range nodes {
		b, f, lost := nd.batchCounts()
		parts = append(parts, fmt.Sprintf("%s %d batches/%d findings (%d leases lost)", nd.name, b, f, lost))
	}
	return strings.Join(parts, ", ")
}

// mnCheckLogs fails the test for every error-level line and 5xx answer any
// node logged: a conflict between nodes must never surface as one.
func mnCheckLogs(t *testing.T, nodes []*mnNode) {
	t.Helper()
	for _, nd := range nodes {
		for _, p := range nd.takeProblems() {
			t.Errorf("%s logged: %s", nd.name, p)
		}
	}
}

// mnRace runs call on every client at the same moment and returns the
// errors, by client.
func mnRace(clients []*iot.Client, call func(i int, c *iot.Client) error) []error {
	errs := make([]error, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			errs[i] = call(i, c)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// mnOutcomes counts the successes and names each error's AWS code ("" for
// a success; the error itself when it has none).
func mnOutcomes(errs []error) (ok int, codes []string) {
	for _, err := range errs {
		var api smithy.APIError
		switch {
		case err == nil:
			ok++
			codes = append(codes, "")
		case errors.As(err, &api):
			codes = append(codes, api.ErrorCode())
		default:
			codes = append(codes, err.Error())
		}
	}
	return ok, codes
}

func mnCodes(errs []error) []string {
	_, codes := mnOutcomes(errs)
	return codes
}

// mnTaskCounts are a task's findings by the status of their first
// execution (one action per finding here), and whether fan-out is done.
type mnTaskCounts struct {
	fanoutDone                                         bool
	pending, completed, failed, skipped, canceled, all int64
}

func mnCounts(t *testing.T, db *sql.DB, taskID string) mnTaskCounts {
	t.Helper()
	var c mnTaskCounts
	var done int
	if err := db.QueryRow(`SELECT fanout_done FROM mitigation_tasks WHERE task_id = ?`, taskID).Scan(&done); err != nil {
		t.Fatal(err)
	}
	c.fanoutDone = done != 0
	rows, err := db.Query(`SELECT e.status, COUNT(*) FROM mitigation_executions e JOIN mitigation_tasks t ON t.seq = e.task_seq
		WHERE t.task_id = ? AND e.action_index = 0 GROUP BY e.status`, taskID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var k int64
		if err := rows.Scan(&status, &k); err != nil {
			t.Fatal(err)
		}
		c.all += k
		switch status {
		case warden.ExecutionPending:
			c.pending = k
		case warden.ExecutionCompleted:
			c.completed = k
		case warden.ExecutionFailed:
			c.failed = k
		case warden.ExecutionSkipped:
			c.skipped = k
		case warden.ExecutionCanceled:
			c.canceled = k
		default:
			t.Fatalf("execution status %q", status)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// mnJSON is v as JSON; SDK outputs' metadata marshals as {} and so does
// not tell nodes apart.
func mnJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mnLens(m map[string]map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
