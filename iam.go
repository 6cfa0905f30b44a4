package warden

import (
	"context"
	"crypto/rand"
	"strings"
	"time"
)

// IAM quotas (IAM and STS quotas page, defaults).
const (
	// MaxIAMRoles is the default "roles per account" quota.
	MaxIAMRoles = 1000
	// DefaultMaxSessionDuration is a role's MaxSessionDuration when none is
	// given (one hour).
	DefaultMaxSessionDuration = 3600
)

// Role is an IAM role. IAM is global: a role belongs to an account, not to
// a region. Role names are unique within the account without regard to
// case ("MyRole" and "myrole" cannot both exist) and are found without
// regard to case; the name keeps the case it was created with.
type Role struct {
	Name string
	// Path is "/" or "/a/b/": it becomes part of the ARN.
	Path string
	// ID is "AROA" followed by 17 characters, as IAM's role ids.
	ID string
	// AssumeRolePolicyDocument is the trust policy exactly as given (JSON,
	// not URL-encoded).
	AssumeRolePolicyDocument string
	Description              string
	MaxSessionDuration       int
	Tags                     []Tag
	CreateDate               time.Time
}

// ARN is arn:aws:iam::<account>:role<path><name>.
func (r *Role) ARN(account string) string { return RoleARN(account, r.Path, r.Name) }

// RoleARN is the ARN of the role name with path in account.
func RoleARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":role" + path + name
}

// ParseRoleARN splits arn:aws:iam::<account>:role<path><name>. ok is false
// unless arn has that form with a 12-digit account, a valid path and a valid
// role name.
func ParseRoleARN(arn string) (account, path, name string, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:aws:iam::")
	if !found {
		return "", "", "", false
	}
	account, resource, found := strings.Cut(rest, ":")
	if !found || !isAccountID(account) {
		return "", "", "", false
	}
	resource, found = strings.CutPrefix(resource, "role/")
	if !found {
		return "", "", "", false
	}
	i := strings.LastIndexByte(resource, '/')
	path, name = "/"+resource[:i+1], resource[i+1:]
	var v Validator
	ValidateRoleName(&v, "roleName", name)
	ValidateIAMPath(&v, "path", path)
	if v.Err() != nil {
		return "", "", "", false
	}
	return account, path, name, true
}

// RoleNameKey is the key roles are unique by: the name without regard to case.
func RoleNameKey(name string) string { return strings.ToLower(name) }

// NewRoleID returns a role id: "AROA" and 17 random characters of A-Z and 2-7.
func NewRoleID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("AROA")
	for _, c := range b {
		out = append(out, alphabet[c%32])
	}
	return string(out)
}

// RolePolicy is an inline policy embedded in a role.
type RolePolicy struct {
	RoleName   string
	PolicyName string
	// Document is the policy exactly as given (JSON, not URL-encoded).
	Document string
}

// IAMStore persists IAM roles and their inline policies. Roles are scoped
// by account only. Every mutation is one transaction and is recorded in the
// change log against the role's ARN, with region "" (IAM is global).
type IAMStore interface {
	// CreateRole stores a new role with its tags. A role of the same name
	// (without regard to case) → EntityAlreadyExists; more than MaxIAMRoles
	// → LimitExceeded.
	CreateRole(ctx context.Context, account string, r Role) (Role, error)
	// Role returns one role with its tags, or NoSuchEntity.
	Role(ctx context.Context, account, name string) (Role, error)
	// DeleteRole removes a role; NoSuchEntity if missing, DeleteConflict
	// while it still has inline policies.
	DeleteRole(ctx context.Context, account, name string, now time.Time) error
	// Roles lists roles whose path starts with pathPrefix, ordered by name
	// without regard to case, without their tags.
	Roles(ctx context.Context, account, pathPrefix string, p Page) (roles []Role, next string, err error)
	// PutRolePolicy adds or replaces an inline policy (names compare without
	// regard to case; a replaced policy keeps its first name). The document
	// must pass ParseIAMPolicy. NoSuchEntity if the role is missing;
	// LimitExceeded if the role's inline policies would exceed
	// MaxRoleInlinePolicyChars.
	PutRolePolicy(ctx context.Context, account, roleName, policyName, document string, now time.Time) error
	// RolePolicy returns one inline policy, or NoSuchEntity (for the role or the policy).
	RolePolicy(ctx context.Context, account, roleName, policyName string) (RolePolicy, error)
	// DeleteRolePolicy removes an inline policy, or NoSuchEntity.
	DeleteRolePolicy(ctx context.Context, account, roleName, policyName string, now time.Time) error
	// RolePolicies lists a role's inline policy names in order without
	// regard to case; NoSuchEntity if the role is missing.
	RolePolicies(ctx context.Context, account, roleName string, p Page) (names []string, next string, err error)
	// RolePermits tells whether the role roleArn, assumed by account's
	// mitigation actions, is allowed every one of needs; missing is the
	// first it is not allowed (nil: all allowed). The rules are those of
	// sqlstore.RolePermitsTx, in a read transaction of its own.
	RolePermits(ctx context.Context, account, roleArn string, needs []Permission, strictRoles bool) (missing *Permission, err error)
}

// isIAMNameChar accepts [\w+=,.@-] (\w is ASCII in IAM's Java patterns).
func isIAMNameChar(r rune) bool {
	return IsNameChar(r) || r == '+' || r == '=' || r == ',' || r == '.' || r == '@'
}

// ValidateRoleName checks roleNameType: 1-64 of [\w+=,.@-].
func ValidateRoleName(v *Validator, member, name string) {
	v.Length(member, name, 1, 64)
	v.Chars(member, name, isIAMNameChar, `[\w+=,.@-]+`)
}

// ValidateIAMPath checks pathType: 1-512 characters matching
// (\u002F)|(\u002F[\u0021-\u007F]+\u002F).
func ValidateIAMPath(v *Validator, member, path string) {
	v.Length(member, path, 1, 512)
	if path == "" {
		return
	}
	ok := path == "/" || len(path) >= 3 && path[0] == '/' && path[len(path)-1] == '/'
	for _, r := range path {
		if r < 0x21 || r > 0x7f {
			ok = false
		}
	}
	if !ok {
		v.Fail(member, path, `Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007F]+\u002F)`)
	}
}

// CheckIAMTagKeys rejects what the model cannot express: keys that repeat
// without regard to case and keys in the reserved aws: prefix (InvalidInput).
func CheckIAMTagKeys(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if strings.HasPrefix(k, "aws:") {
			return Errorf(CodeIAMInvalidInput, "Tag keys beginning with 'aws:' are reserved for AWS use: %s", t.Key)
		}
		if seen[k] {
			return Errorf(CodeIAMInvalidInput, "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
	}
	return nil
}

// NoSuchRole is the NoSuchEntity error for a role.
func NoSuchRole(name string) *Error {
	return Errorf(CodeIAMNoSuchEntity, "The role with name %s cannot be found.", name)
}

// NoSuchRolePolicy is the NoSuchEntity error for an inline policy.
func NoSuchRolePolicy(name string) *Error {
	return Errorf(CodeIAMNoSuchEntity, "The role policy with name %s cannot be found.", name)
}
