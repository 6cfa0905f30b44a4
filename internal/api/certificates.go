package api

import (
	"strings"

	"github.com/warden-iot/warden"
)

// ---------------------------------------------------------------- request helpers

// certQueryBool reads a boolean query member: "true" or "false".
func (c *call) certQueryBool(v *warden.Validator, name string) bool {
	raw, ok := c.r.URL.Query()[name]
	if !ok || len(raw) == 0 {
		return false
	}
	switch strings.ToLower(raw[0]) {
	case "true":
		return true
	case "false":
		return false
	}
	v.Fail(name, raw[0], "Member must be a boolean (true or false)")
	return false
}

// certID reads and validates a CertificateId path label; ids are matched
// case-insensitively, as the hex they are.
func (c *call) certID(v *warden.Validator, label, member string) string {
	id := c.r.PathValue(label)
	warden.ValidateCertificateID(v, member, id)
	return strings.ToLower(id)
}

func validateThingName(v *warden.Validator, member, name string) {
	v.Length(member, name, 1, 128)
	v.Chars(member, name, warden.IsThingNameChar, "[a-zA-Z0-9:_-]+")
}

// certPrincipal reads the x-amzn-principal header, which must be a device
// certificate ARN: Warden keeps no other kind of principal.
func (c *call) certPrincipal(v *warden.Validator) string {
	p := c.r.Header.Get("x-amzn-principal")
	v.Required("principal", p != "")
	if p == "" {
		return ""
	}
	if _, _, ok := warden.ParseCertificateARN(p); !ok {
		v.Fail("principal", p, "Member must be a certificate ARN (arn:aws:iot:region:account:cert/id)")
	}
	return p
}

// ---------------------------------------------------------------- wire shapes

type certValidity struct {
	NotBefore epoch `json:"notBefore"`
	NotAfter  epoch `json:"notAfter"`
}

type certRef struct {
	CertificateArn string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
}

type certSummary struct {
	CertificateArn  string `json:"certificateArn"`
	CertificateID   string `json:"certificateId"`
	Status          string `json:"status"`
	CertificateMode string `json:"certificateMode,omitempty"`
	CreationDate    epoch  `json:"creationDate"`
}

type caSummary struct {
	CertificateArn string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
	Status         string `json:"status"`
	CreationDate   epoch  `json:"creationDate"`
}

type certList struct {
	Certificates []certSummary `json:"certificates"`
	NextMarker   string        `json:"nextMarker,omitempty"`
}

// ---------------------------------------------------------------- registration code

func (s *Server) GetRegistrationCode(c *call) (any, error) {
	code, err := s.store.RegistrationCode(c.ctx, c.scope, warden.NewRegistrationCode)
	if err != nil {
		return nil, err
	}
	return struct {
		RegistrationCode string `json:"registrationCode"`
	}{code}, nil
}

// ---------------------------------------------------------------- device certificates

func (s *Server) CreateKeysAndCertificate(c *call) (any, error) {
	var v warden.Validator
	active := c.certQueryBool(&v, "setAsActive")
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	caPEM, keyPEM, err := s.store.IssuingCA(c.ctx, c.scope, func() (string, string, error) {
		return warden.NewIssuingCA(c.scope, now)
	})
	if err != nil {
		return nil, err
	}
	issued, err := warden.IssueCertificate(caPEM, keyPEM, now)
	if err != nil {
		return nil, err
	}
	status := warden.CertInactive
	if active {
		status = warden.CertActive
	}
	cert := warden.NewCertificateFrom(issued.Cert, status, warden.ModeDefault, now)
	if err := s.store.CreateCertificate(c.ctx, c.scope, cert, "CreateKeysAndCertificate"); err != nil {
		return nil, err
	}
	type keyPair struct {
		PublicKey  string `json:"PublicKey"`
		PrivateKey string `json:"PrivateKey"`
	}
	return struct {
		CertificateArn string  `json:"certificateArn"`
		CertificateID  string  `json:"certificateId"`
		CertificatePem string  `json:"certificatePem"`
		KeyPair        keyPair `json:"keyPair"`
	}{c.scope.CertificateARN(cert.ID), cert.ID, cert.PEM, keyPair{issued.PublicKey, issued.PrivateKey}}, nil
}

