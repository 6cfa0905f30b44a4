package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestServeReportInterval: WARDEN_MQTT_REPORT_INTERVAL (or the flag)
// reaches the device endpoint: a thing's second metrics report within it
// is rejected as Throttled.
func TestServeReportInterval(t *testing.T) {
	t.Setenv("WARDEN_MQTT_REPORT_INTERVAL", "1h")
	var c cli
	p, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"serve"}); err != nil {
		t.Fatal(err)
	}
	cfg := c.Serve.config()
	if cfg.MQTTReportInterval != time.Hour {
		t.Fatalf("report interval %v, want 1h", cfg.MQTTReportInterval)
	}

	m, api := startWithDevices(t, cfg)
	tlsConfig := deviceTLS(t, m, api, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	replies := make(chan paho3.Message, 4)
	client := paho3.NewClient(paho3.NewClientOptions().AddBroker("ssl://" + m.devices.Addr()).SetClientID("sensor").
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetTLSConfig(tlsConfig).
		SetDefaultPublishHandler(func(_ paho3.Client, msg paho3.Message) { replies <- msg }))
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer client.Disconnect(0)
	const topic = "$aws/things/sensor/defender/metrics/json"
	if tok := client.Subscribe(topic+"/+", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	for i, want := range []string{"accepted", "rejected"} {
		if tok := client.Publish(topic, 1, false, `{"hed":{"rid":1,"v":"1.0"},"met":{}}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("report %d: %v", i, tok.Error())
		}
		select {
		case msg := <-replies:
			var r struct {
				StatusDetails struct{ ErrorCode string } `json:"statusDetails"`
			}
			_ = json.Unmarshal(msg.Payload(), &r)
			if msg.Topic() != topic+"/"+want || (want == "rejected" && r.StatusDetails.ErrorCode != "Throttled") {
				t.Fatalf("report %d: %s on %s, want %s", i, msg.Payload(), msg.Topic(), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("report %d: no reply", i)
		}
	}
}

// startWithDevices boots the program as configured, with the device
// endpoint on 127.0.0.1:0, and returns it with an IoT client of the
// credentials it printed; the test's end stops it.
func startWithDevices(t *testing.T, cfg Config) (*Main, *iot.Client) {
	t.Helper()
	var printed bytes.Buffer
	cfg.Store, cfg.Listen, cfg.LogLevel = sqlstore.Options{DataDir: t.TempDir()}, "127.0.0.1:0", "warn"
	cfg.MQTTListen, cfg.MQTTHostnames = "127.0.0.1:0", []string{"127.0.0.1"}
	m := &Main{Config: cfg, Stdout: &printed, LogOutput: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
	})
	keys := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(printed.String(), -1) {
		keys[match[1]] = match[2]
	}
	return m, iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], "")})
}

// deviceTLS registers a new ACTIVE certificate with a policy of document
// doc and returns the TLS configuration of a device presenting it.
func deviceTLS(t *testing.T, m *Main, api *iot.Client, doc string) *tls.Config {
	t.Helper()
	ctx := context.Background()
	cert, err := api.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	name := aws.String("p" + aws.ToString(cert.CertificateId)[:8])
	if _, err := api.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: name, PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: name, Target: cert.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(aws.ToString(cert.CertificatePem)), []byte(aws.ToString(cert.KeyPair.PrivateKey)))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(m.devices.CA().Cert)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}
