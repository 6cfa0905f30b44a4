// Package wardentest is the one test harness of Warden's packages: a store
// for a test (SQLite in a temporary directory, or a PostgreSQL schema of its
// own when WARDEN_TEST_DATABASE is set), test access keys, the whole handler
// stack of `warden serve` on an httptest server, SDK clients for IoT, SNS
// and IAM, and WantCode for their errors.
package wardentest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/iam"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// The test accounts, their access keys and the default region.
const (
	AccountA = "123456789012"
	KeyA     = "AKIATESTACCOUNTAAAAA"
	SecretA  = "secretAsecretAsecretAsecretAsecretA00000"
	AccountB = "111122223333"
	KeyB     = "AKIATESTACCOUNTBBBBB"
	SecretB  = "secretBsecretBsecretBsecretBsecretB00000"
	Region   = "us-east-1"
)

// StoreOptions are the options of the store of a test for data dir dir:
// its own PostgreSQL schema when WARDEN_TEST_DATABASE is set, else SQLite
// in dir with synchronous (NORMAL when "").
func StoreOptions(t testing.TB, dir, synchronous string) sqlstore.Options {
	t.Helper()
	if synchronous == "" {
		synchronous = "NORMAL"
	}
	return sqlstore.Options{Database: pgtest.Database(t, dir), DataDir: dir, Synchronous: synchronous}
}

// OpenStore opens the store of data dir dir (see StoreOptions), closed when
// t ends. Opening the same dir again, as a restart does, finds the same data.
func OpenStore(t testing.TB, dir, synchronous string) *sqlstore.DB {
	t.Helper()
	store := openStore(t, dir, synchronous)
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// NewStore is a new, empty store for t.
func NewStore(t testing.TB) *sqlstore.DB {
	t.Helper()
	return OpenStore(t, t.TempDir(), "")
}

func openStore(t testing.TB, dir, synchronous string) *sqlstore.DB {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), StoreOptions(t, dir, synchronous))
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	return store
}

// RawDB opens the database of the store of data dir dir directly, for
// fixtures the API cannot make and for snapshots; it is closed when t ends.
func RawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sqlstore.OpenSQL(sqlstore.Options{Database: pgtest.Database(t, dir), DataDir: dir})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// AddKey stores access key id with secret for account.
func AddKey(t testing.TB, store warden.Store, id, secret, account string) {
	t.Helper()
	k := warden.AccessKey{ID: id, Secret: secret, Account: account, CreatedAt: time.Now()}
	if err := store.CreateAccessKey(context.Background(), k); err != nil {
		t.Fatalf("create access key %s: %v", id, err)
	}
}

// AddTestKeys stores KeyA for AccountA and KeyB for AccountB.
func AddTestKeys(t testing.TB, store warden.Store) {
	t.Helper()
	AddKey(t, store, KeyA, SecretA, AccountA)
	AddKey(t, store, KeyB, SecretB, AccountB)
}

// Config says what Start serves. The zero Config is `warden serve`'s stack
// without the device endpoint on a new store. Start adds the test keys to a
// store that lacks them.
type Config struct {
	// Dir is the data dir to open; "" is a new one.
	Dir string
	// Synchronous is SQLite's synchronous pragma; "" is NORMAL.
	Synchronous string
	// IoTOnly leaves SNS and IAM out: requests signed for them are
	// answered as for any unknown service.
	IoTOnly bool
	// Now is the clock of SNS; nil is the real one.
	Now func() time.Time
	// Delivery configures the SNS deliverer, which Start does not start.
	Delivery sns.DeliveryOptions
	// Devices, when set, makes the device endpoint over the store at every
	// start; it is closed with the stack if it is an io.Closer.
	Devices func(store *sqlstore.DB) (api.Devices, error)
}

// Stack is Warden's handler stack on a real store behind an httptest
// server. Its fields change when it restarts.
type Stack struct {
	t   testing.TB
	cfg Config
	// Dir is the data dir; a restart opens the same.
	Dir       string
	Store     *sqlstore.DB
	API       *api.Server
	SNS       *sns.Handler   // nil with IoTOnly
	Deliverer *sns.Deliverer // nil with IoTOnly
	IAM       *iam.Handler   // nil with IoTOnly
	Devices   api.Devices    // nil without Config.Devices
	Server    *httptest.Server
}