// registerStatus is the status a registered certificate starts in: the
// status member if given, else ACTIVE for the deprecated setAsActive=true,
// else INACTIVE.
func registerStatus(v *warden.Validator, status *string, setAsActive bool) string {
	if status != nil {
		v.Enum("status", *status, warden.CertificateStatuses...)
		switch *status {
		case warden.CertPendingTransfer, warden.CertPendingActivation, warden.CertRegisterInactive:
			v.Fail("status", *status, "Member must be ACTIVE, INACTIVE or REVOKED when registering a certificate")
		}
		return *status
	}
	if setAsActive {
		return warden.CertActive
	}
	return warden.CertInactive
}

func (s *Server) RegisterCertificate(c *call) (any, error) {
	var in struct {
		CertificatePem   *string `json:"certificatePem"`
		CaCertificatePem *string `json:"caCertificatePem"`
		Status           *string `json:"status"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	setAsActive := c.certQueryBool(&v, "setAsActive")
	v.Required("certificatePem", in.CertificatePem != nil)
	if in.CertificatePem != nil {
		warden.ValidateCertificatePEM(&v, "certificatePem", *in.CertificatePem)
	}
	if in.CaCertificatePem != nil {
		warden.ValidateCertificatePEM(&v, "caCertificatePem", *in.CaCertificatePem)
	}
	status := registerStatus(&v, in.Status, setAsActive)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	device, err := warden.ParseCertificatePEM("certificatePem", *in.CertificatePem)
	if err != nil {
		return nil, err
	}
	if err := warden.CheckValidAt("certificate", device, now); err != nil {
		return nil, err
	}
	caID := ""
	if in.CaCertificatePem != nil {
		ca, err := warden.ParseCertificatePEM("caCertificatePem", *in.CaCertificatePem)
		if err != nil {
			return nil, err
		}
		caID = warden.CertificateID(ca.Raw)
	}
	cert, err := s.store.RegisterCertificate(c.ctx, c.scope, warden.NewCertificateFrom(device, status, "", now), caID)
	if err != nil {
		return nil, err
	}
	return certRef{c.scope.CertificateARN(cert.ID), cert.ID}, nil
}

func (s *Server) RegisterCertificateWithoutCA(c *call) (any, error) {
	var in struct {
		CertificatePem *string `json:"certificatePem"`
		Status         *string `json:"status"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	v.Required("certificatePem", in.CertificatePem != nil)
	if in.CertificatePem != nil {
		warden.ValidateCertificatePEM(&v, "certificatePem", *in.CertificatePem)
	}
	status := registerStatus(&v, in.Status, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	device, err := warden.ParseCertificatePEM("certificatePem", *in.CertificatePem)
	if err != nil {
		return nil, err
	}
	if err := warden.CheckValidAt("certificate", device, now); err != nil {
		return nil, err
	}
	cert := warden.NewCertificateFrom(device, status, warden.ModeSNIOnly, now)
	if err := s.store.CreateCertificate(c.ctx, c.scope, cert, "RegisterCertificateWithoutCA"); err != nil {
		return nil, err
	}
	return certRef{c.scope.CertificateARN(cert.ID), cert.ID}, nil
}

func (s *Server) DescribeCertificate(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "certificateId", "certificateId")
	if err := v.Err(); err != nil {
		return nil, err
	}
	cert, err := s.store.Certificate(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	type description struct {
		CertificateArn   string       `json:"certificateArn"`
		CertificateID    string       `json:"certificateId"`
		CACertificateID  string       `json:"caCertificateId,omitempty"`
		Status           string       `json:"status"`
		CertificatePem   string       `json:"certificatePem"`
		OwnedBy          string       `json:"ownedBy"`
		CreationDate     epoch        `json:"creationDate"`
		LastModifiedDate epoch        `json:"lastModifiedDate"`
		CustomerVersion  int          `json:"customerVersion"`
		TransferData     struct{}     `json:"transferData"`
		GenerationID     string       `json:"generationId"`
		Validity         certValidity `json:"validity"`
		CertificateMode  string       `json:"certificateMode"`
	}
	return struct {
		CertificateDescription description `json:"certificateDescription"`
	}{description{
		CertificateArn: c.scope.CertificateARN(cert.ID), CertificateID: cert.ID, CACertificateID: cert.CACertificateID,
		Status: cert.Status, CertificatePem: cert.PEM, OwnedBy: c.scope.Account,
		CreationDate: epoch(cert.CreationDate), LastModifiedDate: epoch(cert.LastModifiedDate),
		CustomerVersion: cert.CustomerVersion, GenerationID: cert.GenerationID,
		Validity:        certValidity{epoch(cert.NotBefore), epoch(cert.NotAfter)},
		CertificateMode: cert.Mode,
	}}, nil
}

func (s *Server) UpdateCertificate(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "certificateId", "certificateId")
	status := c.r.URL.Query().Get("newStatus")
	v.Required("newStatus", status != "")
	if status != "" {
		v.Enum("newStatus", status, warden.CertificateStatuses...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	_, err := s.store.UpdateCertificateStatus(c.ctx, c.scope, id, status, s.now().UTC())
	return nil, err
}

func (s *Server) DeleteCertificate(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "certificateId", "certificateId")
	force := c.certQueryBool(&v, "forceDelete")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteCertificate(c.ctx, c.scope, id, force, s.now().UTC())
}

func (s *Server) listCertificates(c *call, op string, f warden.CertificateFilter) (any, error) {
	var v warden.Validator
	f.Ascending = c.certQueryBool(&v, "isAscendingOrder")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if f.Ascending {
		op += ":asc"
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	certs, next, err := s.store.Certificates(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
	out := certList{Certificates: make([]certSummary, 0, len(certs)), NextMarker: c.nextPage(next)}
	for _, cert := range certs {
		out.Certificates = append(out.Certificates, certSummary{
			c.scope.CertificateARN(cert.ID), cert.ID, cert.Status, cert.Mode, epoch(cert.CreationDate)})
	}
	return out, nil
}

func (s *Server) ListCertificates(c *call) (any, error) {
	return s.listCertificates(c, "ListCertificates", warden.CertificateFilter{})
}

func (s *Server) ListCertificatesByCA(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "caCertificateId", "caCertificateId")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.listCertificates(c, "ListCertificatesByCA:"+id, warden.CertificateFilter{ByCA: true, CACertificateID: id})
}

// ---------------------------------------------------------------- CA certificates

func (s *Server) RegisterCACertificate(c *call) (any, error) {
	var in struct {
		CaCertificate           *string                    `json:"caCertificate"`
		VerificationCertificate *string                    `json:"verificationCertificate"`
		RegistrationConfig      *warden.RegistrationConfig `json:"registrationConfig"`
		Tags                    []warden.Tag               `json:"tags"`
		CertificateMode         *string                    `json:"certificateMode"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	setAsActive := c.certQueryBool(&v, "setAsActive")
	autoRegistration := c.certQueryBool(&v, "allowAutoRegistration")
	v.Required("caCertificate", in.CaCertificate != nil)
	if in.CaCertificate != nil {
		warden.ValidateCertificatePEM(&v, "caCertificate", *in.CaCertificate)
	}
	verification := ""
	if in.VerificationCertificate != nil {
		verification = *in.VerificationCertificate
		warden.ValidateCertificatePEM(&v, "verificationCertificate", verification)
	}
	in.RegistrationConfig.Validate(&v, "registrationConfig")
	warden.ValidateTags(&v, "tags", in.Tags)
	mode := warden.ModeDefault
	if in.CertificateMode != nil {
		mode = *in.CertificateMode
		v.Enum("certificateMode", mode, warden.ModeDefault, warden.ModeSNIOnly)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case mode == warden.ModeDefault && verification == "":
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"A verificationCertificate is required when certificateMode is DEFAULT (or not given).")
	case mode == warden.ModeSNIOnly && verification != "":
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"The verificationCertificate must be empty when certificateMode is SNI_ONLY.")
	}
	now := s.now().UTC()
	caCert, err := warden.ParseCertificatePEM("caCertificate", *in.CaCertificate)
	if err != nil {
		return nil, err
	}
	if !caCert.BasicConstraintsValid || !caCert.IsCA {
		return nil, warden.Errorf(warden.CodeCertificateValidation,
			"The caCertificate is not a CA certificate: its basic constraints do not say CA:TRUE.")
	}
	if err := warden.CheckValidAt("CA certificate", caCert, now); err != nil {
		return nil, err
	}
	var verificationCN *string
	if mode == warden.ModeDefault {
		ver, err := warden.ParseCertificatePEM("verificationCertificate", verification)
		if err != nil {
			return nil, err
		}
		if err := warden.CheckValidAt("verification certificate", ver, now); err != nil {
			return nil, err
		}
		if !warden.SignedByKeyOf(ver, caCert) {
			return nil, warden.Errorf(warden.CodeCertificateValidation,
				"The verification certificate was not signed with the CA certificate's private key.")
		}
		verificationCN = &ver.Subject.CommonName
	}
	status := warden.CertInactive
	if setAsActive {
		status = warden.CertActive
	}
	ca := warden.NewCACertificateFrom(caCert, status, mode, now)
	if autoRegistration {
		ca.AutoRegistrationStatus = warden.AutoRegistrationEnable
	}
	if in.RegistrationConfig != nil {
		ca.RegistrationConfig = *in.RegistrationConfig
	}
	if err := s.store.RegisterCACertificate(c.ctx, c.scope, ca, verificationCN, in.Tags); err != nil {
		return nil, err
	}
	return certRef{c.scope.CACertificateARN(ca.ID), ca.ID}, nil
}

func (s *Server) DescribeCACertificate(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "caCertificateId", "certificateId")
	if err := v.Err(); err != nil {
		return nil, err
	}
	ca, err := s.store.CACertificate(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	type description struct {
		CertificateArn         string       `json:"certificateArn"`
		CertificateID          string       `json:"certificateId"`
		Status                 string       `json:"status"`
		CertificatePem         string       `json:"certificatePem"`
		OwnedBy                string       `json:"ownedBy"`
		CreationDate           epoch        `json:"creationDate"`
		AutoRegistrationStatus string       `json:"autoRegistrationStatus"`
		LastModifiedDate       epoch        `json:"lastModifiedDate"`
		CustomerVersion        int          `json:"customerVersion"`
		GenerationID           string       `json:"generationId"`
		Validity               certValidity `json:"validity"`
		CertificateMode        string       `json:"certificateMode"`
	}
	out := struct {
		CertificateDescription description                `json:"certificateDescription"`
		RegistrationConfig     *warden.RegistrationConfig `json:"registrationConfig,omitempty"`
	}{CertificateDescription: description{
		CertificateArn: c.scope.CACertificateARN(ca.ID), CertificateID: ca.ID, Status: ca.Status, CertificatePem: ca.PEM,
		OwnedBy: c.scope.Account, CreationDate: epoch(ca.CreationDate), AutoRegistrationStatus: ca.AutoRegistrationStatus,
		LastModifiedDate: epoch(ca.LastModifiedDate), CustomerVersion: ca.CustomerVersion, GenerationID: ca.GenerationID,
		Validity: certValidity{epoch(ca.NotBefore), epoch(ca.NotAfter)}, CertificateMode: ca.Mode,
	}}
	if !ca.RegistrationConfig.IsZero() {
		out.RegistrationConfig = &ca.RegistrationConfig
	}
	return out, nil
}

func (s *Server) UpdateCACertificate(c *call) (any, error) {
	var in struct {
		RegistrationConfig     *warden.RegistrationConfig `json:"registrationConfig"`
		RemoveAutoRegistration *bool                      `json:"removeAutoRegistration"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	id := c.certID(&v, "caCertificateId", "certificateId")
	q := c.r.URL.Query()
	u := warden.CACertificateUpdate{
		NewStatus:                 q.Get("newStatus"),
		NewAutoRegistrationStatus: q.Get("newAutoRegistrationStatus"),
		RegistrationConfig:        in.RegistrationConfig,
		RemoveAutoRegistration:    in.RemoveAutoRegistration != nil && *in.RemoveAutoRegistration,
	}
	if u.NewStatus != "" {
		v.Enum("newStatus", u.NewStatus, warden.CACertificateStatuses...)
	}
	if u.NewAutoRegistrationStatus != "" {
		v.Enum("newAutoRegistrationStatus", u.NewAutoRegistrationStatus, warden.AutoRegistrationEnable, warden.AutoRegistrationDisable)
	}
	in.RegistrationConfig.Validate(&v, "registrationConfig")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if u.RemoveAutoRegistration && (u.RegistrationConfig != nil || u.NewAutoRegistrationStatus == warden.AutoRegistrationEnable) {
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"removeAutoRegistration cannot be combined with registrationConfig or newAutoRegistrationStatus=ENABLE.")
	}
	return nil, s.store.UpdateCACertificate(c.ctx, c.scope, id, u, s.now().UTC())
}

func (s *Server) DeleteCACertificate(c *call) (any, error) {
	var v warden.Validator
	id := c.certID(&v, "caCertificateId", "certificateId")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteCACertificate(c.ctx, c.scope, id, s.now().UTC())
}

func (s *Server) ListCACertificates(c *call) (any, error) {
	var v warden.Validator
	ascending := c.certQueryBool(&v, "isAscendingOrder")
	q := c.r.URL.Query()
	template := q.Get("templateName")
	if _, ok := q["templateName"]; ok {
		v.Length("templateName", template, 1, 36)
		v.Chars("templateName", template, warden.IsNameChar, "^[0-9A-Za-z_-]+$")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	op := "ListCACertificates:" + template
	if ascending {
		op += ":asc"
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	cas, next, err := s.store.CACertificates(c.ctx, c.scope, template, ascending, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Certificates []caSummary `json:"certificates"`
		NextMarker   string      `json:"nextMarker,omitempty"`
	}{Certificates: make([]caSummary, 0, len(cas)), NextMarker: c.nextPage(next)}
	for _, ca := range cas {
		out.Certificates = append(out.Certificates, caSummary{
			c.scope.CACertificateARN(ca.ID), ca.ID, ca.Status, epoch(ca.CreationDate)})
	}
	return out, nil
}

// ---------------------------------------------------------------- thing principals

func (s *Server) AttachThingPrincipal(c *call) (any, error) {
	var v warden.Validator
	thing := c.r.PathValue("thingName")
	validateThingName(&v, "thingName", thing)
	principal := c.certPrincipal(&v)
	typ := c.r.URL.Query().Get("thingPrincipalType")
	if _, ok := c.r.URL.Query()["thingPrincipalType"]; ok {
		v.Enum("thingPrincipalType", typ, warden.PrincipalExclusive, warden.PrincipalNonExclusive)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.AttachThingPrincipal(c.ctx, c.scope, thing, principal, typ, s.now().UTC())
}

func (s *Server) DetachThingPrincipal(c *call) (any, error) {
	var v warden.Validator
	thing := c.r.PathValue("thingName")
	validateThingName(&v, "thingName", thing)
	principal := c.certPrincipal(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.DetachThingPrincipal(c.ctx, c.scope, thing, principal, s.now().UTC())
}

func (s *Server) ListThingPrincipals(c *call) (any, error) {
	const op = "ListThingPrincipals"
	var v warden.Validator
	thing := c.r.PathValue("thingName")
	validateThingName(&v, "thingName", thing)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	principals, next, err := s.store.ThingPrincipals(c.ctx, c.scope, thing, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Principals []string `json:"principals"`
		NextToken  string   `json:"nextToken,omitempty"`
	}{Principals: make([]string, 0, len(principals)), NextToken: c.nextPage(next)}
	for _, tp := range principals {
		out.Principals = append(out.Principals, tp.Principal)
	}
	return out, nil
}

func (s *Server) ListPrincipalThings(c *call) (any, error) {
	const op = "ListPrincipalThings"
	var v warden.Validator
	principal := c.certPrincipal(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	things, next, err := s.store.PrincipalThings(c.ctx, c.scope, principal, p)
	if err != nil {
		return nil, err
	}
	if things == nil {
		things = []string{}
	}
	return struct {
		Things    []string `json:"things"`
		NextToken string   `json:"nextToken,omitempty"`
	}{things, c.nextPage(next)}, nil
}
