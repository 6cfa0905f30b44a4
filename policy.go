package warden

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// Policy quotas of AWS IoT.
const (
	// MaxPolicyVersions is how many versions one policy may hold
	// (CreatePolicyVersion: "A managed policy can have up to five versions").
	MaxPolicyVersions = 5
	// MaxPoliciesPerTarget is how many policies one certificate or thing
	// group may have attached (AWS IoT Core quota, not adjustable).
	MaxPoliciesPerTarget = 10
)

// LogLevels is the LogLevel enum in the model's order.
var LogLevels = []string{"DEBUG", "INFO", "ERROR", "WARN", "DISABLED"}

// Policy is an IoT policy as GetPolicy shows it: the document is the
// default version's.
type Policy struct {
	Name             string
	DefaultVersionID string
	Document         string
	// GenerationID changes whenever the policy changes (a version is created
	// or deleted, or the default switches).
	GenerationID     string
	CreationDate     time.Time
	LastModifiedDate time.Time
}

// ARN is the policy's ARN in scope s.
func (p *Policy) ARN(s Scope) string { return PolicyARN(s, p.Name) }

// PolicyARN is the ARN of the policy named name in scope s.
func PolicyARN(s Scope, name string) string { return s.IoTARN("policy/" + name) }

// PolicyVersion is one version of a policy.
type PolicyVersion struct {
	PolicyName   string
	VersionID    string
	Document     string
	IsDefault    bool
	GenerationID string // the policy's generation id
	CreationDate time.Time
	// LastModifiedDate moves when the version becomes or stops being the default.
	LastModifiedDate time.Time
}

// V2LoggingOptions are the account's SetV2LoggingOptions settings. Empty
// strings are members the caller did not set.
type V2LoggingOptions struct {
	RoleArn         string
	DefaultLogLevel string
	DisableAllLogs  bool
}

// LoggingOptions are the account's V1 (SetLoggingOptions) settings.
type LoggingOptions struct {
	RoleArn  string
	LogLevel string
}

// V2LoggingARN is the change-log resource of the V2 logging options. Logging
// settings have no AWS ARN; every SetV2LoggingOptions is recorded against
// arn:aws:iot:<region>:<account>:logging/v2.
func V2LoggingARN(s Scope) string { return s.IoTARN("logging/v2") }

// V1LoggingARN is the change-log resource of the V1 logging options
// (arn:aws:iot:<region>:<account>:logging/v1).
func V1LoggingARN(s Scope) string { return s.IoTARN("logging/v1") }

// PolicyStore persists the policy part of the registry: policies, their
// versions, their attachments to targets, and the logging options.
type PolicyStore interface {
	// CreatePolicy stores a policy whose version "1" holds document and is
	// the default. The document must pass ParsePolicyDocument
	// (MalformedPolicy); an existing name is ResourceAlreadyExists.
	CreatePolicy(ctx context.Context, s Scope, name, document string, tags []Tag, now time.Time) (Policy, error)
	// Policy returns a policy with its default version's document, or ResourceNotFound.
	Policy(ctx context.Context, s Scope, name string) (Policy, error)
	// DeletePolicy removes a policy, its default version and its tags. A
	// policy that is attached to a target or still has non-default versions
	// is DeleteConflict.
	DeletePolicy(ctx context.Context, s Scope, name string, now time.Time) error
	// Policies lists policies by creation, newest first unless ascending;
	// Document is left empty.
	Policies(ctx context.Context, s Scope, ascending bool, p Page) (policies []Policy, next string, err error)

	// CreatePolicyVersion adds a version (ids count up and are never
	// reused), making it the default if setAsDefault. A policy that already
	// has MaxPolicyVersions versions is VersionsLimitExceeded.
	CreatePolicyVersion(ctx context.Context, s Scope, name, document string, setAsDefault bool, now time.Time) (PolicyVersion, error)
	// PolicyVersion returns one version, or ResourceNotFound.
	PolicyVersion(ctx context.Context, s Scope, name, versionID string) (PolicyVersion, error)
	// PolicyVersions lists a policy's versions, newest first.
	PolicyVersions(ctx context.Context, s Scope, name string) ([]PolicyVersion, error)
	// SetDefaultPolicyVersion makes an existing version the default.
	SetDefaultPolicyVersion(ctx context.Context, s Scope, name, versionID string, now time.Time) error
	// DeletePolicyVersion removes a non-default version; the default one is
	// DeleteConflict.
	DeletePolicyVersion(ctx context.Context, s Scope, name, versionID string, now time.Time) error

	// AttachPolicy attaches a policy to a target: a certificate ARN or a
	// static thing group ARN of scope s, which must exist. Attaching twice
	// is no error; more than MaxPoliciesPerTarget is LimitExceeded.
	AttachPolicy(ctx context.Context, s Scope, name, target string, now time.Time) error
	// DetachPolicy removes an attachment; a missing one is no error.
	DetachPolicy(ctx context.Context, s Scope, name, target string, now time.Time) error
	// PolicyTargets lists the targets a policy is attached to, by target.
	PolicyTargets(ctx context.Context, s Scope, name string, p Page) (targets []string, next string, err error)
	// AttachedPolicies lists the policies attached to target, by name; with
	// recursive, a thing group's ancestors' policies too.
	AttachedPolicies(ctx context.Context, s Scope, target string, recursive bool, p Page) (policies []string, next string, err error)

	// SetV2LoggingOptions replaces the account's V2 logging options.
	SetV2LoggingOptions(ctx context.Context, s Scope, o V2LoggingOptions, now time.Time) error
	// V2LoggingOptions returns them, or NotConfigured before the first set.
	V2LoggingOptions(ctx context.Context, s Scope) (V2LoggingOptions, error)
	// SetLoggingOptions replaces the account's V1 logging options.
	SetLoggingOptions(ctx context.Context, s Scope, o LoggingOptions, now time.Time) error
	// LoggingOptions returns them; ok is false before the first set.
	LoggingOptions(ctx context.Context, s Scope) (o LoggingOptions, ok bool, err error)
}

