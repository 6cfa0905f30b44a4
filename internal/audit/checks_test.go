package audit

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func TestCertificateExpiring(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		notAfter  time.Time
		threshold int
		want      string // reason code, "" = compliant
		reason    string
	}{
		{"expired yesterday", now.Add(-25 * time.Hour), 30, ReasonPastExpiration, "1 day ago"},
		{"expires now", now, 30, ReasonPastExpiration, "0 days ago"},
		{"expires in 10 days", now.Add(10 * day), 30, ReasonApproachingExpiration, "in 10 days; the threshold is 30 days"},
		{"expires on the threshold", now.Add(30 * day), 30, ReasonApproachingExpiration, "in 30 days"},
		{"expires a minute after the threshold", now.Add(30*day + time.Minute), 30, "", ""},
		{"expires in a year", now.Add(365 * day), 30, "", ""},
		{"custom threshold 400", now.Add(365 * day), 400, ReasonApproachingExpiration, "in 365 days; the threshold is 400 days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, bad := CertificateExpiring(tc.notAfter, now, tc.threshold)
			if got := map[bool]string{true: v.Code}[bad]; got != tc.want {
				t.Fatalf("got code %q, want %q", got, tc.want)
			}
			if !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", v.Reason, tc.reason)
			}
		})
	}
}

func TestCertificateAge(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		created   time.Time
		threshold int
		bad       bool
	}{
		{now.Add(-364 * day), 365, false},
		{now.Add(-365 * day), 365, true},
		{now.Add(-800 * day), 365, true},
		{now.Add(-31 * day), 30, true},
		{now, 30, false},
	} {
		v, bad := CertificateAge(tc.created, now, tc.threshold)
		if bad != tc.bad || bad && v.Code != ReasonPastAgeThreshold {
			t.Errorf("created %v, threshold %d: got %v %q, want noncompliant=%v", tc.created, tc.threshold, bad, v.Code, tc.bad)
		}
	}
}

func TestKeyQuality(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	debian, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fp := WeakKeyFingerprint(debian.N)
	if err := os.WriteFile(filepath.Join(dir, "blacklist.RSA-1024"), []byte(hex.EncodeToString(fp[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	weak, err := LoadWeakKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	roca := &rsa.PublicKey{N: rocaModulus(rng, 2048), E: 65537}
	tests := []struct {
		name string
		alg  string
		der  []byte
		weak *WeakKeys
		want string
	}{
		{"ROCA RSA-2048", "RSA", spki(t, roca), nil, ReasonROCA},
		{"ROCA with a weak list", "RSA", spki(t, roca), weak, ReasonROCA},
		{"Debian weak key", "RSA", spki(t, &debian.PublicKey), weak, ReasonDebianWeakKey},
		{"Debian weak key, list not installed", "RSA", spki(t, &debian.PublicKey), nil, ""},
		{"sound RSA key", "RSA", spki(t, &good.PublicKey), weak, ""},
		{"EC key", "EC", spki(t, &ecKey(t).PublicKey), weak, ""},
		{"no key", "RSA", nil, weak, ""},
		{"garbage key", "RSA", []byte{1, 2, 3}, weak, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, bad := KeyQuality(tc.alg, tc.der, tc.weak)
			if got := map[bool]string{true: v.Code}[bad]; got != tc.want {
				t.Fatalf("got code %q, want %q", got, tc.want)
			}
			if bad && !strings.Contains(v.Reason, "RSA-") {
				t.Errorf("reason %q does not name the key", v.Reason)
			}
		})
	}
}

func TestLoggingDisabled(t *testing.T) {
	tests := []struct {
		name string
		v1   *warden.LoggingOptions
		v2   *warden.V2LoggingOptions
		bad  bool
	}{
		{"never configured", nil, nil, true},
		{"V2 on", nil, &warden.V2LoggingOptions{RoleArn: "r", DefaultLogLevel: "INFO"}, false},
		{"V2 all logs disabled", nil, &warden.V2LoggingOptions{RoleArn: "r", DefaultLogLevel: "INFO", DisableAllLogs: true}, true},
		{"V2 level DISABLED", nil, &warden.V2LoggingOptions{RoleArn: "r", DefaultLogLevel: "DISABLED"}, true},
		{"V2 without a level", nil, &warden.V2LoggingOptions{RoleArn: "r"}, true},
		{"V1 on", &warden.LoggingOptions{RoleArn: "r", LogLevel: "ERROR"}, nil, false},
		{"V1 DISABLED", &warden.LoggingOptions{RoleArn: "r", LogLevel: "DISABLED"}, nil, true},
		{"V1 on, V2 disabled", &warden.LoggingOptions{RoleArn: "r", LogLevel: "WARN"}, &warden.V2LoggingOptions{DisableAllLogs: true}, false},
	}
	for _, tc := range tests {
		v, bad := LoggingDisabled(tc.v1, tc.v2)
		if bad != tc.bad {
			t.Errorf("%s: got noncompliant=%v, want %v", tc.name, bad, tc.bad)
		}
		if bad && (v.Code != ReasonLoggingDisabled || !strings.Contains(v.Reason, "Neither V1 nor V2")) {
			t.Errorf("%s: got %+v", tc.name, v)
		}
	}
}
