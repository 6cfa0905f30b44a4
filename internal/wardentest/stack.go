package wardentest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/iam"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/sqlstore"
)

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
