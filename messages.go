package warden

// AWS IoT's own texts for errors a client may match on or show, kept here so
// that each is written once. Where AWS's text is known (from its responses as
// SDK users quote them), it is used verbatim.

// ErrThingNotFound is the ResourceNotFoundException for a thing, however it
// was named (by name or by ARN).
func ErrThingNotFound(name string) *Error { return NotFound("Thing", name) }

// ErrThingStillAttached is DeleteThing's answer while principals are attached
// to the thing (AWS's text).
func ErrThingStillAttached(name string) *Error {
	return Errorf(CodeInvalidRequest, "Cannot delete. Thing %s is still attached to one or more principals", name)
}

// ErrPolicyExists is CreatePolicy's answer for a name in use (AWS's text);
// it carries the existing policy's name and ARN, as AWS's does.
func ErrPolicyExists(name, arn string) *Error {
	e := Errorf(CodeResourceAlreadyExists, "Policy cannot be created - name already exists (name=%s)", name)
	e.ResourceID, e.ResourceArn = name, arn
	return e
}

// ErrPolicyVersionsLimit is CreatePolicyVersion's answer for a policy that
// has MaxPolicyVersions versions (AWS's text).
func ErrPolicyVersionsLimit(name string) *Error {
	return Errorf(CodeVersionsLimitExceeded, "The policy %s already has the maximum number of versions (%d)", name, MaxPolicyVersions)
}

// ErrCertificateActive is DeleteCertificate's answer for an ACTIVE
// certificate (AWS's text).
func ErrCertificateActive() *Error {
	return Errorf(CodeCertificateState, "Certificate must be deactivated (not ACTIVE) before deletion.")
}

// ErrCertificateExists is the answer to registering a device certificate
// the scope holds already.
func ErrCertificateExists(s Scope, id string) *Error {
	e := Errorf(CodeResourceAlreadyExists, "The certificate %s is already registered.", id)
	e.ResourceID, e.ResourceArn = id, s.CertificateARN(id)
	return e
}

// ErrCertificateNotFound is the ResourceNotFoundException for a device
// certificate.
func ErrCertificateNotFound(id string) *Error {
	return Errorf(CodeResourceNotFound, "The certificate %s does not exist.", id)
}

// ErrCACertificateNotFound is the ResourceNotFoundException for a CA
// certificate.
func ErrCACertificateNotFound(id string) *Error {
	return Errorf(CodeResourceNotFound, "The CA certificate %s does not exist.", id)
}
