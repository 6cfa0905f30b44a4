package warden

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// IAM quotas (IAM and STS quotas page, defaults).
const (
	// MaxIAMRoles is the default "roles per account" quota.
	MaxIAMRoles = 1000
	// MaxIAMRoleTags is the most tags one role may have.
	MaxIAMRoleTags = 50
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

// IAMValidation returns v's violations as IAM's ValidationError (nil if
// none): "1 validation error detected: Value 'x' at 'roleName' failed to
// satisfy constraint: ...".
func IAMValidation(v *Validator) error {
	err := v.Err()
	if e, ok := err.(*Error); ok {
		e.Code = CodeIAMValidationError
	}
	return err
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

// ValidateIAMPolicyName checks policyNameType: 1-128 of [\w+=,.@-].
func ValidateIAMPolicyName(v *Validator, member, name string) {
	v.Length(member, name, 1, 128)
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

// ValidateIAMPathPrefix checks pathPrefixType: 1-512 characters matching
// \u002F[\u0021-\u007F]*.
func ValidateIAMPathPrefix(v *Validator, member, prefix string) {
	v.Length(member, prefix, 1, 512)
	if prefix == "" {
		return
	}
	ok := prefix[0] == '/'
	for _, r := range prefix {
		if r < 0x21 || r > 0x7f {
			ok = false
		}
	}
	if !ok {
		v.Fail(member, prefix, `Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*`)
	}
}

// ValidateIAMPolicyDocument checks policyDocumentType: 1-131072 characters
// of tab, LF, CR and \u0020-\u00FF.
func ValidateIAMPolicyDocument(v *Validator, member, doc string) {
	v.Length(member, doc, 1, MaxIAMPolicyDocumentChars)
	v.Chars(member, doc, func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xff
	}, `[\u0009\u000A\u000D\u0020-\u00FF]+`)
}

// ValidateRoleDescription checks roleDescriptionType: at most 1000 of
// [\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}].
func ValidateRoleDescription(v *Validator, member, d string) {
	v.Length(member, d, 0, 1000)
	v.Chars(member, d, func(r rune) bool {
		return unicode.In(r, unicode.L, unicode.M, unicode.Z, unicode.S, unicode.N, unicode.P)
	}, `[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*`)
}

// ValidateMaxSessionDuration checks roleMaxSessionDurationType: 3600-43200.
func ValidateMaxSessionDuration(v *Validator, member string, seconds int64) {
	v.Range(member, seconds, 3600, 43200)
}

// ValidateMarker checks markerType: 1-320 of \u0020-\u00FF.
func ValidateMarker(v *Validator, member, marker string) {
	v.Length(member, marker, 1, 320)
	v.Chars(member, marker, func(r rune) bool { return r >= 0x20 && r <= 0xff }, `[\u0020-\u00FF]+`)
}

// ValidateMaxItems checks maxItemsType: 1-1000.
func ValidateMaxItems(v *Validator, member string, n int64) { v.Range(member, n, 1, 1000) }

func isIAMTagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Z, r) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// ValidateIAMTags checks tagListType (at most 50) and each Tag's key (1-128)
// and value (0-256), both of [\p{L}\p{Z}\p{N}_.:/=+\-@]. Members are named
// as IAM names them: tags.N.member.key.
func ValidateIAMTags(v *Validator, member string, tags []Tag) {
	for i, t := range tags {
		m := member + "." + strconv.Itoa(i+1) + ".member."
		v.Length(m+"key", t.Key, 1, 128)
		v.Chars(m+"key", t.Key, isIAMTagChar, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
		v.Length(m+"value", t.Value, 0, 256)
		v.Chars(m+"value", t.Value, isIAMTagChar, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	}
	if len(tags) > MaxIAMRoleTags {
		v.Count(member, len(tags), 0, MaxIAMRoleTags)
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
