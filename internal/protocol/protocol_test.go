package protocol

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func TestPageTokens(t *testing.T) {
	p := NewPageTokens([]byte("key"))
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	if tok := p.Seal("ListThings", s, "", ""); tok != "" {
		t.Fatalf("Seal of no cursor = %q, want \"\"", tok)
	}
	if c, err := p.Open("ListThings", s, "", ""); c != "" || err != nil {
		t.Fatalf("Open(\"\") = %q, %v", c, err)
	}
	tok := p.Seal("ListThings", s, "thing", "cursor/7")
	if c, err := p.Open("ListThings", s, "thing", tok); c != "cursor/7" || err != nil {
		t.Fatalf("Open = %q, %v; want the cursor back", c, err)
	}
	if strings.ContainsAny(tok, "+/=.") {
		t.Errorf("token %q is not unpadded URL-safe base64", tok)
	}
	other := warden.Scope{Account: "210987654321", Region: "us-east-1"}
	for name, open := range map[string]func() (string, error){
		"another operation": func() (string, error) { return p.Open("ListThingGroups", s, "thing", tok) },
		"another account":   func() (string, error) { return p.Open("ListThings", other, "thing", tok) },
		"another region": func() (string, error) {
			return p.Open("ListThings", warden.Scope{Account: s.Account, Region: "eu-west-1"}, "thing", tok)
		},
		"another binding": func() (string, error) { return p.Open("ListThings", s, "thin", tok) },
		"another key":     func() (string, error) { return NewPageTokens([]byte("other")).Open("ListThings", s, "thing", tok) },
		"not base64":      func() (string, error) { return p.Open("ListThings", s, "thing", "x.y") },
		"too short":       func() (string, error) { return p.Open("ListThings", s, "thing", "AAAA") },
		// Parts are length-prefixed: moving a byte from the binding
		// into the operation makes another token.
		"shifted parts": func() (string, error) { return p.Open("ListThingst", s, "hing", tok) },
	} {
		if c, err := open(); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Open = %q, %v; want ErrInvalidToken", name, c, err)
		}
	}

	marker := p.SealMarker("ListPolicies", s, "", "42")
	if !regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`).MatchString(marker) {
		t.Errorf("marker %q does not match the model's Marker pattern", marker)
	}
	if c, err := p.OpenMarker("ListPolicies", s, "", marker); c != "42" || err != nil {
		t.Errorf("OpenMarker = %q, %v", c, err)
	}
}

func TestParseBool(t *testing.T) {
	for raw, want := range map[string]bool{"true": true, "false": false} {
		if b, err := ParseBool("m", raw); b != want || err != nil {
			t.Errorf("ParseBool(%q) = %v, %v", raw, b, err)
		}
	}
	for _, raw := range []string{"TRUE", "True", "1", "0", "yes", ""} {
		_, err := ParseBool("isDefault", raw)
		want := "1 validation error detected: Value '" + raw + "' at 'isDefault' failed to satisfy constraint: Member must be true or false"
		if err == nil || err.Error() != want {
			t.Errorf("ParseBool(%q) error %v, want %q", raw, err, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	if n, err := ParseInt("maxItems", "-12", 32); n != -12 || err != nil {
		t.Errorf("ParseInt = %d, %v", n, err)
	}
	for _, raw := range []string{"ten", "1.5", "", "4294967296"} {
		_, err := ParseInt("maxItems", raw, 32)
		var v warden.Validator
		if !Report(&v, err) {
			t.Errorf("ParseInt(%q) error %v, want a *ValueError", raw, err)
			continue
		}
		want := "1 validation error detected: Value '" + raw + "' at 'maxItems' failed to satisfy constraint: Member must be an integer"
		if got := v.Err().Error(); got != string(warden.CodeInvalidRequest)+": "+want {
			t.Errorf("reported %q, want %q", got, want)
		}
	}
}

func TestParseFloat(t *testing.T) {
	if f, err := ParseFloat("rate", "2.5"); f != 2.5 || err != nil {
		t.Errorf("ParseFloat = %v, %v", f, err)
	}
	if _, err := ParseFloat("rate", "fast"); err == nil || !strings.HasSuffix(err.Error(), "at 'rate' failed to satisfy constraint: Member must be a number") {
		t.Errorf("ParseFloat(fast) error %v", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	want := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, raw := range []string{"2019-01-01T00:00:00Z", "2019-01-01T01:00:00.000+01:00", "2019-01-01T00:00:00", "2019-01-01", "1546300800"} {
		if got, err := ParseTimestamp("startTime", raw); !got.Equal(want) || got.Location() != time.UTC || err != nil {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", raw, got, err, want)
		}
	}
	if _, err := ParseTimestamp("startTime", "yesterday"); err == nil || !strings.Contains(err.Error(), "at 'startTime' failed to satisfy constraint: Member must be an ISO-8601 timestamp") {
		t.Errorf("ParseTimestamp(yesterday) error %v", err)
	}
}
