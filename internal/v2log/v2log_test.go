package v2log_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/v2log"
	"github.com/warden-iot/warden/internal/wardentest"
)

var (
	scopeA = warden.Scope{Account: "123456789012", Region: "us-east-1"}
	scopeB = warden.Scope{Account: "111122223333", Region: "us-east-1"}
)

const role = "arn:aws:iam::123456789012:role/logging"

// syncBuffer is the server log, written by the observer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	store *sqlstore.DB
	log   *syncBuffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return &fixture{t: t, ctx: context.Background(), store: wardentest.NewStore(t), log: &syncBuffer{}}
}

// observer starts an observer on the fixture's store; it is stopped at the
// end of the test.
func (f *fixture) observer(opt v2log.Options) *v2log.Observer {
	opt.Store = f.store
	opt.Logger = slog.New(slog.NewJSONHandler(f.log, nil))
	o := v2log.New(opt)
	o.Start()
	f.t.Cleanup(o.Stop)
	return o
}

func (f *fixture) options(s warden.Scope, o warden.V2LoggingOptions) {
	f.t.Helper()
	o.RoleArn = role
	if err := f.store.SetV2LoggingOptions(f.ctx, s, o, time.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) level(s warden.Scope, typ, name, level string) {
	f.t.Helper()
	if err := f.store.SetV2LoggingLevel(f.ctx, s, warden.LogTargetLevel{Target: warden.LogTarget{Type: typ, Name: name}, Level: level}, time.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) group(name, parent string) {
	f.t.Helper()
	if _, _, err := f.store.CreateThingGroup(f.ctx, scopeA, warden.ThingGroup{Name: name, ParentName: parent, ID: warden.NewUUID(),
		CreationDate: time.Now(), LastModifiedDate: time.Now()}, nil); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) thing(name string, groups ...string) {
	f.t.Helper()
	if _, _, err := f.store.CreateThing(f.ctx, scopeA, warden.Thing{Name: name, ID: warden.NewUUID(), CreationDate: time.Now(), LastModifiedDate: time.Now()}); err != nil {
		f.t.Fatal(err)
	}
	for _, g := range groups {
		if err := f.store.AddThingToThingGroup(f.ctx, scopeA, name, g, false, time.Now()); err != nil {
			f.t.Fatal(err)
		}
	}
}

// entries are the stored entries of s, decoded.
func (f *fixture) entries(s warden.Scope) []map[string]any {
	f.t.Helper()
	rows, err := f.store.V2LogEntries(f.ctx, warden.V2LogFilter{Account: s.Account, Region: s.Region})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range rows {
		var m map[string]any
		if err := json.Unmarshal([]byte(r.Entry), &m); err != nil {
			f.t.Fatalf("entry %s: %v", r.Entry, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	took := wardentest.WaitFor(t, 5*time.Second, what, cond)
	t.Logf("%s after %v", what, took.Round(time.Millisecond))
}

func connect(s warden.Scope, status, client, principal, ip, thing string) warden.DataPlaneEvent {
	e := warden.DataPlaneEvent{Scope: s, Type: warden.EventConnect, Status: status, SessionID: warden.NewUUID(),
		ClientID: client, PrincipalID: principal, ThingName: thing, SourceIP: ip, SourcePort: 40000, Protocol: "MQTT",
		At: time.Now()}
	if status == warden.StatusFailure {
		e.Reason, e.Details = "AUTHORIZATION_FAILURE", "Authorization Failure"
	}
	return e
}

var traceID = regexp.MustCompile(`"traceId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`)

// TestEntryShape: every event type makes AWS's log-entry JSON, in the store
// and as one server-log line each; failures are ERROR, the rest INFO.
func TestEntryShape(t *testing.T) {
	f := newFixture(t)
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelInfo})
	o := f.observer(v2log.Options{})
	at := time.Date(2017, 8, 10, 15, 37, 23, 476_000_000, time.UTC)
	cert := strings.Repeat("ab", 32)
	base := warden.DataPlaneEvent{Scope: scopeA, Status: warden.StatusSuccess, ClientID: "dev-1", PrincipalID: cert,
		SourceIP: "205.251.233.181", SourcePort: 13490, Protocol: "MQTT", At: at}
	with := func(mod func(e *warden.DataPlaneEvent)) warden.DataPlaneEvent {
		e := base
		mod(&e)
		return e
	}
	o.Observe(with(func(e *warden.DataPlaneEvent) { e.Type = warden.EventConnect }))
	o.Observe(with(func(e *warden.DataPlaneEvent) {
		e.Type, e.Topic, e.Retain, e.QoS, e.PayloadBytes = warden.EventPublishIn, "dt/dev-1/temp", true, 1, 12
	}))
	o.Observe(with(func(e *warden.DataPlaneEvent) {
		e.Type, e.Status, e.Topic, e.Reason, e.Details = warden.EventPublishIn, warden.StatusFailure, "cmd/x", "AUTHORIZATION_FAILURE", "Authorization Failure"
	}))
	o.Observe(with(func(e *warden.DataPlaneEvent) { e.Type, e.Topics = warden.EventSubscribe, []string{"a/#", "b/+"} }))
	o.Observe(with(func(e *warden.DataPlaneEvent) {
		e.Type, e.DisconnectReason = warden.EventDisconnect, "CLIENT_INITIATED_DISCONNECT"
	}))
	o.Observe(with(func(e *warden.DataPlaneEvent) { e.Type, e.Scope = warden.EventConnect, warden.Scope{} })) // unregistered: no account
	o.Observe(with(func(e *warden.DataPlaneEvent) { e.Type = warden.EventUnsubscribe }))                      // of no filter: nothing
	o.Stop()

	rows, err := f.store.V2LogEntries(f.ctx, warden.V2LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	common := `"timestamp":"2017-08-10 15:37:23.476","logLevel":"%s","traceId":"-","accountId":"123456789012","status":"%s","eventType":"%s","protocol":"MQTT",`
	who := `"clientId":"dev-1","principalId":"` + cert + `","sourceIp":"205.251.233.181","sourcePort":13490`
	want := []string{
		`{` + fmt.Sprintf(common, "INFO", "Success", "Connect") + who + `}`,
		`{` + fmt.Sprintf(common, "INFO", "Success", "Publish-In") + `"topicName":"dt/dev-1/temp",` + who + `,"retain":"True"}`,
		`{` + fmt.Sprintf(common, "ERROR", "Failure", "Publish-In") + `"topicName":"cmd/x",` + who + `,"reason":"AUTHORIZATION_FAILURE","details":"Authorization Failure"}`,
		`{` + fmt.Sprintf(common, "INFO", "Success", "Subscribe") + `"topicName":"a/#",` + who + `}`,
		`{` + fmt.Sprintf(common, "INFO", "Success", "Subscribe") + `"topicName":"b/+",` + who + `}`,
		`{` + fmt.Sprintf(common, "INFO", "Success", "Disconnect") + who + `,"disconnectReason":"CLIENT_INITIATED_DISCONNECT"}`,
	}
	if len(rows) != len(want) {
		t.Fatalf("%d entries stored, want %d", len(rows), len(want))
	}
	traces := map[string]int{}
	for i, r := range rows {
		id := traceID.FindString(r.Entry)
		if id == "" {
			t.Fatalf("entry %s has no UUID traceId", r.Entry)
		}
		traces[id]++
		if got := traceID.ReplaceAllString(r.Entry, `"traceId":"-"`); got != want[i] {
			t.Errorf("entry %d\n got %s\nwant %s", i, got, want[i])
		}
		if r.Scope != scopeA || !r.At.Equal(at) {
			t.Errorf("entry %d stored for %v at %v", i, r.Scope, r.At)
		}
	}
	if len(traces) != 5 {
		t.Errorf("%d distinct traceIds, want 5 (the two subscribe entries share one)", len(traces))
	}
	// One server-log line per entry, the entry as a JSON object.
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(f.log.String()), "\n") {
		var m struct {
			Msg     string
			Account string
			Entry   map[string]any
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if m.Msg == "iot log entry" {
			lines++
			if m.Account != scopeA.Account || m.Entry["eventType"] == nil {
				t.Errorf("log line %s", line)
			}
		}
	}
	if lines != len(want) {
		t.Errorf("%d log lines, want %d:\n%s", lines, len(want), f.log.String())
	}
	if o.Written() != uint64(len(want)) || o.Dropped() != 0 {
		t.Errorf("written %d dropped %d", o.Written(), o.Dropped())
	}
}

// TestLevelResolution: options, the four target types and the group
// hierarchy decide which entries are written.
func TestLevelResolution(t *testing.T) {
	f := newFixture(t)
	// Two hierarchies: building > floor-1 > room-1 and fleet.
	f.group("building", "")
	f.group("floor-1", "building")
	f.group("room-1", "floor-1")
	f.group("floor-2", "building")
	f.group("fleet", "")
	f.thing("t-room", "room-1")
	f.thing("t-floor2", "floor-2")
	f.thing("t-two", "floor-2", "fleet")
	f.thing("t-none")
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelError})
	f.level(scopeA, warden.LogTargetClientID, "c-debug", warden.LogLevelDebug)
	f.level(scopeA, warden.LogTargetClientID, "c-off", warden.LogLevelDisabled)
	f.level(scopeA, warden.LogTargetPrincipalID, "p-info", warden.LogLevelInfo)
	f.level(scopeA, warden.LogTargetSourceIP, "10.0.0.9", warden.LogLevelInfo)
	f.level(scopeA, warden.LogTargetSourceIP, "2001:db8::9", warden.LogLevelWarn)
	f.level(scopeA, warden.LogTargetThingGroup, "building", warden.LogLevelInfo)
	f.level(scopeA, warden.LogTargetThingGroup, "room-1", warden.LogLevelDisabled)
	f.level(scopeA, warden.LogTargetThingGroup, "fleet", warden.LogLevelDebug)
	// Account B: options set, every log disabled, although its default is DEBUG.
	f.options(scopeB, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelDebug, DisableAllLogs: true})
	o := f.observer(v2log.Options{})

	S, F := warden.StatusSuccess, warden.StatusFailure
	cases := []struct {
		name                                 string
		s                                    warden.Scope
		status, client, principal, ip, thing string
		logged                               bool
	}{
		{"default ERROR drops a success", scopeA, S, "c", "p", "10.0.0.1", "", false},
		{"default ERROR keeps a failure", scopeA, F, "c", "p", "10.0.0.1", "", true},
		{"client DEBUG", scopeA, S, "c-debug", "p", "10.0.0.1", "", true},
		{"client DISABLED drops a failure", scopeA, F, "c-off", "p", "10.0.0.1", "", false},
		{"client beats principal", scopeA, S, "c-off", "p-info", "10.0.0.9", "", false},
		{"principal INFO", scopeA, S, "c", "p-info", "10.0.0.1", "", true},
		{"principal beats source IP and group", scopeA, S, "c", "p-info", "10.0.0.1", "t-room", true},
		{"source IP INFO", scopeA, S, "c", "p", "10.0.0.9", "", true},
		{"source IP as IPv4-mapped IPv6", scopeA, S, "c", "p", "::ffff:10.0.0.9", "", true},
		{"source IP WARN drops INFO", scopeA, S, "c", "p", "2001:db8::9", "", false},
		{"source IP beats group", scopeA, S, "c", "p", "2001:db8::9", "t-floor2", false},
		{"group INFO through the hierarchy", scopeA, S, "c", "p", "10.0.0.1", "t-floor2", true},
		{"child group DISABLED overrides parent", scopeA, F, "c", "p", "10.0.0.1", "t-room", false},
		{"most verbose hierarchy wins", scopeA, S, "c", "p", "10.0.0.1", "t-two", true},
		{"thing in no group: default", scopeA, S, "c", "p", "10.0.0.1", "t-none", false},
		{"unknown thing: default", scopeA, F, "c", "p", "10.0.0.1", "t-gone", true},
		{"disableAllLogs", scopeB, F, "c", "p", "10.0.0.1", "", false},
		{"no options", warden.Scope{Account: "999999999999", Region: "us-east-1"}, F, "c", "p", "10.0.0.1", "", false},
	}
	for i, c := range cases {
		e := connect(c.s, c.status, c.client, c.principal, c.ip, c.thing)
		e.SessionID = fmt.Sprint(i)
		e.SourcePort = 1000 + i // identifies the case in the entry
		o.Observe(e)
	}
	o.Stop()
	got := map[int]bool{}
	for _, s := range []warden.Scope{scopeA, scopeB, {Account: "999999999999", Region: "us-east-1"}} {
		for _, e := range f.entries(s) {
			got[int(e["sourcePort"].(float64))-1000] = true
		}
	}
	for i, c := range cases {
		if got[i] != c.logged {
			t.Errorf("%s: logged %v, want %v", c.name, got[i], c.logged)
		}
	}
}

// TestSettingsFollowTheChangeLog: a running observer picks up changed
// options, levels and group memberships from the change log, without
// waiting for its cache to expire.
func TestSettingsFollowTheChangeLog(t *testing.T) {
	f := newFixture(t)
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelError})
	f.options(scopeB, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelInfo}) // B logs the markers
	f.group("quiet", "")
	f.thing("t0", "quiet")
	f.thing("t1")
	o := f.observer(v2log.Options{Refresh: 20 * time.Millisecond, MaxAge: time.Hour})
	port := 0
	// judged emits a success event of client (thing t1), then an event of
	// account B as a marker; once the marker is stored the success was
	// judged, and judged says whether it was logged.
	judged := func(client, thing string) bool {
		t.Helper()
		port += 2
		ok := connect(scopeA, warden.StatusSuccess, client, "p", "10.0.0.1", thing)
		ok.SourcePort = port
		marker := connect(scopeB, warden.StatusSuccess, "marker", "p", "10.0.0.1", "")
		marker.SourcePort = port + 1
		o.Observe(ok)
		o.Observe(marker)
		var logged, seen bool
		for start := time.Now(); !seen; time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatal("the marker entry was not stored within 5 s")
			}
			// The marker first: once it is stored, so is an entry of
			// the event before it.
			for _, en := range f.entries(scopeB) {
				seen = seen || int(en["sourcePort"].(float64)) == marker.SourcePort
			}
		}
		for _, en := range f.entries(scopeA) {
			logged = logged || int(en["sourcePort"].(float64)) == ok.SourcePort
		}
		return logged
	}
	notLogged := func(what, client string) {
		t.Helper()
		if judged(client, "t1") {
			t.Fatalf("%s: the success was logged", what)
		}
	}
	becomesLogged := func(what, client string) {
		t.Helper()
		waitFor(t, what, func() bool { return judged(client, "t1") })
	}
	becomesNotLogged := func(what, client string) {
		t.Helper()
		waitFor(t, what, func() bool { return !judged(client, "t1") })
	}
	notLogged("default ERROR", "c1")
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelInfo})
	becomesLogged("default INFO", "c1")
	f.level(scopeA, warden.LogTargetThingGroup, "quiet", warden.LogLevelDisabled)
	waitFor(t, "group DISABLED for t0, a member", func() bool { return !judged("c0", "t0") })
	if !judged("c1", "t1") { // t1's groups are now cached
		t.Fatal("the level of a group t1 is not in applies to t1")
	}
	// The group's level reaches t1 through the membership, a change of the
	// thing that the observer must have read.
	if err := f.store.AddThingToThingGroup(f.ctx, scopeA, "t1", "quiet", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	becomesNotLogged("group DISABLED through a new membership", "c1")
	f.level(scopeA, warden.LogTargetClientID, "c1", warden.LogLevelDebug)
	becomesLogged("client level DEBUG", "c1")
	if err := f.store.DeleteV2LoggingLevel(f.ctx, scopeA, warden.LogTarget{Type: warden.LogTargetClientID, Name: "c1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	becomesNotLogged("client level deleted", "c1")
	f.level(scopeA, warden.LogTargetClientID, "c2", warden.LogLevelInfo)
	becomesLogged("another client's level", "c2")
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelDebug, DisableAllLogs: true})
	becomesNotLogged("disableAllLogs", "c2")
}

