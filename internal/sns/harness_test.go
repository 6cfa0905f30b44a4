package sns_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

var scopeA = warden.Scope{Account: wardentest.AccountA, Region: wardentest.Region}

// snsEnv is wardentest's stack with a deliverer the test drives with
// RunOnce (or starts), and SNS SDK clients for two accounts; its fields are
// the stack's, refreshed at every restart.
type snsEnv struct {
	*wardentest.Stack
	t         testing.TB
	ctx       context.Context
	clock     *wardentest.Clock // nil: the real clock
	store     *sqlstore.DB
	server    *httptest.Server
	handler   *sns.Handler
	deliverer *sns.Deliverer
	a, b      *awssns.Client
}

// newSNSEnv opens an env whose SNS runs on a fake clock, which starts at
// the real time (SigV4 allows a few minutes of skew, and the API keeps the
// real clock); the deliverer is not started.
func newSNSEnv(t testing.TB) *snsEnv {
	return newSNSEnvWith(t, wardentest.NewClock(time.Now().UTC()), sns.DeliveryOptions{})
}

func newSNSEnvWith(t testing.TB, c *wardentest.Clock, opt sns.DeliveryOptions) *snsEnv {
	t.Helper()
	return newSNSEnvSync(t, c, opt, "NORMAL")
}

