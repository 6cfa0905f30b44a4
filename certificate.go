package warden

import (
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// CertificateStore persists the certificate part of the registry: device
// certificates, registered CA certificates, the account's registration code
// and issuing CA, and the principals attached to things.
type CertificateStore interface {
	// RegistrationCode returns the scope's registration code, storing
	// generate()'s value the first time.
	RegistrationCode(ctx context.Context, s Scope, generate func() string) (string, error)
	// IssuingCA returns the PEM certificate and key of the CA that signs the
	// certificates CreateKeysAndCertificate makes, storing generate()'s pair
	// the first time. Concurrent first calls agree on one CA.
	IssuingCA(ctx context.Context, s Scope, generate func() (certPEM, keyPEM string, err error)) (certPEM, keyPEM string, err error)

	// CreateCertificate stores c as given (CreateKeysAndCertificate,
	// RegisterCertificateWithoutCA); operation names it in the change log.
	// A certificate already in the scope is ResourceAlreadyExists.
	CreateCertificate(ctx context.Context, s Scope, c Certificate, operation string) error
	// RegisterCertificate stores c after finding the registered CA
	// certificate that signed it: the one with id caCertificateID when not
	// "", else the one whose subject and key match c's issuer. That CA must
	// be ACTIVE; c takes its id and certificate mode.
	RegisterCertificate(ctx context.Context, s Scope, c Certificate, caCertificateID string) (Certificate, error)
	// Certificate returns one device certificate or ResourceNotFound.
	Certificate(ctx context.Context, s Scope, id string) (Certificate, error)
	// DeviceCertificate finds a device certificate by id in any scope, for
	// the device endpoint (a TLS client names no account); of several
	// registrations the earliest. found is false when none has it.
	DeviceCertificate(ctx context.Context, id string) (s Scope, c Certificate, found bool, err error)
	// UpdateCertificateStatus moves a certificate to newStatus. Setting the
	// status it has is no change (changed=false) and no error.
	UpdateCertificateStatus(ctx context.Context, s Scope, id, newStatus string, now time.Time) (changed bool, err error)
	// DeleteCertificate removes a certificate that is not ACTIVE and is
	// attached to no thing; with force its policies are detached, without
	// it attached policies are a DeleteConflict.
	DeleteCertificate(ctx context.Context, s Scope, id string, force bool, now time.Time) error
	// Certificates lists device certificates by creation order.
	Certificates(ctx context.Context, s Scope, f CertificateFilter, p Page) (certs []Certificate, next string, err error)

	// RegisterCACertificate stores a CA certificate and its tags. For
	// DEFAULT mode verificationCN is the common name of a verification
	// certificate the caller has checked was signed by the CA's key; it
	// must equal the scope's registration code.
	RegisterCACertificate(ctx context.Context, s Scope, ca CACertificate, verificationCN *string, tags []Tag) error
	// CACertificate returns one CA certificate or ResourceNotFound.
	CACertificate(ctx context.Context, s Scope, id string) (CACertificate, error)
	// UpdateCACertificate changes a CA certificate's status and/or its
	// auto-registration settings.
	UpdateCACertificate(ctx context.Context, s Scope, id string, u CACertificateUpdate, now time.Time) error
	// DeleteCACertificate removes an INACTIVE CA certificate that no
	// registered device certificate refers to, and its tags.
	DeleteCACertificate(ctx context.Context, s Scope, id string, now time.Time) error
	// CACertificates lists CA certificates by creation order, only those
	// whose registration config names templateName when it is not "".
	CACertificates(ctx context.Context, s Scope, templateName string, ascending bool, p Page) (cas []CACertificate, next string, err error)

	// AttachThingPrincipal attaches a certificate ARN to a thing; both must
	// exist. Attaching again is no error.
	AttachThingPrincipal(ctx context.Context, s Scope, thingName, principal, principalType string, now time.Time) error
	// DetachThingPrincipal detaches a certificate ARN from a thing; both
	// must exist. Detaching what is not attached is no error.
	DetachThingPrincipal(ctx context.Context, s Scope, thingName, principal string, now time.Time) error
	// ThingPrincipals lists the principals of a thing, by principal.
	ThingPrincipals(ctx context.Context, s Scope, thingName string, p Page) (principals []ThingPrincipal, next string, err error)
	// PrincipalThings lists the things a certificate ARN is attached to, by name.
	PrincipalThings(ctx context.Context, s Scope, principal string, p Page) (things []string, next string, err error)
}

// Certificate statuses (the CertificateStatus enum).
const (
	CertActive            = "ACTIVE"
	CertInactive          = "INACTIVE"
	CertRevoked           = "REVOKED"
	CertPendingTransfer   = "PENDING_TRANSFER"
	CertRegisterInactive  = "REGISTER_INACTIVE"
	CertPendingActivation = "PENDING_ACTIVATION"
)

// CertificateStatuses lists the CertificateStatus enum in the model's order.
var CertificateStatuses = []string{
	CertActive, CertInactive, CertRevoked, CertPendingTransfer, CertRegisterInactive, CertPendingActivation,
}

// CACertificateStatuses lists the CACertificateStatus enum.
var CACertificateStatuses = []string{CertActive, CertInactive}

// Certificate modes (the CertificateMode enum).
const (
	ModeDefault = "DEFAULT"
	ModeSNIOnly = "SNI_ONLY"
)

// Auto-registration statuses of a CA certificate.
const (
	AutoRegistrationEnable  = "ENABLE"
	AutoRegistrationDisable = "DISABLE"
)

// Thing principal types (the ThingPrincipalType enum of newer models).
const (
	PrincipalExclusive    = "EXCLUSIVE_THING"
	PrincipalNonExclusive = "NON_EXCLUSIVE_THING"
)

// MaxCACertificatesPerSubject is AWS IoT's limit on registered CA
// certificates with the same subject field per account.
const MaxCACertificatesPerSubject = 10

// MaxConsultedCRLDistributionPoints is how many of a certificate's CRL
// distribution points an audit consults (the first ones), so that one
// certificate cannot make an audit fetch and hold any number of CRLs.
const MaxConsultedCRLDistributionPoints = 4

// X509Facts are what the audit checks need to know about a certificate
// without parsing its PEM again.
type X509Facts struct {
	Subject            string
	Issuer             string
	SubjectDER         []byte
	IssuerDER          []byte
	Serial             string // lower-case hex
	KeyAlgorithm       string // RSA, EC, Ed25519
	KeySize            int    // bits (RSA modulus, EC curve size)
	SignatureAlgorithm string
	// PublicKey is the DER SubjectPublicKeyInfo; PublicKeySHA256 its
	// lower-case hex SHA-256, to find certificates that share a key.
	PublicKey       []byte
	PublicKeySHA256 string
	// CRLDistributionPoints are the certificate's CRL URLs; audits consult
	// the first MaxConsultedCRLDistributionPoints of them.
	CRLDistributionPoints []string
	IsCA                  bool
}

// ConsultedCRLDistributionPoints is the CRL distribution points an audit
// consults: the first MaxConsultedCRLDistributionPoints.
func (f *X509Facts) ConsultedCRLDistributionPoints() []string {
	return f.CRLDistributionPoints[:min(len(f.CRLDistributionPoints), MaxConsultedCRLDistributionPoints)]
}

// Certificate is a device certificate registered in, or issued by, Warden.
type Certificate struct {
	// ID is the lower-case hex SHA-256 of the DER certificate.
	ID     string
	Status string
	PEM    string
	// CACertificateID is the registered CA that signed it; "" for
	// certificates Warden issued and those registered without a CA.
	CACertificateID  string
	Mode             string
	CustomerVersion  int
	GenerationID     string
	NotBefore        time.Time
	NotAfter         time.Time
	CreationDate     time.Time
	LastModifiedDate time.Time
	Facts            X509Facts
}

// CertificateARN is the ARN of device certificate id in scope s.
func (s Scope) CertificateARN(id string) string { return s.IoTARN("cert/" + id) }

// CACertificateARN is the ARN of CA certificate id in scope s.
func (s Scope) CACertificateARN(id string) string { return s.IoTARN("cacert/" + id) }

// CertificateFilter selects device certificates.
type CertificateFilter struct {
	// ByCA limits the list to certificates signed by CACertificateID.
	ByCA            bool
	CACertificateID string
	Ascending       bool
}

// RegistrationConfig is a CA certificate's auto-registration settings.
// Members are pointers so that a present but empty member can be told from
// an absent one.
type RegistrationConfig struct {
	TemplateBody *string `json:"templateBody,omitempty"`
	RoleArn      *string `json:"roleArn,omitempty"`
	TemplateName *string `json:"templateName,omitempty"`
}

// IsZero reports whether no member is set.
func (r *RegistrationConfig) IsZero() bool {
	return r == nil || r.TemplateBody == nil && r.RoleArn == nil && r.TemplateName == nil
}

// CACertificate is a CA certificate registered by an account.
type CACertificate struct {
	ID                     string
	Status                 string
	PEM                    string
	Mode                   string
	AutoRegistrationStatus string
	RegistrationConfig     RegistrationConfig
	CustomerVersion        int
	GenerationID           string
	NotBefore              time.Time
	NotAfter               time.Time
	CreationDate           time.Time
	LastModifiedDate       time.Time
	Facts                  X509Facts
}

// CACertificateUpdate is what UpdateCACertificate may change; "" and nil
// keep the current value.
type CACertificateUpdate struct {
	NewStatus                 string
	NewAutoRegistrationStatus string
	RegistrationConfig        *RegistrationConfig
	// RemoveAutoRegistration clears the registration config and disables
	// auto-registration.
	RemoveAutoRegistration bool
}

// Check refuses an update that both removes auto-registration and sets it
// up.
func (u *CACertificateUpdate) Check() error {
	if u.RemoveAutoRegistration && (u.RegistrationConfig != nil || u.NewAutoRegistrationStatus == AutoRegistrationEnable) {
		return Errorf(CodeInvalidRequest,
			"removeAutoRegistration cannot be combined with registrationConfig or newAutoRegistrationStatus=ENABLE.")
	}
	return nil
}

// ThingPrincipal is one principal attached to a thing.
type ThingPrincipal struct {
	Principal string
	Type      string
}

// ValidateCertificateID checks a CertificateId: 64 characters of
// (0x)?[a-fA-F0-9]+.
func ValidateCertificateID(v *Validator, member, id string) {
	v.Length(member, id, 64, 64)
	hexPart := strings.TrimPrefix(id, "0x")
	ok := hexPart != ""
	for _, r := range hexPart {
		ok = ok && isHexChar(r)
	}
	if !ok {
		v.Fail(member, id, "Member must satisfy regular expression pattern: (0x)?[a-fA-F0-9]+")
	}
}

func isHexChar(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// ParseCertificateARN splits a device certificate ARN into its scope and
// certificate id; ok is false for anything else.
func ParseCertificateARN(arn string) (s Scope, id string, ok bool) {
	s, kind, id, ok := ParseIoTARN(arn)
	if !ok || kind != "cert" {
		return Scope{}, "", false
	}
	return s, id, true
}

// CheckSettableCertificateStatus fails with InvalidRequestException unless
// a client may set status (the request member named member): PENDING_TRANSFER and
// PENDING_ACTIVATION are IoT's own, REGISTER_INACTIVE is deprecated.
func CheckSettableCertificateStatus(member, status string) error {
	switch status {
	case CertActive, CertInactive, CertRevoked:
		return nil
	case CertPendingTransfer, CertPendingActivation:
		return Errorf(CodeInvalidRequest, "The status %s is used internally by AWS IoT and cannot be set.", status)
	case CertRegisterInactive:
		return Errorf(CodeInvalidRequest, "The status REGISTER_INACTIVE is deprecated and cannot be set.")
	}
	var v Validator
	v.Enum(member, status, CertificateStatuses...)
	return v.Err()
}

// CheckCertificateDeletable fails unless a certificate in status may be
// deleted: not while ACTIVE (AWS's text) nor while being transferred.
func CheckCertificateDeletable(id, status string) error {
	switch status {
	case CertActive:
		return ErrCertificateActive()
	case CertPendingTransfer:
		return Errorf(CodeCertificateState, "The certificate %s is being transferred and cannot be deleted.", id)
	}
	return nil
}

// CheckCertificateActivation fails unless the CA certificate caID that
// signed certificate id, in caStatus ("" unregistered), lets it be ACTIVE.
func CheckCertificateActivation(id, caID, caStatus string) error {
	if caStatus != CertActive {
		return Errorf(CodeCertificateState, "The certificate %s cannot be activated: its CA certificate %s is not ACTIVE.", id, caID)
	}
	return nil
}

// CheckCACertificateDeletable fails while a CA certificate is ACTIVE.
func CheckCACertificateDeletable(id, status string) error {
	if status == CertActive {
		return Errorf(CodeCertificateState, "The CA certificate %s is ACTIVE; set it INACTIVE with UpdateCACertificate before deleting it.", id)
	}
	return nil
}

// CheckCertificateTransition fails with CertificateStateException when a
// certificate in status from cannot move to status to: revocation is final
// and a certificate being transferred cannot change.
func CheckCertificateTransition(id, from, to string) error {
	if from == to {
		return nil
	}
	switch from {
	case CertRevoked:
		return Errorf(CodeCertificateState, "The certificate %s is REVOKED; a revoked certificate cannot be set to %s.", id, to)
	case CertPendingTransfer:
		return Errorf(CodeCertificateState, "The certificate %s is PENDING_TRANSFER and cannot be changed until the transfer ends.", id)
	}
	return nil
}

// NewCertificateStatus is the status a new certificate starts in:
// CertActive when setAsActive, else CertInactive.
func NewCertificateStatus(setAsActive bool) string {
	if setAsActive {
		return CertActive
	}
	return CertInactive
}

// RegisterStatus is the status a registered certificate starts in: status
// if given, else ACTIVE for the deprecated setAsActive=true, else INACTIVE.
// Of the model's statuses AWS documents only ACTIVE, INACTIVE and REVOKED
// for registering.
func RegisterStatus(status string, setAsActive bool) (string, error) {
	switch status {
	case "":
		return NewCertificateStatus(setAsActive), nil
	case CertPendingTransfer, CertPendingActivation, CertRegisterInactive:
		var v Validator
		v.Fail("status", status, "Member must be ACTIVE, INACTIVE or REVOKED when registering a certificate")
		return "", v.Err()
	}
	return status, nil
}

// ParseDeviceCertificate reads the device certificate PEM of member
// certificatePem, which must be valid at now.
func ParseDeviceCertificate(text string, now time.Time) (*x509.Certificate, error) {
	c, err := ParseCertificatePEM("certificatePem", text)
	if err != nil {
		return nil, err
	}
	if err := CheckValidAt("certificate", c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseCARegistration checks a RegisterCACertificate request: caPEM must
// be a CA certificate valid at now; in mode DEFAULT ("" means DEFAULT) the
// verification certificate is required, valid at now and signed with the
// CA's key (its common name is returned), in SNI_ONLY it must be absent
// ("").
func ParseCARegistration(caPEM, verificationPEM, mode string, now time.Time) (ca *x509.Certificate, verificationCN *string, err error) {
	switch mode = cmp.Or(mode, ModeDefault); {
	case mode == ModeDefault && verificationPEM == "":
		return nil, nil, Errorf(CodeInvalidRequest,
			"A verificationCertificate is required when certificateMode is DEFAULT (or not given).")
	case mode == ModeSNIOnly && verificationPEM != "":
		return nil, nil, Errorf(CodeInvalidRequest,
			"The verificationCertificate must be empty when certificateMode is SNI_ONLY.")
	}
	ca, err = ParseCertificatePEM("caCertificate", caPEM)
	if err != nil {
		return nil, nil, err
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, nil, Errorf(CodeCertificateValidation,
			"The caCertificate is not a CA certificate: its basic constraints do not say CA:TRUE.")
	}
	if err := CheckValidAt("CA certificate", ca, now); err != nil {
		return nil, nil, err
	}
	if mode != ModeDefault {
		return ca, nil, nil
	}
	ver, err := ParseCertificatePEM("verificationCertificate", verificationPEM)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckValidAt("verification certificate", ver, now); err != nil {
		return nil, nil, err
	}
	if !SignedByKeyOf(ver, ca) {
		return nil, nil, Errorf(CodeCertificateValidation,
			"The verification certificate was not signed with the CA certificate's private key.")
	}
	return ca, &ver.Subject.CommonName, nil
}

// IssuingCA picks, among candidates (the CA certificate the request named,
// or else the scope's CA certificates with device's issuer subject), the
// one that signed device; it must be ACTIVE.
func IssuingCA(device *x509.Certificate, candidates []CACertificate, named bool) (CACertificate, error) {
	var signers []CACertificate
	for _, ca := range candidates {
		parent, err := ParseCertificatePEM("CA certificate", ca.PEM)
		if err != nil {
			return ca, fmt.Errorf("stored CA certificate %s: %w", ca.ID, err)
		}
		if CheckIssuedBy(device, parent) {
			signers = append(signers, ca)
		}
	}
	switch {
	case len(signers) == 0 && named:
		return CACertificate{}, Errorf(CodeCertificateValidation,
			"The certificate was not signed by the CA certificate given in caCertificatePem.")
	case len(signers) == 0:
		return CACertificate{}, Errorf(CodeCertificateValidation,
			"The certificate was not signed by any CA certificate registered in this account.")
	case len(signers) > 1:
		return CACertificate{}, Errorf(CodeCertificateConflict,
			"%d registered CA certificates have the certificate's issuer subject and key; name the one to use in caCertificatePem.", len(signers))
	}
	return signers[0], CheckSigningCA(signers[0].ID, signers[0].Status)
}

// CheckSigningCA fails unless a CA certificate in status may have the
// certificates it signed registered.
func CheckSigningCA(id, status string) error {
	if status != CertActive {
		return Errorf(CodeCertificateValidation, "The CA certificate %s is %s; it must be ACTIVE to register certificates it signed.", id, status)
	}
	return nil
}

// PrincipalAttachment is a thing a principal is attached to, and how.
type PrincipalAttachment struct{ Thing, Type string }

// CheckAttachThingPrincipal applies AttachThingPrincipal's rules to
// attaching principal to thing as typ, given the things it is attached to:
// an EXCLUSIVE_THING attachment must
// be the principal's only one, and a principal attached exclusively cannot
// be attached to another thing. current is how it is attached to thing
// already ("" not at all).
func CheckAttachThingPrincipal(principal, thing, typ string, attached []PrincipalAttachment) (current string, err error) {
	var others []string
	exclusiveElsewhere := ""
	for _, a := range attached {
		if a.Thing == thing {
			current = a.Type
			continue
		}
		others = append(others, a.Thing)
		if a.Type == PrincipalExclusive {
			exclusiveElsewhere = a.Thing
		}
	}
	switch {
	case current == typ:
		return current, nil
	case exclusiveElsewhere != "":
		return current, Errorf(CodeInvalidRequest, "The principal %s is attached exclusively to thing %s.", principal, exclusiveElsewhere)
	case typ == PrincipalExclusive && len(others) > 0:
		return current, Errorf(CodeInvalidRequest,
			"The principal %s is attached to %d other things (%s); it cannot be attached exclusively.", principal, len(others), others[0])
	}
	return current, nil
}
