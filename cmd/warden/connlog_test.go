package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/audit"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestDeviceConnectionsAudited: on a running server, real MQTT clients
// share one certificate (two client ids at once) and two certificates share
// one client id (the second connection takes the first over). The server's
// connection log records them, and an audit run over that log (3 hours
// later: the shared-certificate check looks at data up to 2 hours before
// the audit) finds the shared certificate and the conflicting client id.
func TestDeviceConnectionsAudited(t *testing.T) {
	dir := t.TempDir()
	var printed bytes.Buffer
	m := &Main{Config: Config{Store: sqlstore.Options{DataDir: dir, Synchronous: "NORMAL"}, Listen: "127.0.0.1:0", LogLevel: "warn",
		MQTTListen: "127.0.0.1:0", MQTTHostnames: []string{"127.0.0.1"}}, Stdout: &printed, LogOutput: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	running := true
	defer func() {
		if running {
			cancel()
			<-done
			m.Close()
		}
	}()

	keys := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(printed.String(), -1) {
		keys[match[1]] = match[2]
	}
	c := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], "")})
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(m.devices.CA().Cert)
	newCert := func() (string, tls.Certificate) {
		t.Helper()
		cert, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("all"), Target: cert.CertificateArn}); err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair([]byte(aws.ToString(cert.CertificatePem)), []byte(aws.ToString(cert.KeyPair.PrivateKey)))
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(cert.CertificateId), pair
	}
	connect := func(pair tls.Certificate, clientID string) paho3.Client {
		t.Helper()
		opts := paho3.NewClientOptions().AddBroker("ssl://" + m.devices.Addr()).SetClientID(clientID).SetProtocolVersion(4).
			SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
			SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
		client := paho3.NewClient(opts)
		if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", clientID, tok.Error())
		}
		return client
	}
	sharedID, shared := newCert()
	otherID, other := newCert()
	dev1 := connect(shared, "dev-1")
	// Connect times are kept to the millisecond and order the related
	// resources below: two connects within one would be a tie.
	time.Sleep(5 * time.Millisecond)
	dev2 := connect(shared, "dev-2") // the same certificate, at the same time
	time.Sleep(5 * time.Millisecond)
	twin1 := connect(shared, "twin")
	twin2 := connect(other, "twin") // takes "twin" over from the shared certificate
	for start := time.Now(); twin1.IsConnectionOpen(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the first \"twin\" was not disconnected by the second")
		}
	}
	for _, cl := range []paho3.Client{dev1, dev2, twin2} {
		cl.Disconnect(100)
	}

	// Every connect and disconnect is in the log once the server stopped
	// (Close flushes the connection log after the device endpoint closed).
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	running = false
	store, err := sqlstore.Open(context.Background(), sqlstore.Options{DataDir: dir, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	actx := context.Background()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	rows, _, err := store.Connections(actx, s, warden.ConnectionFilter{Start: time.Now().Add(-time.Hour), End: time.Now()}, warden.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range rows {
		if r.Open() || r.Result != warden.StatusSuccess || r.SourceIP != "127.0.0.1" || r.SourcePort == 0 {
			t.Errorf("row %+v: want a closed successful session from 127.0.0.1", r)
		}
		reasons[r.ClientID+"/"+r.CertificateID[:8]] = r.DisconnectReason
	}
	// (The others' reasons are CLIENT_INITIATED_DISCONNECT, or
	// SERVER_INITIATED_DISCONNECT when the shutdown beat their DISCONNECT.)
	if len(rows) != 4 || reasons["twin/"+sharedID[:8]] != audit.DisconnectDuplicateClientID || reasons["twin/"+otherID[:8]] == "" {
		t.Fatalf("connection log %v, want 4 sessions, the first twin taken over", reasons)
	}

	checks := []string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs}
	if err := store.UpdateAuditConfiguration(actx, s, warden.AuditConfigurationUpdate{RoleArn: aws.String("arn:aws:iam::123456789012:role/audit"),
		Checks: map[string]warden.AuditCheckConfiguration{checks[0]: {Enabled: true}, checks[1]: {Enabled: true}}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(3 * time.Hour)
	task, err := store.StartAuditTask(actx, s, checks, later)
	if err != nil {
		t.Fatal(err)
	}
	r, err := audit.New(audit.Options{Store: store, Now: func() time.Time { return later }, WeakKeysDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(actx); err != nil {
		t.Fatal(err)
	}
	findings, _, err := store.AuditFindings(actx, s, warden.AuditFindingFilter{TaskID: task.ID}, warden.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]warden.AuditFinding{}
	for _, f := range findings {
		found[f.CheckName] = f
	}
	sf, cf := found[warden.CheckDeviceCertificateShared], found[warden.CheckConflictingClientIDs]
	if len(findings) != 2 || sf.NonCompliantResource.ResourceIdentifier.DeviceCertificateID != sharedID ||
		cf.NonCompliantResource.ResourceIdentifier.ClientID != "twin" {
		t.Fatalf("findings %+v, want the shared certificate and client id twin", findings)
	}
	var clients []string
	for _, rel := range sf.RelatedResources {
		clients = append(clients, rel.ResourceIdentifier.ClientID)
	}
	if len(clients) != 3 || clients[0] != "twin" || clients[2] != "dev-1" {
		t.Errorf("shared certificate's related client ids %v, want twin, dev-2, dev-1 (newest first)", clients)
	}
	if len(cf.RelatedResources) != 2 || cf.RelatedResources[0].ResourceIdentifier.DeviceCertificateID != otherID ||
		cf.RelatedResources[1].ResourceIdentifier.DeviceCertificateID != sharedID {
		t.Errorf("twin's related certificates %+v, want the taker then the one taken over", cf.RelatedResources)
	}
}
