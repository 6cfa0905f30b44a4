package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/v2log"
)

func lvlSet(t *testing.T, c *iot.Client, typ types.LogTargetType, name string, level types.LogLevel) error {
	t.Helper()
	in := &iot.SetV2LoggingLevelInput{LogTarget: &types.LogTarget{TargetType: typ}, LogLevel: level}
	if name != "" {
		in.LogTarget.TargetName = aws.String(name)
	}
	_, err := c.SetV2LoggingLevel(context.Background(), in)
	return err
}

// lvlList lists every level of targetType through the SDK paginator with
// pages of size, as "TYPE/name=LEVEL".
func lvlList(t *testing.T, c *iot.Client, typ types.LogTargetType, size int32) []string {
	t.Helper()
	var out []string
	p := iot.NewListV2LoggingLevelsPaginator(c, &iot.ListV2LoggingLevelsInput{TargetType: typ, MaxResults: aws.Int32(size)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 100 {
			t.Fatal("ListV2LoggingLevels does not end")
		}
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.LogTargetConfigurations {
			out = append(out, fmt.Sprintf("%s/%s=%s", l.LogTarget.TargetType, aws.ToString(l.LogTarget.TargetName), l.LogLevel))
		}
	}
	return out
}

func TestV2LoggingLevels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Before SetV2LoggingOptions the levels are not configured.
	wantCode(t, lvlSet(t, e.a, types.LogTargetTypeClientId, "dev-1", types.LogLevelDebug), "NotConfiguredException", 404)
	_, err := e.a.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{})
	wantCode(t, err, "NotConfiguredException", 404)

	if _, err := e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelError}); err != nil {
		t.Fatal(err)
	}
	// A thing group target must exist.
	wantCode(t, lvlSet(t, e.a, types.LogTargetTypeThingGroup, "floor-1", types.LogLevelDebug), "InvalidRequestException", 400)
	if _, err := e.a.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("floor-1")}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		typ   types.LogTargetType
		name  string
		level types.LogLevel
	}{
		{types.LogTargetTypeThingGroup, "floor-1", types.LogLevelDebug},
		{types.LogTargetTypeClientId, "dev-1", types.LogLevelInfo},
		{types.LogTargetTypeSourceIp, "::ffff:10.0.0.7", types.LogLevelWarn}, // stored as 10.0.0.7
		{types.LogTargetTypePrincipalId, polCertID(1), types.LogLevelDisabled},
		{types.LogTargetTypeClientId, "dev-1", types.LogLevelDebug}, // replaces, keeps its place
	} {
		if err := lvlSet(t, e.a, s.typ, s.name, s.level); err != nil {
			t.Fatalf("set %s %s: %v", s.typ, s.name, err)
		}
	}
	want := []string{"DEFAULT/=ERROR", "THING_GROUP/floor-1=DEBUG", "CLIENT_ID/dev-1=DEBUG", "SOURCE_IP/10.0.0.7=WARN",
		"PRINCIPAL_ID/" + polCertID(1) + "=DISABLED"}
	for _, size := range []int32{250, 2, 1} {
		if got := lvlList(t, e.a, "", size); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("pages of %d: levels %v, want %v", size, got, want)
		}
	}
	if got := lvlList(t, e.a, types.LogTargetTypeClientId, 1); len(got) != 1 || got[0] != "CLIENT_ID/dev-1=DEBUG" {
		t.Fatalf("CLIENT_ID levels %v", got)
	}
	if got := lvlList(t, e.a, types.LogTargetTypeDefault, 10); len(got) != 1 || got[0] != "DEFAULT/=ERROR" {
		t.Fatalf("DEFAULT levels %v", got)
	}

	// The DEFAULT target is the options' defaultLogLevel; the rest stays.
	if err := lvlSet(t, e.a, types.LogTargetTypeDefault, "", types.LogLevelWarn); err != nil {
		t.Fatal(err)
	}
	o, err := e.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if o.DefaultLogLevel != types.LogLevelWarn || aws.ToString(o.RoleArn) != logRole {
		t.Fatalf("options after SetV2LoggingLevel DEFAULT: %+v", o)
	}

	// Delete: gone, a second delete is no error, DEFAULT cannot be deleted.
	for range 2 {
		if _, err := e.a.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("dev-1")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.a.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeSourceIp, TargetName: aws.String("::ffff:10.0.0.7")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeDefault, TargetName: aws.String("x")})
	wantCode(t, err, "InvalidRequestException", 400)
	want = []string{"DEFAULT/=WARN", "THING_GROUP/floor-1=DEBUG", "PRINCIPAL_ID/" + polCertID(1) + "=DISABLED"}
	if got := lvlList(t, e.a, "", 25); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after deletes: %v, want %v", got, want)
	}

	// Every set and delete is in the change log, under the logging ARN.
	scopeA := warden.Scope{Account: accountA, Region: region}
	arn := warden.V2LoggingLevelARN(scopeA, warden.LogTarget{Type: "CLIENT_ID", Name: "dev-1"})
	got := polChanges(t, e, arn)
	wantChanges := []string{
		`SetV2LoggingLevel  -> {"targetType":"CLIENT_ID","targetName":"dev-1","logLevel":"INFO"}`,
		`SetV2LoggingLevel {"targetType":"CLIENT_ID","targetName":"dev-1","logLevel":"INFO"} -> {"targetType":"CLIENT_ID","targetName":"dev-1","logLevel":"DEBUG"}`,
		`DeleteV2LoggingLevel {"targetType":"CLIENT_ID","targetName":"dev-1","logLevel":"DEBUG"} -> `,
	}
	if strings.Join(got, "\n") != strings.Join(wantChanges, "\n") {
		t.Fatalf("changes of %s:\n%s\nwant\n%s", arn, strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
	}
	if !strings.HasPrefix(arn, warden.V2LoggingARN(scopeA)+"/") {
		t.Fatalf("level ARN %s is not under %s", arn, warden.V2LoggingARN(scopeA))
	}

	// Another account sees none of it.
	_, err = e.b.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{})
	wantCode(t, err, "NotConfiguredException", 404)
	if _, err := e.b.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole)}); err != nil {
		t.Fatal(err)
	}
	if got := lvlList(t, e.b, "", 25); len(got) != 0 {
		t.Fatalf("account B levels %v", got)
	}
	wantCode(t, lvlSet(t, e.b, types.LogTargetTypeThingGroup, "floor-1", types.LogLevelDebug), "InvalidRequestException", 400)
}

