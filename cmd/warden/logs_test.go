package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// text is what was written so far.
func (w *lockedBuffer) text() string {
	s, _ := w.snapshot()
	return s
}

var (
	logsScopeA = warden.Scope{Account: "123456789012", Region: "us-east-1"}
	logsScopeB = warden.Scope{Account: "111122223333", Region: "eu-west-1"}
)

// logsStore opens a store in dir (PostgreSQL with WARDEN_TEST_DATABASE) and
// returns the options `warden logs tail` opens it with.
func logsStore(t *testing.T) (*sqlstore.DB, storeFlags) {
	t.Helper()
	dir := t.TempDir()
	flags := storeFlags{DataDir: dir, Synchronous: "normal", Database: pgtest.Database(t, dir)}
	if flags.Database != "" {
		t.Setenv(envMasterKey, strings.Repeat("k", 43)+"=")
	}
	store, err := openStore(context.Background(), flags.storeOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, flags
}

func appendEntries(t *testing.T, store warden.Store, entries ...warden.V2LogEntry) {
	t.Helper()
	if err := store.AppendV2LogEntries(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
}

// TestLogsTail: `warden logs tail` prints the stored entries of the chosen
// account and region since the chosen time, then with --follow the new
// ones, each once.
func TestLogsTail(t *testing.T) {
	store, flags := logsStore(t)
	now := time.Now()
	appendEntries(t, store,
		warden.V2LogEntry{Scope: logsScopeA, At: now.Add(-2 * time.Hour), Entry: `{"n":"a-old"}`},
		warden.V2LogEntry{Scope: logsScopeA, At: now.Add(-time.Minute), Entry: `{"n":"a-1"}`},
		warden.V2LogEntry{Scope: logsScopeB, At: now.Add(-time.Minute), Entry: `{"n":"b-1"}`},
	)
	run := func(c logsTailCmd) string {
		t.Helper()
		var out lockedBuffer
		c.readStoreFlags, c.out = flags.read(), &out
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.text()
	}
	var since sinceFlag
	if err := since.UnmarshalText([]byte("10m")); err != nil {
		t.Fatal(err)
	}
	if got := run(logsTailCmd{Since: since}); got != "{\"n\":\"a-1\"}\n{\"n\":\"b-1\"}\n" {
		t.Errorf("last 10 minutes: %q", got)
	}
	if got := run(logsTailCmd{Since: since, Account: logsScopeB.Account}); got != "{\"n\":\"b-1\"}\n" {
		t.Errorf("account B: %q", got)
	}
	if got := run(logsTailCmd{Since: since, Region: "us-east-1"}); got != "{\"n\":\"a-1\"}\n" {
		t.Errorf("us-east-1: %q", got)
	}
	if err := since.UnmarshalText([]byte(now.Add(-3 * time.Hour).UTC().Format(time.RFC3339))); err != nil {
		t.Fatal(err)
	}
	if got := run(logsTailCmd{Since: since, Account: logsScopeA.Account}); got != "{\"n\":\"a-old\"}\n{\"n\":\"a-1\"}\n" {
		t.Errorf("since 3 hours ago: %q", got)
	}
	if err := since.UnmarshalText([]byte("yesterday")); err == nil {
		t.Error("--since yesterday was accepted")
	}

	// --follow: new entries of A (not B's) appear, each once.
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	since = sinceFlag{ago: time.Hour}
	go func() {
		done <- (&logsTailCmd{readStoreFlags: flags.read(), Account: logsScopeA.Account, Follow: true, Since: since, Poll: 10 * time.Millisecond, out: &out}).Run(ctx)
	}()
	appendEntries(t, store, warden.V2LogEntry{Scope: logsScopeA, At: time.Now(), Entry: `{"n":"a-2"}`},
		warden.V2LogEntry{Scope: logsScopeB, At: time.Now(), Entry: `{"n":"b-2"}`})
	appendEntries(t, store, warden.V2LogEntry{Scope: logsScopeA, At: time.Now(), Entry: `{"n":"a-3"}`})
	want := "{\"n\":\"a-1\"}\n{\"n\":\"a-2\"}\n{\"n\":\"a-3\"}\n"
	for start := time.Now(); out.text() != want; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("followed output %q, want %q", out.text(), want)
		}
	}
	time.Sleep(50 * time.Millisecond) // a few more polls print nothing twice
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.text() != want {
		t.Fatalf("followed output %q, want %q", out.text(), want)
	}
}

