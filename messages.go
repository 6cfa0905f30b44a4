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

// Quota answers: what a request that would pass one of the account's (or a
// resource's) limits is told. n is how many there are already.

// ErrScheduledAuditsLimit answers CreateScheduledAudit at MaxScheduledAudits.
func ErrScheduledAuditsLimit(n int) error {
	return Errorf(CodeLimitExceeded, "The account already has %d scheduled audits, the most it may have.", n)
}

// ErrOnDemandAuditsLimit answers StartOnDemandAuditTask at
// MaxInProgressOnDemandAudits running.
func ErrOnDemandAuditsLimit(n int) error {
	return Errorf(CodeLimitExceeded, "The account already has %d on-demand audits in progress; at most %d may run at once.",
		n, MaxInProgressOnDemandAudits)
}

// ErrCASubjectLimit answers RegisterCACertificate at
// MaxCACertificatesPerSubject with subject.
func ErrCASubjectLimit(subject string) error {
	return Errorf(CodeLimitExceeded,
		"An account can register at most %d CA certificates with the same subject (%s).", MaxCACertificatesPerSubject, subject)
}

// ErrIAMRolesLimit answers CreateRole at MaxIAMRoles (IAM's text).
func ErrIAMRolesLimit(int) error {
	return Errorf(CodeIAMLimitExceeded, "Cannot exceed quota for RolesPerAccount: %d", MaxIAMRoles)
}

// ErrRunningMitigationTasksLimit answers StartAuditMitigationActionsTask
// at MaxRunningMitigationTasks running.
func ErrRunningMitigationTasksLimit(n int) error {
	return Errorf(CodeLimitExceeded,
		"An account can run at most %d audit mitigation actions tasks at a time; %d are IN_PROGRESS.", MaxRunningMitigationTasks, n)
}

// ErrTargetPoliciesLimit answers AttachPolicy for a target that has
// MaxPoliciesPerTarget policies.
func ErrTargetPoliciesLimit(target string) error {
	return Errorf(CodeLimitExceeded, "The target %s already has the maximum of %d policies attached.", target, MaxPoliciesPerTarget)
}

// ErrSNSTopicsLimit answers CreateTopic at MaxSNSTopics (SNS's text).
func ErrSNSTopicsLimit(int) error { return Errorf(CodeSNSTopicLimitExceeded, "Topic limit exceeded") }

// ErrSNSSubscriptionsLimit answers Subscribe at
// MaxSNSSubscriptionsPerTopic (SNS's text).
func ErrSNSSubscriptionsLimit(int) error {
	return Errorf(CodeSNSSubscriptionLimitExceeded, "Subscription limit exceeded")
}

// ErrDynamicGroupsLimit answers CreateDynamicThingGroup at
// MaxDynamicThingGroups.
func ErrDynamicGroupsLimit(int) error {
	return Errorf(CodeLimitExceeded, "An account can have at most %d dynamic thing groups; delete one before creating another.", MaxDynamicThingGroups)
}

// ErrV2LoggingLevelsLimit answers SetV2LoggingLevel at MaxV2LoggingLevels.
func ErrV2LoggingLevelsLimit(int) error {
	return Errorf(CodeLimitExceeded, "An account may have at most %d logging levels.", MaxV2LoggingLevels)
}