func newSNSEnvSync(t testing.TB, c *wardentest.Clock, opt sns.DeliveryOptions, sync string) *snsEnv {
	t.Helper()
	if opt.Owner == "" {
		opt.Owner = "test-deliverer"
	}
	if opt.Jitter == nil {
		opt.Jitter = func(d time.Duration) time.Duration { return d }
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	e := &snsEnv{t: t, ctx: context.Background(), clock: c}
	cfg := wardentest.Config{Synchronous: sync, Delivery: opt}
	if c != nil {
		cfg.Now = c.Now
	}
	e.Stack = wardentest.Start(t, cfg)
	e.opened()
	return e
}

// opened takes the fields of the stack just opened.
func (e *snsEnv) opened() {
	e.store, e.server, e.handler, e.deliverer = e.Store, e.Server, e.SNS, e.Deliverer
	e.a = e.client(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	e.b = e.client(wardentest.KeyB, wardentest.SecretB, wardentest.Region)
}

func (e *snsEnv) client(key, secret, reg string) *awssns.Client {
	return e.SNSClient(key, secret, reg)
}

// restart stops everything and opens it again on the same data dir, as a
// process restart would.
func (e *snsEnv) restart() {
	e.Restart()
	e.opened()
}

// runOnce runs the deliverer until nothing is due at the current time.
func (e *snsEnv) runOnce() int {
	e.t.Helper()
	total := 0
	for {
		n, err := e.deliverer.RunOnce(e.ctx)
		if err != nil {
			e.t.Fatalf("RunOnce: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func (e *snsEnv) createTopic(name string) string {
	e.t.Helper()
	out, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		e.t.Fatalf("CreateTopic %s: %v", name, err)
	}
	return aws.ToString(out.TopicArn)
}

// subscribeConfirmed subscribes sub to topic, delivers the confirmation and
// confirms through its SubscribeURL; it returns the subscription ARN.
func (e *snsEnv) subscribeConfirmed(topic string, sub *subscriber) string {
	e.t.Helper()
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(sub.url())}); err != nil {
		e.t.Fatalf("Subscribe: %v", err)
	}
	e.runOnce()
	m := sub.next(e.t, time.Second)
	if m.Type() != "SubscriptionConfirmation" {
		e.t.Fatalf("got %s, want a SubscriptionConfirmation", m.Type())
	}
	return confirmByURL(e.t, m.Field("SubscribeURL"))
}

// confirmByURL GETs a SubscribeURL, unsigned, as a subscriber would, and
// returns the SubscriptionArn of the XML answer.
func confirmByURL(t testing.TB, subscribeURL string) string {
	t.Helper()
	resp, err := http.Get(subscribeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET SubscribeURL: %d %s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`<SubscriptionArn>([^<]+)</SubscriptionArn>`).FindSubmatch(body)
	if m == nil || !strings.Contains(string(body), "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">") {
		t.Fatalf("GET SubscribeURL answered %s, want a ConfirmSubscriptionResponse with the SubscriptionArn", body)
	}
	return string(m[1])
}

// received is one request a subscriber got.
type received struct {
	Header http.Header
	Body   []byte
	Env    map[string]any // the JSON envelope; nil for raw delivery
	Status int            // what the subscriber answered
	At     time.Time
}

func (r received) Type() string { return r.Header.Get("x-amz-sns-message-type") }

// Field is a string member of the envelope.
func (r received) Field(name string) string {
	s, _ := r.Env[name].(string)
	return s
}

// subscriber is a real HTTP endpoint that checks every request the way a
// subscriber that validates SNS messages would: SNS's headers, the
// envelope's members, and the signature against the certificate fetched from
// SigningCertURL.
type subscriber struct {
	t        testing.TB
	srv      *httptest.Server
	got      chan received
	failNext atomic.Int32 // answer 500 to this many requests
	status   atomic.Int32 // answer this status to every request (0: 200)
	delay    atomic.Int64 // nanoseconds to wait before answering
	confirm  bool         // GET the SubscribeURL of a SubscriptionConfirmation
	verify   bool         // check headers, envelope and signature

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

func newSubscriber(t testing.TB) *subscriber { return startSubscriber(t, false) }

// newTLSSubscriber is a subscriber on https; s.srv.Client() trusts it.
func newTLSSubscriber(t testing.TB) *subscriber { return startSubscriber(t, true) }

func startSubscriber(t testing.TB, useTLS bool) *subscriber {
	s := &subscriber{t: t, got: make(chan received, 100000), verify: true, certs: map[string]*x509.Certificate{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) url() string { return s.srv.URL + "/sns/endpoint" }

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := received{Header: r.Header.Clone(), Body: body, Status: http.StatusOK, At: time.Now()}
	if r.Header.Get("x-amz-sns-rawdelivery") != "true" {
		if err := json.Unmarshal(body, &rec.Env); err != nil {
			s.t.Errorf("subscriber: body is not a JSON envelope: %v\n%s", err, body)
		}
	}
	if s.verify {
		if err := s.check(r, rec); err != nil {
			s.t.Errorf("subscriber: %v", err)
		}
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	if st := s.status.Load(); st != 0 {
		rec.Status = int(st)
	} else if s.failNext.Add(-1) >= 0 {
		rec.Status = http.StatusInternalServerError
	}
	w.WriteHeader(rec.Status)
	s.got <- rec
	if s.confirm && rec.Type() == "SubscriptionConfirmation" && rec.Status == http.StatusOK {
		go func() {
			resp, err := http.Get(rec.Field("SubscribeURL"))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
}

// next waits for the next request.
func (s *subscriber) next(t testing.TB, timeout time.Duration) received {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(timeout):
		t.Fatalf("subscriber %s: nothing arrived within %s", s.srv.URL, timeout)
		return received{}
	}
}

// none fails if a request arrives within d.
func (s *subscriber) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case r := <-s.got:
		t.Fatalf("subscriber got an unexpected %s: %s", r.Type(), r.Body)
	case <-time.After(d):
	}
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func (s *subscriber) check(r *http.Request, rec received) error {
	h := r.Header
	typ := h.Get("x-amz-sns-message-type")
	switch typ {
	case "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation":
	default:
		return fmt.Errorf("x-amz-sns-message-type %q", typ)
	}
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s, want POST", r.Method)
	}
	if ua := h.Get("User-Agent"); ua != "Amazon Simple Notification Service Agent" {
		return fmt.Errorf("User-Agent %q", ua)
	}
	if h.Get("x-amz-sns-message-id") == "" || h.Get("x-amz-sns-topic-arn") == "" {
		return fmt.Errorf("missing x-amz-sns-message-id or x-amz-sns-topic-arn: %v", h)
	}
	if (typ == "SubscriptionConfirmation") != (h.Get("x-amz-sns-subscription-arn") == "") {
		return fmt.Errorf("%s with x-amz-sns-subscription-arn %q", typ, h.Get("x-amz-sns-subscription-arn"))
	}
	if rec.Env == nil { // raw delivery: the body is the message itself
		return nil
	}
	env := rec.Env
	str := func(k string) string { v, _ := env[k].(string); return v }
	if str("Type") != typ || str("MessageId") != h.Get("x-amz-sns-message-id") || str("TopicArn") != h.Get("x-amz-sns-topic-arn") {
		return fmt.Errorf("envelope Type/MessageId/TopicArn %q/%q/%q disagree with headers %v", str("Type"), str("MessageId"), str("TopicArn"), h)
	}
	if !isoMillis.MatchString(str("Timestamp")) {
		return fmt.Errorf("Timestamp %q is not ISO-8601 with milliseconds", str("Timestamp"))
	}
	want := []string{"Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"}
	if typ == "Notification" {
		want = append(want, "UnsubscribeURL")
	} else {
		want = append(want, "Token", "SubscribeURL")
	}
	for _, k := range want {
		if str(k) == "" {
			return fmt.Errorf("envelope lacks %s: %s", k, rec.Body)
		}
	}
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	return s.verifySignature(env)
}

// verifySignature checks the envelope's signature as a standard SNS message
// validator does: fetch the certificate at SigningCertURL, rebuild the
// string to sign, verify SHA1withRSA (version 1) or SHA256withRSA (2).
func (s *subscriber) verifySignature(env map[string]any) error {
	str := func(k string) (string, bool) { v, ok := env[k].(string); return v, ok }
	certURL, _ := str("SigningCertURL")
	cert, err := s.cert(certURL)
	if err != nil {
		return err
	}
	typ, _ := str("Type")
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if typ != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range keys {
		if v, ok := str(k); ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	sigB64, _ := str("Signature")
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("Signature is not base64: %v", err)
	}
	alg := x509.SHA1WithRSA
	if v, _ := str("SignatureVersion"); v == "2" {
		alg = x509.SHA256WithRSA
	} else if v != "1" {
		return fmt.Errorf("SignatureVersion %q", v)
	}
	if err := cert.CheckSignature(alg, []byte(b.String()), sig); err != nil {
		return fmt.Errorf("signature does not verify against %s: %v", certURL, err)
	}
	return nil
}

func (s *subscriber) cert(certURL string) (*x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.certs[certURL]; ok {
		return c, nil
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/SimpleNotificationService-[0-9a-f]+\.pem$`).MatchString(certURL) {
		return nil, fmt.Errorf("SigningCertURL %q", certURL)
	}
	resp, err := http.Get(certURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	block, _ := pem.Decode(body)
	if resp.StatusCode != http.StatusOK || block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("GET %s: %d %q", certURL, resp.StatusCode, body)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	s.certs[certURL] = c
	return c, nil
}

// snapshot is everything an SNS request could have stored, to assert that a
// rejected request stored nothing.
type snapshot struct {
	Topics, Subs, Deliveries, Changes int
	Messages                          map[string]int
}

func (e *snsEnv) snapshot(scopes ...warden.Scope) snapshot {
	e.t.Helper()
	var s snapshot
	s.Messages = map[string]int{}
	for _, sc := range scopes {
		topics, _, err := e.store.Topics(e.ctx, sc, warden.Page{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		s.Topics += len(topics)
		for _, tp := range topics {
			msgs, err := e.store.RecentSNSMessages(e.ctx, sc, tp.Name, 0, 100)
			if err != nil {
				e.t.Fatal(err)
			}
			s.Messages[tp.ARN(sc)] = len(msgs)
		}
		subs, _, err := e.store.Subscriptions(e.ctx, sc, "", warden.Page{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		s.Subs += len(subs)
	}
	d, err := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Deliveries = len(d)
	ch, err := e.store.Changes(e.ctx, warden.ChangeFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Changes = len(ch)
	return s
}