// TestV2LoggingLevelLimit: beyond MaxV2LoggingLevels targets a new one is
// LimitExceeded; replacing an existing one is not.
func TestV2LoggingLevelLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelError}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, e)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range warden.MaxV2LoggingLevels {
		if _, err := tx.Exec(`INSERT INTO logging_levels_v2 (account, region, target_type, target_name, log_level, updated_at)
			VALUES (?, ?, 'CLIENT_ID', ?, 'INFO', 0)`, accountA, region, fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, lvlSet(t, e.a, types.LogTargetTypeClientId, "one-more", types.LogLevelDebug), "LimitExceededException", 410)
	if err := lvlSet(t, e.a, types.LogTargetTypeClientId, "c7", types.LogLevelDebug); err != nil {
		t.Fatal(err)
	}
	// The limit is per account: B's first level is refused only for want of options.
	wantCode(t, lvlSet(t, e.b, types.LogTargetTypeClientId, "one-more", types.LogLevelDebug), "NotConfiguredException", 404)
	if _, err := e.b.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole)}); err != nil {
		t.Fatal(err)
	}
	if err := lvlSet(t, e.b, types.LogTargetTypeClientId, "one-more", types.LogLevelDebug); err != nil {
		t.Fatal(err)
	}
	if got := len(lvlList(t, e.a, "", 250)); got != warden.MaxV2LoggingLevels+1 {
		t.Fatalf("%d levels listed, want %d and DEFAULT", got, warden.MaxV2LoggingLevels)
	}
}

func TestV2LoggingLevelValidation(t *testing.T) {
	e := newEnv(t)
	if _, err := e.a.SetV2LoggingOptions(context.Background(), &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, method, path, body, want string
	}{
		{"no body", "POST", "/v2LoggingLevel", ``, "'logTarget'"},
		{"no level", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID","targetName":"c"}}`, "'logLevel'"},
		{"bad level", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID","targetName":"c"},"logLevel":"LOUD"}`, "enum value set: [DEBUG, INFO, ERROR, WARN, DISABLED]"},
		{"bad type", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"THING","targetName":"c"},"logLevel":"INFO"}`, "enum value set: [DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID]"},
		{"no type", "POST", "/v2LoggingLevel", `{"logTarget":{"targetName":"c"},"logLevel":"INFO"}`, "'logTarget.targetType'"},
		{"no name", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID"},"logLevel":"INFO"}`, "'logTarget.targetName'"},
		{"empty name", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"PRINCIPAL_ID","targetName":""},"logLevel":"INFO"}`, "length greater than or equal to 1"},
		{"long client id", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID","targetName":"` + strings.Repeat("c", 129) + `"},"logLevel":"INFO"}`, "length less than or equal to 128"},
		{"not an IP", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"SOURCE_IP","targetName":"10.0.0.300"},"logLevel":"INFO"}`, "IPv4 or IPv6"},
		{"bad group name", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"THING_GROUP","targetName":"a/b"},"logLevel":"INFO"}`, "pattern"},
		{"string level", "POST", "/v2LoggingLevel", `{"logTarget":{"targetType":"CLIENT_ID","targetName":"c"},"logLevel":1}`, "logLevel"},
		{"list bad type", "GET", "/v2LoggingLevel?targetType=THING", ``, "enum value set"},
		{"list maxResults 0", "GET", "/v2LoggingLevel?maxResults=0", ``, "greater than or equal to 1"},
		{"list maxResults 251", "GET", "/v2LoggingLevel?maxResults=251", ``, "less than or equal to 250"},
		{"list forged token", "GET", "/v2LoggingLevel?nextToken=abc", ``, ""},
		{"delete no name", "DELETE", "/v2LoggingLevel?targetType=CLIENT_ID", ``, "'targetName'"},
		{"delete no type", "DELETE", "/v2LoggingLevel?targetName=c", ``, "'targetType'"},
		{"delete DEFAULT no name", "DELETE", "/v2LoggingLevel?targetType=DEFAULT", ``, "'targetName'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			msg := wantJSONError(t, e.call(t, c.method, c.path, body), "InvalidRequestException", 400)
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not contain %q", msg, c.want)
			}
		})
	}
}

