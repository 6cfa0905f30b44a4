// Package audit runs AWS IoT Device Defender audits over Warden's registry:
// each check is a function over registry data, a Runner claims audit tasks
// from the store and runs them in the background, and scheduled audits fire
// from it on their schedule.
package audit

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// Reason codes (reasonForNonComplianceCode) of the implemented checks.
const (
	ReasonApproachingExpiration  = "CERTIFICATE_APPROACHING_EXPIRATION"
	ReasonPastExpiration         = "CERTIFICATE_PAST_EXPIRATION"
	ReasonPastAgeThreshold       = "CERTIFICATE_PAST_AGE_THRESHOLD"
	ReasonROCA                   = "CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361"
	ReasonDebianWeakKey          = "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166"
	ReasonRevokedByIssuer        = "CERTIFICATE_REVOKED_BY_ISSUER"
	ReasonIntermediateCARevoked  = "INTERMEDIATE_CA_REVOKED_BY_ISSUER"
	ReasonBroadDataPlaneAccess   = "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"
	ReasonMQTTWildcardsInDeny    = "POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT"
	ReasonDenyBypassedByWildcard = "TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS"
	ReasonLoggingDisabled        = "LOGGING_DISABLED"
)

// Verdict is what a check concludes about one noncompliant resource.
type Verdict struct {
	Code    string
	Reason  string
	Related []warden.RelatedResource
	Info    map[string]string
}

const day = 24 * time.Hour

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// CertificateExpiring checks a certificate that expires at notAfter: it is
// noncompliant when it has expired, or expires within thresholdDays of now.
func CertificateExpiring(notAfter, now time.Time, thresholdDays int) (Verdict, bool) {
	if !notAfter.After(now) {
		ago := int(now.Sub(notAfter) / day)
		return Verdict{Code: ReasonPastExpiration,
			Reason: fmt.Sprintf("The certificate expired on %s (%s ago).", stamp(notAfter), warden.DescribeDays(ago))}, true
	}
	left := notAfter.Sub(now)
	if left <= time.Duration(thresholdDays)*day {
		days := int(math.Ceil(float64(left) / float64(day)))
		return Verdict{Code: ReasonApproachingExpiration,
			Reason: fmt.Sprintf("The certificate expires on %s, in %s; the threshold is %s.", stamp(notAfter),
				warden.DescribeDays(days), warden.DescribeDays(thresholdDays))}, true
	}
	return Verdict{}, false
}

// CertificateAge checks a device certificate registered at created: it is
// noncompliant once it has been in the registry for thresholdDays or more.
func CertificateAge(created, now time.Time, thresholdDays int) (Verdict, bool) {
	age := now.Sub(created)
	if age < time.Duration(thresholdDays)*day {
		return Verdict{}, false
	}
	return Verdict{Code: ReasonPastAgeThreshold,
		Reason: fmt.Sprintf("The certificate was registered on %s, %s ago; the threshold is %s.", stamp(created),
			warden.DescribeDays(int(age/day)), warden.DescribeDays(thresholdDays))}, true
}

// KeyQuality checks a certificate's public key (DER SubjectPublicKeyInfo)
// for the known key-generation flaws: RSA moduli with the ROCA fingerprint
// (CVE-2017-15361) and RSA moduli on the Debian weak-key list
// (CVE-2008-0166; weak may be nil). Keys of other algorithms have neither
// flaw.
func KeyQuality(keyAlgorithm string, spki []byte, weak *WeakKeys) (Verdict, bool) {
	if keyAlgorithm != "RSA" || len(spki) == 0 {
		return Verdict{}, false
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return Verdict{}, false
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return Verdict{}, false
	}
	bits := k.N.BitLen()
	if IsROCAModulus(k.N) {
		return Verdict{Code: ReasonROCA, Reason: fmt.Sprintf(
			"The certificate's RSA-%d key has the fingerprint of keys made by the Infineon RSALib (ROCA, CVE-2017-15361): its private key can be computed from the public key.", bits)}, true
	}
	if weak.Contains(k.N) {
		return Verdict{Code: ReasonDebianWeakKey, Reason: fmt.Sprintf(
			"The certificate's RSA-%d key is on the Debian OpenSSL weak-key list (CVE-2008-0166): its private key is publicly known.", bits)}, true
	}
	return Verdict{}, false
}

// LoggingDisabled checks the account's logging: it is noncompliant when
// neither V1 nor V2 logging is on. v1 and v2 are nil when never set.
func LoggingDisabled(v1 *warden.LoggingOptions, v2 *warden.V2LoggingOptions) (Verdict, bool) {
	v1On := v1 != nil && v1.LogLevel != "" && v1.LogLevel != "DISABLED"
	v2On := v2 != nil && !v2.DisableAllLogs && v2.DefaultLogLevel != "" && v2.DefaultLogLevel != "DISABLED"
	if v1On || v2On {
		return Verdict{}, false
	}
	var why []string
	switch {
	case v2 == nil:
		why = append(why, "V2 logging was never configured (SetV2LoggingOptions)")
	case v2.DisableAllLogs:
		why = append(why, "V2 logging has disableAllLogs set")
	default:
		why = append(why, "V2 logging has no defaultLogLevel other than DISABLED")
	}
	if v1 == nil {
		why = append(why, "V1 logging was never configured (SetLoggingOptions)")
	} else {
		why = append(why, "V1 logging is at level DISABLED")
	}
	return Verdict{Code: ReasonLoggingDisabled,
		Reason: "Neither V1 nor V2 logging is enabled: " + strings.Join(why, "; ") + "."}, true
}

// RevokedSerial looks serial up on the CRLs; ok is true when one of them
// lists it.
func RevokedSerial(serial string, crls []*CRL) (crl *CRL, at time.Time, ok bool) {
	for _, c := range crls {
		if t, found := c.Revoked[serial]; found {
			return c, t, true
		}
	}
	return nil, time.Time{}, false
}