// TestObserveNeverBlocks: with the worker stalled, Observe drops what does
// not fit the queue and counts it; what was queued is still logged.
func TestObserveNeverBlocks(t *testing.T) {
	f := newFixture(t)
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: warden.LogLevelInfo})
	o := v2log.New(v2log.Options{Store: f.store, Logger: slog.New(slog.NewJSONHandler(f.log, nil)), QueueSize: 3})
	done := make(chan struct{})
	go func() {
		for range 10 {
			o.Observe(connect(scopeA, warden.StatusSuccess, "c", "p", "10.0.0.1", ""))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked with a full queue")
	}
	if o.Dropped() != 7 {
		t.Fatalf("dropped %d, want 7", o.Dropped())
	}
	o.Start()
	o.Stop()
	if n := len(f.entries(scopeA)); n != 3 || o.Written() != 3 {
		t.Fatalf("%d entries stored, %d written; want the 3 queued", n, o.Written())
	}
}

// TestPrune: entries older than the retention go, and so do all but the
// newest of an account over the cap; the observer prunes on its own.
func TestPrune(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	var rows []warden.V2LogEntry
	for i := range 10 {
		rows = append(rows, warden.V2LogEntry{Scope: scopeA, At: now.Add(-48 * time.Hour), Entry: fmt.Sprintf(`{"old":%d}`, i)})
	}
	for i := range 30 {
		rows = append(rows, warden.V2LogEntry{Scope: scopeA, At: now, Entry: fmt.Sprintf(`{"a":%d}`, i)})
	}
	for i := range 5 {
		rows = append(rows, warden.V2LogEntry{Scope: scopeB, At: now, Entry: fmt.Sprintf(`{"b":%d}`, i)})
	}
	if err := f.store.AppendV2LogEntries(f.ctx, rows); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.PruneV2LogEntries(f.ctx, now.Add(-24*time.Hour), 20)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Fatalf("pruned %d, want 10 old and 10 over the cap", n)
	}
	a, b := f.entries(scopeA), f.entries(scopeB)
	if len(a) != 20 || a[0]["a"] != float64(10) || len(b) != 5 {
		t.Fatalf("kept A %v, B %d", a, len(b))
	}
	// The observer's own pruning.
	if err := f.store.AppendV2LogEntries(f.ctx, rows[:10]); err != nil {
		t.Fatal(err)
	}
	f.observer(v2log.Options{Refresh: 10 * time.Millisecond, PruneEvery: 10 * time.Millisecond})
	waitFor(t, "observer prunes old entries", func() bool { return len(f.entries(scopeA)) == 20 })
}

// TestSince: the store filters entries by time and account.
func TestSince(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	if err := f.store.AppendV2LogEntries(f.ctx, []warden.V2LogEntry{
		{Scope: scopeA, At: now.Add(-time.Hour), Entry: `{"n":1}`},
		{Scope: scopeA, At: now, Entry: `{"n":2}`},
		{Scope: scopeB, At: now, Entry: `{"n":3}`},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.V2LogEntries(f.ctx, warden.V2LogFilter{Account: scopeA.Account, Since: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Entry != `{"n":2}` {
		t.Fatalf("entries %+v", got)
	}
	all, err := f.store.V2LogEntries(f.ctx, warden.V2LogFilter{AfterSeq: got[0].Seq - 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("after seq: %+v", all)
	}
}
