package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// benchPKI is the CA the bench makes for a run: it signs Mosquitto's server
// certificate and every device certificate. The same device certificates
// are registered in Warden (under this CA), so both brokers see identical
// clients doing identical cryptography.
type benchPKI struct {
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	caPEM   []byte
	devices []deviceCert
}

// deviceCert is one device's certificate and key.
type deviceCert struct {
	tls tls.Certificate
	pem string // the certificate, PEM
	id  string // AWS certificateId: SHA-256 of the DER, hex
}

var serialCounter atomic.Int64

func nextSerial() *big.Int {
	return big.NewInt(time.Now().UnixNano() + serialCounter.Add(1))
}

func newBenchPKI() (*benchPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Organization: []string{"warden-bench"}, CommonName: "warden-bench device CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &benchPKI{ca: ca, caKey: key, caPEM: pemBlock("CERTIFICATE", der)}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// sign issues a certificate for a new P-256 key: a server certificate for
// the IP addresses ips, else a client certificate with CommonName cn.
func (p *benchPKI) sign(cn string, ips []net.IP) (certDER []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(ips) > 0 {
		tmpl.IPAddresses = ips
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	return certDER, key, err
}

// makeDevices adds device certificates until there are n.
func (p *benchPKI) makeDevices(n int) error {
	for i := len(p.devices); i < n; i++ {
		der, key, err := p.sign(fmt.Sprintf("bench-device-%d", i), nil)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(der)
		p.devices = append(p.devices, deviceCert{
			tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
			pem: string(pemBlock("CERTIFICATE", der)),
			id:  hex.EncodeToString(sum[:]),
		})
	}
	return nil
}

// writeServerFiles writes the CA, and a server certificate for 127.0.0.1
// with its key, into dir for Mosquitto; it returns their paths.
func (p *benchPKI) writeServerFiles(dir string) (caFile, certFile, keyFile string, err error) {
	der, key, err := p.sign("127.0.0.1", []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path string
		data []byte
	}{{caFile, p.caPEM}, {certFile, pemBlock("CERTIFICATE", der)}, {keyFile, pemBlock("EC PRIVATE KEY", keyDER)}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}

// benchPolicyName is the IoT policy every bench device certificate has
// attached in Warden: connect as bench-*, publish, receive and subscribe
// under bench/.
const benchPolicyName = "warden-bench-devices"

func benchPolicyDocument(account, region string) string {
	arn := "arn:aws:iot:" + region + ":" + account + ":"
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/bench-*"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"` + arn + `topic/bench/*"},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/bench/*"}]}`
}

// registerInWarden registers the bench CA (with the verification
// certificate AWS asks for) and every device certificate as ACTIVE, creates
// the bench policy and attaches it to each certificate: through the API, as
// an operator would. It returns each device's certificate ARN.
func (p *benchPKI) registerInWarden(ctx context.Context, cl *iot.Client, workers int) ([]string, error) {
	code, err := cl.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		return nil, fmt.Errorf("GetRegistrationCode: %w", err)
	}
	verDER, _, err := p.sign(aws.ToString(code.RegistrationCode), nil)
	if err != nil {
		return nil, err
	}
	if _, err := cl.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate:           aws.String(string(p.caPEM)),
		VerificationCertificate: aws.String(string(pemBlock("CERTIFICATE", verDER))),
		SetAsActive:             true,
	}); err != nil {
		return nil, fmt.Errorf("RegisterCACertificate: %w", err)
	}
	if _, err := cl.CreatePolicy(ctx, &iot.CreatePolicyInput{
		PolicyName:     aws.String(benchPolicyName),
		PolicyDocument: aws.String(benchPolicyDocument(benchAccount, "us-east-1")),
	}); err != nil {
		return nil, fmt.Errorf("CreatePolicy: %w", err)
	}
	arns := make([]string, len(p.devices))
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	caPEM := string(p.caPEM)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(p.devices) || ctx.Err() != nil {
					return
				}
				out, err := cl.RegisterCertificate(ctx, &iot.RegisterCertificateInput{
					CertificatePem:   aws.String(p.devices[i].pem),
					CaCertificatePem: aws.String(caPEM),
					Status:           types.CertificateStatusActive,
				})
				if err == nil && aws.ToString(out.CertificateId) != p.devices[i].id {
					err = fmt.Errorf("RegisterCertificate answered id %s, want %s", aws.ToString(out.CertificateId), p.devices[i].id)
				}
				if err == nil {
					arns[i] = aws.ToString(out.CertificateArn)
					_, err = cl.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(benchPolicyName), Target: out.CertificateArn})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("device %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return arns, firstErr
}

// benchAccount is the account of the access key `warden serve` prints on
// its first start.
const benchAccount = "123456789012"