// ValidatePolicyName checks a PolicyName: 1-128 characters of [\w+=,.@-].
func ValidatePolicyName(v *Validator, member, name string) {
	v.Length(member, name, 1, 128)
	v.Chars(member, name, IsPolicyNameChar, `[\w+=,.@-]+`)
}

// IsPolicyNameChar accepts [\w+=,.@-] (\w being [a-zA-Z0-9_]).
func IsPolicyNameChar(r rune) bool {
	return IsNameChar(r) || r == '+' || r == '=' || r == ',' || r == '.' || r == '@'
}

// ValidatePolicyVersionID checks a PolicyVersionId: [0-9]+.
func ValidatePolicyVersionID(v *Validator, member, id string) {
	if id == "" {
		v.Fail(member, id, "Member must satisfy regular expression pattern: [0-9]+")
		return
	}
	v.Chars(member, id, func(r rune) bool { return r >= '0' && r <= '9' }, "[0-9]+")
}

// ParsePolicyVersionID is the number of a version id as stored; ok is false
// for ids no version can have (not canonical decimal, zero, overflow), so
// that "01" names no version, as it would in AWS.
func ParsePolicyVersionID(id string) (n int64, ok bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != id {
		return 0, false
	}
	return n, true
}

// MaxPolicyDocumentLength is the model's length limit of a PolicyDocument
// member; the document itself may hold at most MaxPolicyChars characters
// that are not whitespace.
const MaxPolicyDocumentLength = 404600

// Policy target kinds: the ARN resource types AttachPolicy accepts.
const (
	TargetCertificate = "cert"
	TargetThingGroup  = "thinggroup"
)

// ParsePolicyTarget splits a policy target ARN into its scope, kind
// (TargetCertificate or TargetThingGroup) and id. Anything else, including
// Cognito identities, which Warden does not keep, is InvalidRequest.
func ParsePolicyTarget(target string) (scope Scope, kind, id string, err error) {
	scope, kind, id, ok := ParseIoTARN(target)
	if !ok || scope.Account == "" || scope.Region == "" {
		return Scope{}, "", "", Errorf(CodeInvalidRequest,
			"The target %s is not a certificate ARN (arn:aws:iot:region:account:cert/id) or a thing group ARN (arn:aws:iot:region:account:thinggroup/name).", shorten(target))
	}
	switch kind {
	case TargetCertificate:
		var v Validator
		ValidateCertificateID(&v, "target", id)
		if v.Err() != nil {
			return Scope{}, "", "", Errorf(CodeInvalidRequest, "The target %s does not end in a certificate id of 64 hexadecimal characters.", shorten(target))
		}
	case TargetThingGroup:
		var v Validator
		v.Length("target", id, 1, 128)
		v.Chars("target", id, IsThingNameChar, "[a-zA-Z0-9:_-]+")
		if err := v.Err(); err != nil {
			return Scope{}, "", "", Errorf(CodeInvalidRequest, "The target %s does not end in a valid thing group name.", shorten(target))
		}
	default:
		return Scope{}, "", "", Errorf(CodeInvalidRequest,
			"Policies can be attached to certificates (cert/...) and thing groups (thinggroup/...), not to %s resources.", kind)
	}
	return scope, kind, id, nil
}

// NewPolicyGenerationID is a fresh generationId: 64 hex characters, as AWS shows.
func NewPolicyGenerationID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CheckPolicyDeletable fails while policy name is attached to targets or
// has versions other than its default.
func CheckPolicyDeletable(name string, targets, otherVersions int) error {
	if targets > 0 {
		return Errorf(CodeDeleteConflict, "Policy %s is attached to %d target(s); detach it with DetachPolicy before deleting it.", name, targets)
	}
	if otherVersions > 0 {
		return Errorf(CodeDeleteConflict,
			"Policy %s has %d non-default version(s); delete them with DeletePolicyVersion before deleting the policy.", name, otherVersions)
	}
	return nil
}

// CheckPolicyVersionDeletable fails for a policy's default version.
func CheckPolicyVersionDeletable(name, versionID string, isDefault bool) error {
	if isDefault {
		return Errorf(CodeDeleteConflict,
			"Version %s is the default version of policy %s and cannot be deleted; make another version the default first, or delete the policy.",
			versionID, name)
	}
	return nil
}
