package sns_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/nettest"
	"github.com/warden-iot/warden/internal/outbound"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/wardentest"
)

// failedDelivery subscribes endpoint to a new topic, lets the deliverer try
// the confirmation once and returns the failed outbox row.
func failedDelivery(t *testing.T, e *snsEnv, endpoint string) warden.SNSDelivery {
	t.Helper()
	topic := e.createTopic("probe")
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(endpoint)}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	failed, err := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{Status: warden.DeliveryFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 {
		t.Fatalf("failed deliveries %+v, want the confirmation", failed)
	}
	return failed[0]
}

// assertNoAddress fails when the stored failure reason names an address,
// a port or OS error text.
func assertNoAddress(t *testing.T, reason string, urls ...string) {
	t.Helper()
	leaks := []string{"127.0.0.1", "169.254", "dial", "tcp", "connect:", "refused:"}
	for _, u := range urls {
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(u, "http://")); err == nil {
			leaks = append(leaks, port)
		}
	}
	for _, leak := range leaks {
		if strings.Contains(reason, leak) {
			t.Errorf("failure reason %q reveals %q", reason, leak)
		}
	}
}

// TestSNSDeniedRangeRefused: with 127.0.0.0/8 on the deny list, a
// subscription to a 127.0.0.1 endpoint is refused at dial time: the
// listener never sees a connection, the confirmation fails for good with
// the policy's reason and no address.
func TestSNSDeniedRangeRefused(t *testing.T) {
	policy, err := outbound.NewPolicy(nil, []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	srv, conns := nettest.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e := newSNSEnvWith(t, wardentest.NewClock(time.Now().UTC()), sns.DeliveryOptions{Client: outbound.New(outbound.Options{Policy: policy})})
	d := failedDelivery(t, e, srv.URL+"/admin")
	if !strings.Contains(d.LastError, "refused by the outbound address policy") || d.Attempt != 1 {
		t.Errorf("attempt %d, reason %q: want one attempt refused by the policy", d.Attempt, d.LastError)
	}
	assertNoAddress(t, d.LastError, srv.URL)
	if n := conns.Load(); n != 0 {
		t.Errorf("the denied listener saw %d connections", n)
	}
}

// TestSNSMetadataRefused: the cloud metadata address is refused by the
// default policy before anything is sent.
func TestSNSMetadataRefused(t *testing.T) {
	e := newSNSEnv(t)
	d := failedDelivery(t, e, "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
	if !strings.Contains(d.LastError, "refused by the outbound address policy") {
		t.Errorf("reason %q, want the policy's refusal", d.LastError)
	}
	assertNoAddress(t, d.LastError)
}

// TestSNSRedirectNotFollowed: a subscriber answering 302 to another
// listener fails with a bad status; the other listener gets no request.
func TestSNSRedirectNotFollowed(t *testing.T) {
	target, conns := nettest.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/admin/shutdown", http.StatusFound))
	defer redirector.Close()
	e := newSNSEnvWith(t, wardentest.NewClock(time.Now().UTC()), sns.DeliveryOptions{})
	topic := e.createTopic("probe")
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(redirector.URL)}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	rows, err := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.Contains(rows[0].LastError, "HTTP status 3xx") {
		t.Fatalf("deliveries %+v, want one that failed with a 3xx", rows)
	}
	assertNoAddress(t, rows[0].LastError, target.URL, redirector.URL)
	if n := conns.Load(); n != 0 {
		t.Errorf("the redirect target saw %d connections", n)
	}
}

// TestSNSClosedPortCoarse: a subscription to a closed port fails with
// "could not connect", not the OS's text with the address and port.
func TestSNSClosedPortCoarse(t *testing.T) {
	closed := nettest.ClosedURL(t)
	e := newSNSEnv(t)
	topic := e.createTopic("probe")
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(closed + "/x")}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	rows, err := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.Contains(rows[0].LastError, "could not connect") {
		t.Fatalf("deliveries %+v, want one that could not connect", rows)
	}
	assertNoAddress(t, rows[0].LastError, closed)
}
