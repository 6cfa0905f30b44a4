package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestDetectInServe: `warden serve` judges device traffic: a security
// profile made through the API applies to a connected device, whose too
// big message is an active violation within 2 s.
func TestDetectInServe(t *testing.T) {
	ctx := context.Background()
	m, c := serveWithDevices(t)
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
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
	if _, err := c.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("size"),
		Behaviors: []types.Behavior{{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThan, Value: &types.MetricValue{Count: aws.Int64(64)}}}}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("size")})
	if err != nil {
		t.Fatal(err)
	}
	target := strings.Replace(aws.ToString(out.SecurityProfileArn), "securityprofile/size", "all/things", 1)
	if _, err := c.AttachSecurityProfile(ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: aws.String("size"),
		SecurityProfileTargetArn: &target}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(m.devices.CA().Cert)
	opts := paho3.NewClientOptions().AddBroker("ssl://" + m.devices.Addr()).SetClientID("probe").SetProtocolVersion(4).
		SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	client := paho3.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer client.Disconnect(0)
	// The profile reaches the evaluator through the change log: publish
	// until the message is judged, for at most 2 s.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if tok := client.Publish("probe/data", 1, false, strings.Repeat("x", 100)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		time.Sleep(100 * time.Millisecond)
		vs, err := c.ListActiveViolations(ctx, &iot.ListActiveViolationsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.ActiveViolations) == 1 {
			v := vs.ActiveViolations[0]
			if aws.ToString(v.ThingName) != "probe" || aws.ToInt64(v.LastViolationValue.Count) != 100 {
				t.Fatalf("violation %+v", v)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no violation within 2 s: %+v", vs.ActiveViolations)
		}
	}
}

// serveWithDevices runs `warden serve` with the device endpoint on a new
// data dir until t ends, and returns it with an IoT client of the first
// account's printed credentials.
func serveWithDevices(t *testing.T) (*Main, *iot.Client) {
	t.Helper()
	var printed bytes.Buffer
	m := &Main{Config: Config{Store: sqlstore.Options{DataDir: t.TempDir(), Synchronous: "NORMAL"}, Listen: "127.0.0.1:0",
		LogLevel: "warn", MQTTListen: "127.0.0.1:0", MQTTHostnames: []string{"127.0.0.1"}}, Stdout: &printed, LogOutput: &lockedBuffer{}}
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
