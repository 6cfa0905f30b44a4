package sns

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// signer signs SNS messages with Warden's key. The key and its self-signed
// certificate are generated once and stored, so every process on one
// database signs with the same key and serves the same certificate.
type signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
	// certID names the certificate in SigningCertURL
	// (/SimpleNotificationService-<certID>.pem), as SNS names its own.
	certID string
}

func loadSigner(ctx context.Context, store warden.Store) (*signer, error) {
	stored, err := store.SNSSigningKey(ctx, generateSigningKey)
	if err != nil {
		return nil, fmt.Errorf("sns signing key: %w", err)
	}
	s := &signer{}
	var certDER []byte
	for rest := stored; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("sns signing key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, errors.New("sns signing key is not an RSA key")
			}
			s.key = rk
		case "CERTIFICATE":
			certDER = block.Bytes
			s.certPEM = pem.EncodeToMemory(block)
		}
	}
	if s.key == nil || certDER == nil {
		return nil, errors.New("sns signing key: stored PEM lacks the key or the certificate")
	}
	sum := sha256.Sum256(certDER)
	s.certID = hex.EncodeToString(sum[:16])
	return s, nil
}

// generateSigningKey makes an RSA 2048 key and a self-signed certificate
// for it, valid for 20 years, as PEM.
func generateSigningKey() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Warden SNS message signing", Organization: []string{"Warden"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

// sign returns the base64 signature of stringToSign: SHA1withRSA for
// SignatureVersion "1", SHA256withRSA for "2".
func (s *signer) sign(version, stringToSign string) (string, error) {
	var sig []byte
	var err error
	switch version {
	case "2":
		sum := sha256.Sum256([]byte(stringToSign))
		sig, err = rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	default:
		sum := sha1.Sum([]byte(stringToSign))
		sig, err = rsa.SignPKCS1v15(nil, s.key, crypto.SHA1, sum[:])
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// stringToSign is SNS's canonical form of a message: the signed fields in
// alphabetical order, each as "Name\nValue\n". A Notification signs
// Message, MessageId, Subject (only when there is one), Timestamp, TopicArn
// and Type; a SubscriptionConfirmation or UnsubscribeConfirmation signs
// Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn and Type.
// fields holds the envelope's values by name.
func stringToSign(fields map[string]string) string {
	names := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if fields["Type"] != warden.SNSNotification {
		names = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, n := range names {
		v, ok := fields[n]
		if n == "Subject" && (!ok || v == "") {
			continue
		}
		b.WriteString(n)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}
