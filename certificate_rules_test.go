package warden

import (
	"testing"
	"time"
)

func TestRegisterStatus(t *testing.T) {
	for _, tc := range []struct {
		status      string
		setAsActive bool
		want        string
		ok          bool
	}{
		{"", false, CertInactive, true},
		{"", true, CertActive, true},
		{CertRevoked, true, CertRevoked, true},
		{CertPendingTransfer, false, "", false},
		{CertRegisterInactive, false, "", false},
	} {
		got, err := RegisterStatus(tc.status, tc.setAsActive)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("RegisterStatus(%q, %v) = %q, %v; want %q, ok=%v", tc.status, tc.setAsActive, got, err, tc.want, tc.ok)
		}
	}
}

// TestParseCARegistrationMode checks the verification certificate's
// presence against the mode before anything is parsed.
func TestParseCARegistrationMode(t *testing.T) {
	for _, tc := range []struct{ verification, mode string }{
		{"", ""}, {"", ModeDefault}, {"pem", ModeSNIOnly},
	} {
		if _, _, err := ParseCARegistration("", tc.verification, tc.mode, time.Now()); ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("verification %q, mode %q: got %v, want InvalidRequest", tc.verification, tc.mode, err)
		}
	}
}