// TestLogsTailLateEntry: an entry that becomes visible after a higher seq
// (a concurrent transaction of another node on PostgreSQL) is still printed,
// if it comes within tailGapWait.
func TestLogsTailLateEntry(t *testing.T) {
	store, flags := logsStore(t)
	raw, err := sqlstore.OpenSQL(flags.storeOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	insert := func(seq int64, entry string) {
		t.Helper()
		if _, err := raw.Exec(`INSERT INTO v2_log_entries (seq, account, region, at, entry) VALUES (?, ?, ?, ?, ?)`,
			seq, logsScopeA.Account, logsScopeA.Region, time.Now().UnixMilli(), entry); err != nil {
			t.Fatal(err)
		}
	}
	insert(100, `{"n":100}`)
	var out bytes.Buffer
	tl := newLogTailer(store, warden.V2LogFilter{Since: time.Now().Add(-time.Hour)}, &out)
	clock := time.Now()
	tl.now = func() time.Time { return clock }
	poll := func() {
		t.Helper()
		if err := tl.poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	poll()
	insert(105, `{"n":105}`) // 101-104 are gaps now
	poll()
	insert(103, `{"n":103}`) // committed late
	clock = clock.Add(tailGapWait / 2)
	poll()
	poll()
	clock = clock.Add(tailGapWait)
	poll()                   // 101, 102 and 104 are given up
	insert(102, `{"n":102}`) // too late
	insert(106, `{"n":106}`)
	poll()
	if got, want := out.String(), "{\"n\":100}\n{\"n\":105}\n{\"n\":103}\n{\"n\":106}\n"; got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
	if len(tl.gaps) != 0 || len(tl.printed) != 0 || tl.floor != 106 {
		t.Fatalf("tailer state: floor %d, gaps %v, printed %v", tl.floor, tl.gaps, tl.printed)
	}
}

// TestDeviceEventsReachLogsTail: on a running server with V2 logging set to
// INFO, a real MQTT 3.1.1 client's connect, publish and disconnect become
// AWS log entries, in the server log and in `warden logs tail`.
func TestDeviceEventsReachLogsTail(t *testing.T) {
	dir := t.TempDir()
	flags := storeFlags{DataDir: dir, Synchronous: "normal", Database: pgtest.Database(t, dir)}
	if flags.Database != "" {
		t.Setenv(envMasterKey, strings.Repeat("k", 43)+"=")
	}
	var printed bytes.Buffer
	serverLog := &lockedBuffer{}
	m := &Main{Config: Config{Store: flags.storeOptions(), Listen: "127.0.0.1:0", LogLevel: "info",
		MQTTListen: "127.0.0.1:0", MQTTHostnames: []string{"127.0.0.1"}}, Stdout: &printed, LogOutput: serverLog}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	defer stop()

	keys := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(printed.String(), -1) {
		keys[match[1]] = match[2]
	}
	c := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], "")})
	cert, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"},
			{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/denied/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("all"), Target: cert.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/log"),
		DefaultLogLevel: types.LogLevelInfo}); err != nil {
		t.Fatal(err)
	}

	pair, err := tls.X509KeyPair([]byte(aws.ToString(cert.CertificatePem)), []byte(aws.ToString(cert.KeyPair.PrivateKey)))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(m.devices.CA().Cert)
	connect := func(clientID string) paho3.Client {
		t.Helper()
		opts := paho3.NewClientOptions().AddBroker("ssl://" + m.devices.Addr()).SetClientID(clientID).SetProtocolVersion(4).
			SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
			SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
		client := paho3.NewClient(opts)
		if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return client
	}
	// tail runs logs tail on the same store, as an operator would beside
	// the server, until it prints n entries (for up to 5 s).
	tail := func(n int) []string {
		t.Helper()
		var lines []string
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			var out lockedBuffer
			tail := logsTailCmd{readStoreFlags: flags.read(), Since: sinceFlag{ago: time.Hour}, out: &out}
			if err := tail.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			lines = strings.Split(strings.TrimSpace(out.text()), "\n")
			if len(lines) >= n || time.Since(start) > 5*time.Second {
				t.Logf("%d entries in logs tail %v after the last event:\n%s", len(lines), time.Since(start).Round(time.Millisecond), strings.Join(lines, "\n"))
				break
			}
		}
		if len(lines) != n {
			t.Fatalf("logs tail printed %d entries, want %d", len(lines), n)
		}
		return lines
	}

	client := connect("sensor-7")
	if tok := client.Publish("dt/sensor-7/temp", 1, false, "21.5"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	client.Disconnect(100)
	want := []string{"Connect", "Publish-In", "Disconnect"}
	lines := tail(len(want))
	for i, line := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("entry %q: %v", line, err)
		}
		if e["eventType"] != want[i] || e["clientId"] != "sensor-7" || e["principalId"] != aws.ToString(cert.CertificateId) ||
			e["logLevel"] != "INFO" || e["status"] != "Success" || e["sourceIp"] != "127.0.0.1" || e["protocol"] != "MQTT" {
			t.Errorf("entry %d: %s", i, line)
		}
	}
	if !strings.Contains(lines[1], `"topicName":"dt/sensor-7/temp"`) {
		t.Errorf("publish entry without its topic: %s", lines[1])
	}

	// A denied publish: an ERROR entry with AWS's reason (and, MQTT 3.1.1
	// closing the connection, a disconnect).
	denied := connect("sensor-8")
	denied.Publish("denied/x", 0, false, "x").WaitTimeout(5 * time.Second)
	lines = tail(len(want) + 3)
	failure := 0
	for _, line := range lines[len(want):] {
		if strings.Contains(line, `"status":"Failure"`) {
			failure++
			if !strings.Contains(line, `"logLevel":"ERROR"`) || !strings.Contains(line, `"eventType":"Publish-In"`) ||
				!strings.Contains(line, `"topicName":"denied/x"`) || !strings.Contains(line, `"reason":"AUTHORIZATION_FAILURE","details":"Authorization Failure"`) {
				t.Errorf("denied publish entry: %s", line)
			}
		}
	}
	if failure != 1 {
		t.Errorf("%d failure entries for the denied publish, want 1", failure)
	}
	denied.Disconnect(0)
	stop()
	if n := strings.Count(serverLog.text(), `"msg":"iot log entry"`); n != len(lines) {
		t.Errorf("%d entries in the server log, want %d", n, len(lines))
	}
}