// TestV2LoggingLevelsSurviveRestart: the levels are in the store.
func TestV2LoggingLevelsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelInfo}); err != nil {
		t.Fatal(err)
	}
	if err := lvlSet(t, e.a, types.LogTargetTypeSourceIp, "2001:db8::1", types.LogLevelDebug); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := lvlList(t, e.a, "", 25); strings.Join(got, " ") != "DEFAULT/=INFO SOURCE_IP/2001:db8::1=DEBUG" {
		t.Fatalf("after restart: %v", got)
	}
}

// TestEnableIoTLoggingShows: ENABLE_IOT_LOGGING has a visible effect. Before
// the mitigation a device's connect is logged nowhere; after it, a running
// V2 log observer writes the connect's entry, learning of the new options
// from the change log.
func TestEnableIoTLoggingShows(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	var logs strings.Builder
	var logsMu sync.Mutex
	obs := v2log.New(v2log.Options{Store: m.store, Refresh: 20 * time.Millisecond, MaxAge: time.Hour,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&logsMu, &logs}, nil))})
	obs.Start()
	t.Cleanup(obs.Stop)
	// Account B logs everything: its events mark how far the observer got.
	if _, err := m.b.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(logRole), DefaultLogLevel: types.LogLevelInfo}); err != nil {
		t.Fatal(err)
	}
	scopeB := warden.Scope{Account: accountB, Region: region}
	entriesOf := func(s warden.Scope) []warden.V2LogEntry {
		t.Helper()
		rows, err := m.store.V2LogEntries(ctx, warden.V2LogFilter{Account: s.Account, Region: s.Region})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	device := func(s warden.Scope, client string) warden.DataPlaneEvent {
		return warden.DataPlaneEvent{Scope: s, Type: warden.EventConnect, Status: warden.StatusSuccess, ClientID: client,
			PrincipalID: polCertID(1), SourceIP: "127.0.0.1", SourcePort: 50000, Protocol: "MQTT", At: time.Now()}
	}
	obs.Observe(device(mitScopeA, "before"))
	obs.Observe(device(scopeB, "marker"))
	for start := time.Now(); len(entriesOf(scopeB)) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("account B's entry not stored within 5 s")
		}
	}
	if rows := entriesOf(mitScopeA); len(rows) != 0 {
		t.Fatalf("account A has entries before ENABLE_IOT_LOGGING: %v", rows)
	}

	m.action("logs", sixParams()[4].params) // ENABLE_IOT_LOGGING, WARN
	f := m.finding(mitFindingSpec{check: mitLogging, resourceType: "ACCOUNT_SETTINGS", ident: `{"account":"` + accountA + `"}`, reason: "LOGGING_DISABLED"})
	if got := m.runOne("t1", f, mitMapping(mitLogging, "logs")); got != "logs:COMPLETED" {
		t.Fatalf("executions %s", got)
	}
	// WARN admits a failed connect (ERROR), not a successful one (INFO).
	start := time.Now()
	for i := 0; ; i++ {
		e := device(mitScopeA, fmt.Sprintf("after-%d", i))
		e.Status, e.Reason, e.Details = warden.StatusFailure, "AUTHORIZATION_FAILURE", "Authorization Failure"
		obs.Observe(e)
		time.Sleep(10 * time.Millisecond)
		if len(entriesOf(mitScopeA)) > 0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("no entry within 5 s of ENABLE_IOT_LOGGING")
		}
	}
	t.Logf("entry stored %v after the mitigation completed", time.Since(start).Round(time.Millisecond))
	rows := entriesOf(mitScopeA)
	if !strings.Contains(rows[0].Entry, `"logLevel":"ERROR"`) || !strings.Contains(rows[0].Entry, `"clientId":"after-`) {
		t.Fatalf("entry %s", rows[0].Entry)
	}
	logsMu.Lock()
	defer logsMu.Unlock()
	if !strings.Contains(logs.String(), `"accountId":"`+accountA+`"`) {
		t.Fatalf("the server log has no entry of account A:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