// Start opens the stack cfg describes; it is closed when t ends.
func Start(t testing.TB, cfg Config) *Stack {
	t.Helper()
	s := &Stack{t: t, cfg: cfg, Dir: cfg.Dir}
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	s.open()
	if _, ok, err := s.Store.AccessKey(context.Background(), KeyA); err != nil {
		t.Fatalf("look up the test keys: %v", err)
	} else if !ok {
		AddTestKeys(t, s.Store)
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the endpoint of the stack's server.
func (s *Stack) URL() string { return s.Server.URL }

// open starts everything on s.Dir, the server on a new port.
func (s *Stack) open() {
	t, ctx := s.t, context.Background()
	t.Helper()
	s.Store = openStore(t, s.Dir, s.cfg.Synchronous)
	// Unstarted, so that SNS knows its public URL before it is made.
	s.Server = httptest.NewUnstartedServer(nil)
	apiCfg := api.Config{Store: s.Store}
	if !s.cfg.IoTOnly {
		if err := s.wireQueryServices(ctx, &apiCfg); err != nil {
			t.Fatal(err)
		}
	}
	if s.cfg.Devices != nil {
		devices, err := s.cfg.Devices(s.Store)
		if err != nil {
			t.Fatalf("device endpoint: %v", err)
		}
		s.Devices, apiCfg.Devices = devices, devices
	}
	var err error
	if s.API, err = api.New(ctx, apiCfg); err != nil {
		t.Fatalf("api.New: %v", err)
	}
	s.Server.Config.Handler = s.API
	s.Server.Start()
}

// wireQueryServices makes SNS (with its deliverer) and IAM as `warden serve`
// does and adds them to cfg.
func (s *Stack) wireQueryServices(ctx context.Context, cfg *api.Config) error {
	if _, err := s.Store.SNSSigningKey(ctx, signingKey); err != nil {
		return fmt.Errorf("SNS signing key: %w", err)
	}
	snsCfg := sns.Config{Store: s.Store, PublicURL: "http://" + s.Server.Listener.Addr().String(), Now: s.cfg.Now}
	var err error
	if s.Deliverer, err = sns.NewDeliverer(ctx, snsCfg, s.cfg.Delivery); err != nil {
		return fmt.Errorf("SNS deliverer: %w", err)
	}
	snsCfg.Notify = s.Deliverer.Notify
	if s.SNS, err = sns.NewHandler(ctx, snsCfg); err != nil {
		return fmt.Errorf("SNS handler: %w", err)
	}
	if s.IAM, err = iam.NewHandler(ctx, iam.Config{Store: s.Store}); err != nil {
		return fmt.Errorf("IAM handler: %w", err)
	}
	cfg.SNS, cfg.IAM = s.SNS, s.IAM
	return nil
}

// Restart closes everything and opens it again on the same data dir, as a
// process restart would; the server gets a new port.
func (s *Stack) Restart() {
	s.t.Helper()
	s.Close()
	s.open()
}

// Close stops the server, the device endpoint, the deliverer and the store.
func (s *Stack) Close() {
	if s.Server != nil {
		s.Server.Close()
		s.Server = nil
	}
	if c, ok := s.Devices.(io.Closer); ok {
		_ = c.Close()
	}
	s.Devices = nil
	if s.Deliverer != nil {
		s.Deliverer.Stop()
		s.Deliverer = nil
	}
	if s.Store != nil {
		_ = s.Store.Close()
		s.Store = nil
	}
}

// IoT is an IoT client of the stack signing with key and secret in region.
func (s *Stack) IoT(key, secret, region string) *iot.Client {
	return iot.NewFromConfig(AWSConfig(s.URL(), key, secret, region))
}

// SNSClient is an SNS client of the stack signing with key and secret in region.
func (s *Stack) SNSClient(key, secret, region string) *awssns.Client {
	return awssns.NewFromConfig(AWSConfig(s.URL(), key, secret, region))
}

// IAMClient is an IAM client of the stack signing with key and secret in region.
func (s *Stack) IAMClient(key, secret, region string) *awsiam.Client {
	return awsiam.NewFromConfig(AWSConfig(s.URL(), key, secret, region))
}

// AWSConfig is the SDK configuration of the test clients of endpoint. They
// do not retry, so that every error reaches the test as answered, except
// one: rarely (under -race, beside other suites) the client's own
// connection is closed under a response it is reading; the server had
// answered, so asking again is safe.
func AWSConfig(endpoint, key, secret, region string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   http.DefaultClient,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					return aws.BoolTernary(strings.Contains(err.Error(), "use of closed network connection"))
				})}
			})
		},
	}
}

// Sign signs r, whose body is body, in place with SigV4 as key and secret
// for service in region at time at (zero: now), for requests the SDK
// cannot send.
func Sign(r *http.Request, body []byte, key, secret, service, region string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return fmt.Errorf("sign %s %s: %w", r.Method, r.URL, err)
	}
	return nil
}

// WantCode fails t unless err is an API error with code and, when the
// error has one, HTTP status.
func WantCode(t testing.TB, err error, code string, status int) {
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

// ErrorCode is the AWS error code of err, "" if it is no API error.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// ErrorMessage is the AWS error message of err, "" if it is no API error.
func ErrorMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return ""
}

var (
	signingKeyOnce sync.Once
	signingKeyPEM  []byte
	signingKeyErr  error
)

// signingKey is one SNS signing key for every stack of the test binary:
// making one per store would cost a second per test under -race. It is
// stored as Warden stores its own: the PKCS#8 key, then the certificate.
func signingKey() ([]byte, error) {
	signingKeyOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			signingKeyErr = err
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			signingKeyErr = err
			return
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			signingKeyErr = err
			return
		}
		signingKeyPEM = append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	})
	return signingKeyPEM, signingKeyErr
}

// WaitFor polls cond until it holds and returns how long that took; it
// fails t if cond does not hold within timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// Clock is a fake clock, safe for concurrent use, that moves only when a
// test sets or advances it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to now.
func (c *Clock) Set(now time.Time) {
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
