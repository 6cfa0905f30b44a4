package sns_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// Test accounts and their keys.
const (
	accountA = "123456789012"
	accountB = "111122223333"
	keyA     = "AKIATESTACCOUNTAAAAA"
	secretA  = "secretAsecretAsecretAsecretAsecretA00000"
	keyB     = "AKIATESTACCOUNTBBBBB"
	secretB  = "secretBsecretBsecretBsecretBsecretB00000"
	region   = "us-east-1"
)

var scopeA = warden.Scope{Account: accountA, Region: region}

// clock is the injected clock of the SNS handler and deliverer. It starts
// at the real time (SigV4 allows a few minutes of skew, and the API keeps
// the real clock) and moves only when a test advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// snsEnv is a real Warden handler stack (API server with the SNS handler)
// on a real SQLite file behind an httptest server, with a deliverer the test
// drives with RunOnce (or starts), and SNS SDK clients for two accounts.
type snsEnv struct {
	t         testing.TB
	ctx       context.Context
	dir       string
	clock     *clock // nil: the real clock
	opt       sns.DeliveryOptions
	sync      string // SQLite synchronous: NORMAL in tests
	store     *sqlstore.DB
	server    *httptest.Server
	handler   *sns.Handler
	deliverer *sns.Deliverer
	a, b      *awssns.Client
}

// newSNSEnv opens an env with a fake clock; the deliverer is not started.
func newSNSEnv(t testing.TB) *snsEnv {
	return newSNSEnvWith(t, &clock{now: time.Now().UTC()}, sns.DeliveryOptions{})
}

func newSNSEnvWith(t testing.TB, c *clock, opt sns.DeliveryOptions) *snsEnv {
	t.Helper()
	return newSNSEnvSync(t, c, opt, "NORMAL")
}

func newSNSEnvSync(t testing.TB, c *clock, opt sns.DeliveryOptions, sync string) *snsEnv {
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
	e := &snsEnv{t: t, ctx: context.Background(), dir: t.TempDir(), clock: c, opt: opt, sync: sync}
	e.open()
	for _, k := range []warden.AccessKey{
		{ID: keyA, Secret: secretA, Account: accountA, CreatedAt: time.Now()},
		{ID: keyB, Secret: secretB, Account: accountB, CreatedAt: time.Now()},
	} {
		if err := e.store.CreateAccessKey(e.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.close)
	return e
}

var (
	testKeyOnce sync.Once
	testKeyPEM  []byte
)

// testSigningKey is one RSA key for every env of the test binary: making
// one per database would cost a second per test under -race. It is stored
// exactly as Warden stores its own (PKCS#8 key, then the certificate).
func testSigningKey() ([]byte, error) {
	testKeyOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
		testKeyPEM = append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	})
	return testKeyPEM, nil
}

func (e *snsEnv) now() func() time.Time {
	if e.clock == nil {
		return nil
	}
	return e.clock.Now
}

// open starts the stack on e.dir, on a new port.
func (e *snsEnv) open() {
	t := e.t
	store, err := sqlstore.Open(e.ctx, sqlstore.Options{Database: pgtest.Database(t, e.dir), DataDir: e.dir, Synchronous: e.sync})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	if _, err := store.SNSSigningKey(e.ctx, testSigningKey); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sns.Config{Store: store, PublicURL: "http://" + ln.Addr().String(), Now: e.now()}
	if e.deliverer, err = sns.NewDeliverer(e.ctx, cfg, e.opt); err != nil {
		t.Fatal(err)
	}
	cfg.Notify = e.deliverer.Notify
	if e.handler, err = sns.NewHandler(e.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	apiServer, err := api.New(e.ctx, api.Config{Store: store, SNS: e.handler})
	if err != nil {
		t.Fatal(err)
	}
	e.server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: apiServer}}
	e.server.Start()
	e.a = e.client(keyA, secretA, region)
	e.b = e.client(keyB, secretB, region)
}

// restart stops everything and opens it again on the same data dir, as a
// process restart would.
func (e *snsEnv) restart() {
	e.close()
	e.open()
}

func (e *snsEnv) close() {
	if e.deliverer != nil {
		e.deliverer.Stop()
	}
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	if e.store != nil {
		_ = e.store.Close()
		e.store = nil
	}
}

func (e *snsEnv) client(key, secret, region string) *awssns.Client {
	return awssns.New(awssns.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.server.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		// No retries, so that every error reaches the test as answered,
		// except one: rarely (seen twice in CI, under -race, never alone)
		// the client's own connection is closed under a response it is
		// reading; the server had answered, so asking again is safe.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				return aws.BoolTernary(strings.Contains(err.Error(), "use of closed network connection"))
			})}
		}),
	})
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

// snsWantCode fails unless err is an SNS API error with the given code and
// HTTP status.
func snsWantCode(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got error %v (%T), want API error %s", err, err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("got code %s (%s), want %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != status {
		t.Fatalf("got HTTP status %d for %s, want %d", respErr.HTTPStatusCode(), code, status)
	}
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

func newSubscriber(t testing.TB) *subscriber {
	s := &subscriber{t: t, got: make(chan received, 100000), verify: true, certs: map[string]*x509.Certificate{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// newTLSSubscriber is a subscriber on https; s.srv.Client() trusts it.
func newTLSSubscriber(t testing.TB) *subscriber {
	s := &subscriber{t: t, got: make(chan received, 100000), verify: true, certs: map[string]*x509.Certificate{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
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
