package api

import (
	"cmp"
	"strings"

	"github.com/warden-iot/warden"
)

// ---------------------------------------------------------------- request helpers

// certID is the certificate id member named member, in lower case: ids are
// hex, and match case-insensitively.
func (c *call) certID(member string) string { return strings.ToLower(c.input.String(member)) }

// checkCertPrincipal refuses a principal other than a device certificate
// ARN, which the model allows: Warden keeps no other kind of principal.
func checkCertPrincipal(p string) error {
	if _, _, ok := warden.ParseCertificateARN(p); ok {
		return nil
	}
	var v warden.Validator
	v.Fail("principal", p, "Member must be a certificate ARN (arn:aws:iot:region:account:cert/id)")
	return v.Err()
}

// checkTagCount holds tags to AWS's limit of 50 per resource
// (warden.ValidateTags), which the model does not state.
func checkTagCount(tags []warden.Tag) error {
	var v warden.Validator
	warden.ValidateTags(&v, "tags", tags)
	return v.Err()
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
	cert := warden.NewCertificateFrom(issued.Cert, warden.NewCertificateStatus(c.input.Bool("setAsActive")), warden.ModeDefault, now)
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

func (s *Server) RegisterCertificate(c *call) (any, error) {
	var in struct {
		CertificatePem   string `json:"certificatePem"`
		CaCertificatePem string `json:"caCertificatePem"` // "" when absent: the model's minimum length is 1
		SetAsActive      bool   `json:"setAsActive"`
		Status           string `json:"status"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	status, err := warden.RegisterStatus(in.Status, in.SetAsActive)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	device, err := warden.ParseDeviceCertificate(in.CertificatePem, now)
	if err != nil {
		return nil, err
	}
	caID := ""
	if in.CaCertificatePem != "" {
		ca, err := warden.ParseCertificatePEM("caCertificatePem", in.CaCertificatePem)
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
		CertificatePem string `json:"certificatePem"`
		Status         string `json:"status"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	status, err := warden.RegisterStatus(in.Status, false)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	device, err := warden.ParseDeviceCertificate(in.CertificatePem, now)
	if err != nil {
		return nil, err
	}
	cert := warden.NewCertificateFrom(device, status, warden.ModeSNIOnly, now)
	if err := s.store.CreateCertificate(c.ctx, c.scope, cert, "RegisterCertificateWithoutCA"); err != nil {
		return nil, err
	}
	return certRef{c.scope.CertificateARN(cert.ID), cert.ID}, nil
}

func (s *Server) DescribeCertificate(c *call) (any, error) {
	cert, err := s.store.Certificate(c.ctx, c.scope, c.certID("certificateId"))
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
	_, err := s.store.UpdateCertificateStatus(c.ctx, c.scope, c.certID("certificateId"), c.input.String("newStatus"), s.now().UTC())
	return nil, err
}

func (s *Server) DeleteCertificate(c *call) (any, error) {
	return nil, s.store.DeleteCertificate(c.ctx, c.scope, c.certID("certificateId"), c.input.Bool("forceDelete"), s.now().UTC())
}

func (s *Server) listCertificates(c *call, f warden.CertificateFilter) (any, error) {
	f.Ascending = c.input.Bool("ascendingOrder")
	return listPage(c, 25, func(p warden.Page) ([]warden.Certificate, string, error) {
		return s.store.Certificates(c.ctx, c.scope, f, p)
	}, func(cert *warden.Certificate) certSummary {
		return certSummary{c.scope.CertificateARN(cert.ID), cert.ID, cert.Status, cert.Mode, epoch(cert.CreationDate)}
	})
}

func (s *Server) ListCertificates(c *call) (any, error) {
	return s.listCertificates(c, warden.CertificateFilter{})
}

func (s *Server) ListCertificatesByCA(c *call) (any, error) {
	return s.listCertificates(c, warden.CertificateFilter{ByCA: true, CACertificateID: c.certID("caCertificateId")})
}

// ---------------------------------------------------------------- CA certificates

func (s *Server) RegisterCACertificate(c *call) (any, error) {
	var in struct {
		CaCertificate           string                     `json:"caCertificate"`
		VerificationCertificate string                     `json:"verificationCertificate"` // "" when absent: the model's minimum length is 1
		SetAsActive             bool                       `json:"setAsActive"`
		AllowAutoRegistration   bool                       `json:"allowAutoRegistration"`
		RegistrationConfig      *warden.RegistrationConfig `json:"registrationConfig"`
		Tags                    []warden.Tag               `json:"tags"`
		CertificateMode         string                     `json:"certificateMode"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := checkTagCount(in.Tags); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	caCert, verificationCN, err := warden.ParseCARegistration(in.CaCertificate, in.VerificationCertificate, in.CertificateMode, now)
	if err != nil {
		return nil, err
	}
	ca := warden.NewCACertificateFrom(caCert, warden.NewCertificateStatus(in.SetAsActive), cmp.Or(in.CertificateMode, warden.ModeDefault), now)
	if in.AllowAutoRegistration {
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
	ca, err := s.store.CACertificate(c.ctx, c.scope, c.certID("certificateId"))
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
		NewStatus                 string                     `json:"newStatus"`
		NewAutoRegistrationStatus string                     `json:"newAutoRegistrationStatus"`
		RegistrationConfig        *warden.RegistrationConfig `json:"registrationConfig"`
		RemoveAutoRegistration    bool                       `json:"removeAutoRegistration"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.CACertificateUpdate(in)
	if err := u.Check(); err != nil {
		return nil, err
	}
	return nil, s.store.UpdateCACertificate(c.ctx, c.scope, c.certID("certificateId"), u, s.now().UTC())
}

func (s *Server) DeleteCACertificate(c *call) (any, error) {
	return nil, s.store.DeleteCACertificate(c.ctx, c.scope, c.certID("certificateId"), s.now().UTC())
}

func (s *Server) ListCACertificates(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]warden.CACertificate, string, error) {
		return s.store.CACertificates(c.ctx, c.scope, c.input.String("templateName"), c.input.Bool("ascendingOrder"), p)
	}, func(ca *warden.CACertificate) caSummary {
		return caSummary{c.scope.CACertificateARN(ca.ID), ca.ID, ca.Status, epoch(ca.CreationDate)}
	})
}

// ---------------------------------------------------------------- thing principals

func (s *Server) AttachThingPrincipal(c *call) (any, error) {
	if err := checkCertPrincipal(c.input.String("principal")); err != nil {
		return nil, err
	}
	return nil, s.store.AttachThingPrincipal(c.ctx, c.scope, c.input.String("thingName"), c.input.String("principal"), c.input.String("thingPrincipalType"), s.now().UTC())
}

func (s *Server) DetachThingPrincipal(c *call) (any, error) {
	if err := checkCertPrincipal(c.input.String("principal")); err != nil {
		return nil, err
	}
	return nil, s.store.DetachThingPrincipal(c.ctx, c.scope, c.input.String("thingName"), c.input.String("principal"), s.now().UTC())
}

func (s *Server) ListThingPrincipals(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]warden.ThingPrincipal, string, error) {
		return s.store.ThingPrincipals(c.ctx, c.scope, c.input.String("thingName"), p)
	}, func(tp *warden.ThingPrincipal) string { return tp.Principal })
}

func (s *Server) ListPrincipalThings(c *call) (any, error) {
	if err := checkCertPrincipal(c.input.String("principal")); err != nil {
		return nil, err
	}
	return listPage(c, 25, func(p warden.Page) ([]string, string, error) {
		return s.store.PrincipalThings(c.ctx, c.scope, c.input.String("principal"), p)
	}, same)
}
