package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/x509test"
)

// rocaM is the product of the detector's primes.
func rocaM() *big.Int {
	m := big.NewInt(1)
	for _, p := range rocaPrimes {
		m.Mul(m, new(big.Int).SetUint64(p))
	}
	return m
}

// rocaCandidate is k·M + (65537^a mod M) in [1.5·2^(bits-1), 2^bits), so
// that two of them multiply to a full 2·bits-bit modulus.
func rocaCandidate(rng *mrand.Rand, bits int) *big.Int {
	m := rocaM()
	a := new(big.Int).Exp(big.NewInt(65537), big.NewInt(int64(rng.IntN(1<<20)+1)), m)
	lo := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(3), uint(bits-2)), m)
	lo.Add(lo, big.NewInt(1))
	hi := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), uint(bits)), m)
	hi.Sub(hi, big.NewInt(1))
	span := new(big.Int).Sub(hi, lo)
	k := randBits(rng, span.BitLen()+8)
	k.Mod(k, span).Add(k, lo)
	return k.Mul(k, m).Add(k, a)
}

// rocaPrime returns a prime of RSALib's form k·M + (65537^a mod M): the
// structure the ROCA fingerprint detects.
func rocaPrime(t testing.TB, rng *mrand.Rand, bits int) *big.Int {
	t.Helper()
	for range 100000 {
		if p := rocaCandidate(rng, bits); p.ProbablyPrime(20) {
			return p
		}
	}
	t.Fatal("no ROCA-structured prime found")
	return nil
}

// rocaModulus is a modulus with the ROCA fingerprint that is cheap to make
// (no primality tests): the fingerprint looks only at residues, so it
// cannot tell it from a real RSALib modulus.
func rocaModulus(rng *mrand.Rand, bits int) *big.Int {
	return rocaCandidate(rng, bits)
}

// rocaKey is a real RSA key pair whose primes have RSALib's structure.
func rocaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(1, 2))
	for {
		p, q := rocaPrime(t, rng, bits/2), rocaPrime(t, rng, bits/2)
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		one := big.NewInt(1)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(big.NewInt(65537), phi)
		if d == nil || n.BitLen() != bits {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		if err := k.Validate(); err != nil {
			t.Fatal(err)
		}
		return k
	}
}

// randBits is a random number below 2^bits.
func randBits(rng *mrand.Rand, bits int) *big.Int {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	n := new(big.Int).SetBytes(b)
	return n.Rsh(n, uint(len(b)*8-bits))
}

// pkiCA is a CA key and certificate for tests.
type pkiCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  string
}

var serialCounter = big.NewInt(1000)

func nextSerial() *big.Int {
	serialCounter.Add(serialCounter, big.NewInt(1))
	return new(big.Int).Set(serialCounter)
}

// newRootCA makes a self-signed ECDSA CA.
func newRootCA(t testing.TB, cn string) *pkiCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true}
	c := x509test.Sign(t, tmpl, tmpl, &key.PublicKey, key)
	return &pkiCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))}
}

// issue makes a certificate for pub signed by ca.
func (ca *pkiCA) issue(t testing.TB, cn string, pub any, isCA bool, notAfter time.Time, crlURLs ...string) *x509.Certificate {
	t.Helper()
	notBefore := time.Now().Add(-time.Hour)
	if !notBefore.Before(notAfter) {
		notBefore = notAfter.Add(-24 * time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, CRLDistributionPoints: crlURLs,
		BasicConstraintsValid: isCA, IsCA: isCA}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	return x509test.Sign(t, tmpl, ca.cert, pub, ca.key)
}

// intermediate makes a CA certificate signed by ca.
func (ca *pkiCA) intermediate(t testing.TB, cn string, crlURLs ...string) *pkiCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.issue(t, cn, &key.PublicKey, true, time.Now().Add(5*365*24*time.Hour), crlURLs...)
	return &pkiCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))}
}

// crl makes a DER CRL signed by ca that revokes serials.
func (ca *pkiCA) crl(t testing.TB, next time.Time, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour).UTC().Truncate(time.Second)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: nextSerial(), ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: next, RevokedCertificateEntries: entries}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func spki(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
