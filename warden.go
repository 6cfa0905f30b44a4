// Package warden is the vocabulary of the Warden server: the AWS IoT Device
// Defender resources it keeps, their validation rules, the errors it answers
// with, and the Store that persists them. It imports only the standard library.
package warden

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
)

// DefaultAccount is created on first start so that AWS's documented examples,
// which all use this account, work as written.
const DefaultAccount = "123456789012"

// Scope is the account and region every resource belongs to. A request sees
// only the resources of the scope its credentials and signature name.
type Scope struct {
	Account string
	Region  string
}

// IoTARN returns the ARN of an IoT resource, e.g. "mitigationaction/name".
func (s Scope) IoTARN(resource string) string {
	return "arn:aws:iot:" + s.Region + ":" + s.Account + ":" + resource
}

// ParseIoTARN splits an IoT ARN into its scope, resource type and id. ok is
// false when arn is not of the form arn:aws:iot:region:account:type/id.
func ParseIoTARN(arn string) (scope Scope, resourceType, id string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "iot" {
		return Scope{}, "", "", false
	}
	resourceType, id, found := strings.Cut(parts[5], "/")
	if !found || resourceType == "" || id == "" {
		return Scope{}, "", "", false
	}
	return Scope{Account: parts[4], Region: parts[3]}, resourceType, id, true
}

// AccessKey is a credential pair that signs requests for an account.
type AccessKey struct {
	ID        string
	Secret    string
	Account   string
	CreatedAt time.Time
	// Inactive keys are kept but sign nothing (`warden credentials
	// deactivate`).
	Inactive bool
}

// Tag is a key/value pair attached to a resource. The JSON keys are
// capitalised in the AWS model.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// MaxTagsPerResource is AWS IoT's limit on tags per resource.
const MaxTagsPerResource = 50

// ValidateTags checks what the model leaves to the service: a resource has
// at most MaxTagsPerResource tags.
func ValidateTags(v *Validator, member string, tags []Tag) {
	if len(tags) > MaxTagsPerResource {
		v.Count(member, len(tags), 0, MaxTagsPerResource)
	}
}

// ValidateTagKey checks a TagKey: 1-128 characters of letters, separators,
// digits and _.:/=+-@.
func ValidateTagKey(v *Validator, member, key string) {
	v.Length(member, key, 1, 128)
	v.Chars(member, key, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.Is(unicode.Z, r) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
	}, `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
