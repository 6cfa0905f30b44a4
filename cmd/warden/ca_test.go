package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden/internal/sqlstore"
)

// `warden ca` prints the CA that the running server's device endpoint
// presents a certificate from, and `--mqtt-hostnames` names it.
func TestCACommandVerifiesTheDeviceEndpoint(t *testing.T) {
	dir := t.TempDir()
	opt := sqlstore.Options{DataDir: dir, Synchronous: "NORMAL"}
	m := &Main{Config: Config{Store: opt, Listen: "127.0.0.1:0", LogLevel: "error",
		MQTTListen: "127.0.0.1:0", MQTTHostnames: []string{"127.0.0.1", "devices.example"}},
		Stdout: io.Discard, LogOutput: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; _ = m.Close() }()

	// The command opens the store the server has open (SQLite allows it).
	var out bytes.Buffer
	if err := printCA(context.Background(), opt, &out); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(out.Bytes()) {
		t.Fatalf("warden ca printed no certificate:\n%s", out.String())
	}
	// Any client certificate completes the handshake; Warden judges it
	// after (here: unregistered).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	for _, name := range []string{"127.0.0.1", "devices.example"} {
		conn, err := tls.Dial("tcp", m.devices.Addr(), &tls.Config{RootCAs: pool, ServerName: name,
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
		if err != nil {
			t.Fatalf("TLS to the device endpoint as %s with the printed CA: %v", name, err)
		}
		conn.Close()
	}
	if _, err := tls.Dial("tcp", m.devices.Addr(), &tls.Config{RootCAs: pool, ServerName: "other.example",
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}); err == nil {
		t.Fatal("the server certificate is valid for a name not in --mqtt-hostnames")
	}
}

// With the device endpoint off there is no endpoint to describe.
func TestDescribeEndpointWithDevicesOff(t *testing.T) {
	m, printed, stop := startMain(t, t.TempDir())
	defer stop()
	found := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(printed, -1) {
		found[match[1]] = match[2]
	}
	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"], "")})
	_, err := client.DescribeEndpoint(context.Background(), &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidRequestException" || !strings.Contains(apiErr.ErrorMessage(), "disabled") {
		t.Fatalf("DescribeEndpoint with --mqtt-listen off: %v", err)
	}
}
