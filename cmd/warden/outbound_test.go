package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestServeOutboundSettings: the outbound lists and the CRL cache size
// come from flags or WARDEN_* variables, comma-separated.
func TestServeOutboundSettings(t *testing.T) {
	t.Setenv("WARDEN_OUTBOUND_DENY", "127.0.0.0/8,10.0.0.0/8")
	t.Setenv("WARDEN_CRL_CACHE_SIZE", "32MiB")
	var c cli
	p, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"serve", "--outbound-allow", "169.254.169.254/32,fd00::/8"}); err != nil {
		t.Fatal(err)
	}
	cfg := c.Serve.config()
	if strings.Join(cfg.OutboundDeny, " ") != "127.0.0.0/8 10.0.0.0/8" || strings.Join(cfg.OutboundAllow, " ") != "169.254.169.254/32 fd00::/8" ||
		cfg.CRLCacheSize != 32<<20 {
		t.Errorf("config deny %q allow %q cache %d", cfg.OutboundDeny, cfg.OutboundAllow, cfg.CRLCacheSize)
	}
	os.Unsetenv("WARDEN_CRL_CACHE_SIZE") // t.Setenv above restores it
	c = cli{}
	p, _ = kong.New(&c)
	if _, err := p.Parse([]string{"serve"}); err != nil || c.Serve.config().CRLCacheSize != 64<<20 {
		t.Errorf("default CRL cache size %d (%v), want 64 MiB", c.Serve.config().CRLCacheSize, err)
	}
	for _, bad := range []string{"0", "-1", "64XB", "lots"} {
		var b byteSize
		if b.UnmarshalText([]byte(bad)) == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
	m := &Main{Config: Config{Store: sqlstore.Options{DataDir: t.TempDir()}, Listen: "127.0.0.1:0", OutboundDeny: []string{"10.0.0.0/33"}},
		Stdout: io.Discard, LogOutput: io.Discard}
	if err := m.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("bad deny list: Open returned %v", err)
	}
	m.Close()
}

// TestServeOutboundDenyLoopback: `warden serve --outbound-deny 127.0.0.0/8`
// refuses a subscriber on 127.0.0.1: the listener sees no connection and
// the confirmation fails with the policy's reason.
func TestServeOutboundDenyLoopback(t *testing.T) {
	var conns atomic.Int64
	sub := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	sub.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	sub.Start()
	defer sub.Close()

	var out bytes.Buffer
	m := &Main{Config: Config{Store: sqlstore.Options{DataDir: t.TempDir(), Synchronous: "NORMAL"}, Listen: "127.0.0.1:0", LogLevel: "error",
		OutboundDeny: []string{"127.0.0.0/8"}}, Stdout: &out, LogOutput: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		m.Close()
	}()
	found := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(out.String(), -1) {
		found[match[1]] = match[2]
	}
	client := awssns.New(awssns.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"], "")})
	topic, err := client.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"),
		Endpoint: aws.String(sub.URL + "/hook")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		failed, err := m.store.SNSDeliveries(ctx, warden.SNSDeliveryFilter{Status: warden.DeliveryFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 {
			if !strings.Contains(failed[0].LastError, "refused by the outbound address policy") {
				t.Errorf("reason %q", failed[0].LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery after 10 s: %+v", failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the denied subscriber saw %d connections", n)
	}
}
