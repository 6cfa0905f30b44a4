package warden

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"strconv"
	"strings"
)

// Policy variables and condition keys of IoT policies (dataplane.md §2.3).
const (
	iotKeyClientID          = "iot:ClientId"
	iotKeyCertificateID     = "iot:CertificateId"
	iotKeyTopic             = "iot:Topic"
	iotKeySourceIP          = "aws:SourceIp"
	iotKeyConnectAttributes = "iot:ConnectAttributes"
	iotKeyLastWillTopic     = "iot:LastWillTopic"
	iotKeyThingPrefix       = "iot:Connection.Thing."
	iotKeyCertPrefix        = "iot:Certificate."
)

// maxIoTVariableValue is the longest value AWS substitutes for a variable.
const maxIoTVariableValue = 1024

// maxIoTCertValues is how many values of one certificate field AWS keeps.
const maxIoTCertValues = 5

// expand substitutes the policy variables ${name} and the escapes $(*),
// $(?) and $($) in a Resource entry or condition value. ok is false when a
// variable cannot be resolved. A value holding one of * $ + ? # or longer
// than 1024 characters is not substituted: the ${name} text stays (AWS
// documents this for certificate variables; Warden does it for all, so that
// no value ever acts as a wildcard). With an escape the result is
// "escaped": its wildcards are the bytes fleetStar and fleetAny and * and ?
// are literal; literal is for exact comparisons, where the result is plain
// text either way.
func (ev *iotEval) expand(pattern string, wild bool) (out string, escaped, ok bool) {
	escaped = wild && strings.Contains(pattern, "$(")
	var b strings.Builder
	b.Grow(len(pattern) + 32)
	literal := func(text string) {
		if !escaped {
			b.WriteString(text)
			return
		}
		for k := 0; k < len(text); k++ {
			switch text[k] {
			case '*':
				b.WriteByte(fleetStar)
			case '?':
				b.WriteByte(fleetAny)
			default:
				b.WriteByte(text[k])
			}
		}
	}
	for i := 0; i < len(pattern); {
		j := strings.IndexByte(pattern[i:], '$')
		if j < 0 {
			literal(pattern[i:])
			break
		}
		literal(pattern[i : i+j])
		i += j
		switch rest := pattern[i:]; {
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				literal(rest)
				i = len(pattern)
				continue
			}
			v, resolved := ev.variable(rest[2:end])
			if !resolved {
				return "", false, false
			}
			if len(v) > maxIoTVariableValue || hasIoTSpecialChar(v) {
				v = rest[:end+1]
			}
			b.WriteString(v)
			i += end + 1
		case len(rest) >= 4 && rest[1] == '(' && rest[3] == ')' && (rest[2] == '*' || rest[2] == '?' || rest[2] == '$'):
			b.WriteByte(rest[2])
			i += 4
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), escaped, true
}

// hasIoTSpecialChar reports whether v holds one of * $ + ? #, which keep a
// variable from being substituted.
func hasIoTSpecialChar(v string) bool {
	for k := 0; k < len(v); k++ {
		switch v[k] {
		case '*', '$', '+', '?', '#':
			return true
		}
	}
	return false
}

// resolvable reports whether every variable of pattern has a value.
func (ev *iotEval) resolvable(pattern string) bool {
	for rest := pattern; ; {
		i := strings.Index(rest, "${")
		if i < 0 {
			return true
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return true
		}
		if _, ok := ev.variable(rest[i+2 : i+end]); !ok {
			return false
		}
		rest = rest[i+end+1:]
	}
}

// variable resolves a single-valued policy variable.
func (ev *iotEval) variable(name string) (string, bool) {
	one, _, multi, ok := ev.contextValue(name)
	return one, ok && !multi
}

// contextValue is the value of a policy variable or condition key: one
// value, or with multi a set of them. ok is false when the context does not
// have it, including keys Warden does not know. Names are matched without
// regard to case, as IAM does.
func (ev *iotEval) contextValue(key string) (one string, many []string, multi, ok bool) {
	c := ev.c
	switch {
	case strings.EqualFold(key, iotKeyClientID):
		return c.ClientID, nil, false, c.ClientID != ""
	case strings.EqualFold(key, iotKeyCertificateID):
		return c.CertificateID, nil, false, c.CertificateID != ""
	case strings.EqualFold(key, iotKeyTopic):
		t, ok := iotResourceTopic(ev.resource)
		return t, nil, false, ok
	case strings.EqualFold(key, iotKeySourceIP):
		if !c.SourceIP.IsValid() {
			return "", nil, false, false
		}
		return c.SourceIP.String(), nil, false, true
	case strings.EqualFold(key, iotKeyConnectAttributes):
		if !strings.EqualFold(ev.action, ActionIoTConnect) {
			return "", nil, true, false
		}
		return "", c.ConnectAttributes, true, true
	case strings.EqualFold(key, iotKeyLastWillTopic):
		// Like ConnectAttributes, a key of the Connect request only.
		ok := c.LastWillTopic != "" && strings.EqualFold(ev.action, ActionIoTConnect)
		return c.LastWillTopic, nil, false, ok
	case hasPrefixFold(key, iotKeyThingPrefix):
		v, ok := ev.thingValue(key[len(iotKeyThingPrefix):])
		return v, nil, false, ok
	case hasPrefixFold(key, iotKeyCertPrefix):
		if c.Certificate == nil {
			return "", nil, false, false
		}
		return iotCertValue(c.Certificate, key[len(iotKeyCertPrefix):])
	}
	return "", nil, false, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// iotResourceTopic is the topic or topic filter a topic/ or topicfilter/
// ARN names: the value of iot:Topic, which AWS does not document (a Warden
// choice, UNCONFIRMED).
func iotResourceTopic(resource string) (string, bool) {
	_, kind, id, ok := ParseIoTARN(resource)
	if !ok || kind != "topic" && kind != "topicfilter" {
		return "", false
	}
	return id, true
}

// thingValue resolves iot:Connection.Thing.<field>.
func (ev *iotEval) thingValue(field string) (string, bool) {
	c := ev.c
	if strings.EqualFold(field, "IsAttached") {
		// Known whenever a certificate connected, thing or not.
		if c.CertificateID == "" && c.Certificate == nil {
			return "", false
		}
		return strconv.FormatBool(c.ThingAttached && c.Thing != nil), true
	}
	t := c.Thing
	if t == nil {
		return "", false
	}
	switch {
	case strings.EqualFold(field, "ThingName"):
		return t.Name, true
	case strings.EqualFold(field, "ThingTypeName"):
		return t.TypeName, t.TypeName != ""
	case hasPrefixFold(field, "Attributes[") && strings.HasSuffix(field, "]"):
		v, ok := t.Attributes[field[len("Attributes["):len(field)-1]]
		return v, ok
	}
	return "", false
}

// Attribute types of a distinguished name that AWS offers as certificate
// variables, by the last arc of their OID 2.5.4.x.
var iotDNAttributes = []struct {
	name string
	arc  int
}{
	{"Country", 6}, {"Organization", 10}, {"OrganizationalUnit", 11}, {"State", 8},
	{"CommonName", 3}, {"SerialNumber", 5}, {"Title", 12}, {"Surname", 4},
	{"GivenName", 42}, {"Initials", 43}, {"Pseudonym", 65}, {"GenerationQualifier", 44},
	{"DistinguishedNameQualifier", 46},
}

// Alternative-name types (GeneralName tags of RFC 5280).
var iotAltNames = []struct {
	name string
	tag  int
}{
	{"RFC822Name", 1}, {"DNSName", 2}, {"DirectoryName", 4}, {"UniformResourceIdentifier", 6}, {"IPAddress", 7},
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// iotCertValue resolves iot:Certificate.<path>: SerialNumber (decimal),
// AvailableKeys (a set), and {Subject|Issuer}.<attribute> or
// {Subject|Issuer}.AlternativeName.<type>, each optionally followed by .N
// (the N+1st value) or .List (all values, a set).
func iotCertValue(cert *x509.Certificate, path string) (one string, many []string, multi, ok bool) {
	switch {
	case strings.EqualFold(path, "SerialNumber"):
		if cert.SerialNumber == nil {
			return "", nil, false, false
		}
		return cert.SerialNumber.String(), nil, false, true
	case strings.EqualFold(path, "AvailableKeys"):
		return "", iotCertAvailableKeys(cert), true, true
	}
	var values []string
	switch {
	case hasPrefixFold(path, "Subject."):
		path = path[len("Subject."):]
		values = iotCertField(cert, &cert.Subject, oidSubjectAltName, &path)
	case hasPrefixFold(path, "Issuer."):
		path = path[len("Issuer."):]
		values = iotCertField(cert, &cert.Issuer, oidIssuerAltName, &path)
	default:
		return "", nil, false, false
	}
	if len(values) > maxIoTCertValues {
		values = values[:maxIoTCertValues]
	}
	switch {
	case path == "":
		if len(values) == 0 {
			return "", nil, false, false
		}
		return values[0], nil, false, true
	case strings.EqualFold(path, "List"):
		if len(values) == 0 {
			return "", nil, true, false
		}
		return "", values, true, true
	}
	n, err := strconv.Atoi(path)
	if err != nil || n < 0 || n >= len(values) || strconv.Itoa(n) != path {
		return "", nil, false, false
	}
	return values[n], nil, false, true
}

// iotCertField returns the values of the field *path names (an attribute
// or AlternativeName.<type>) and leaves in *path what follows it ("", a
// number or List); nil for an unknown field.
func iotCertField(cert *x509.Certificate, name *pkix.Name, altOID asn1.ObjectIdentifier, path *string) []string {
	field, rest, _ := strings.Cut(*path, ".")
	if strings.EqualFold(field, "AlternativeName") {
		field, rest, _ = strings.Cut(rest, ".")
		*path = rest
		for _, a := range iotAltNames {
			if strings.EqualFold(a.name, field) {
				return iotAltNameValues(cert, altOID, a.tag)
			}
		}
		return nil
	}
	*path = rest
	for _, a := range iotDNAttributes {
		if strings.EqualFold(a.name, field) {
			return iotDNValues(name, a.arc)
		}
	}
	return nil
}

func iotDNValues(name *pkix.Name, arc int) []string {
	var out []string
	for _, atv := range name.Names {
		t := atv.Type
		if len(t) == 4 && t[0] == 2 && t[1] == 5 && t[2] == 4 && t[3] == arc {
			if s, ok := atv.Value.(string); ok {
				out = append(out, iotEscapeCertValue(s))
			}
		}
	}
	return out
}

// iotEscapeCertValue puts a backslash before , " \ + = < > ; as AWS does in
// certificate variable values.
func iotEscapeCertValue(s string) string {
	if !strings.ContainsAny(s, `,"\+=<>;`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`,"\+=<>;`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// iotAltNameValues parses the GeneralNames of the alternative-name
// extension oid and returns those of one tag, as text.
func iotAltNameValues(cert *x509.Certificate, oid asn1.ObjectIdentifier, tag int) []string {
	var der []byte
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oid) {
			der = ext.Value
			break
		}
	}
	if der == nil {
		return nil
	}
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
		return nil
	}
	var out []string
	for body := seq.Bytes; len(body) > 0; {
		var gn asn1.RawValue
		rest, err := asn1.Unmarshal(body, &gn)
		if err != nil {
			return out
		}
		body = rest
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != tag {
			continue
		}
		switch tag {
		case 1, 2, 6:
			out = append(out, iotEscapeCertValue(string(gn.Bytes)))
		case 7:
			if len(gn.Bytes) == 4 || len(gn.Bytes) == 16 {
				out = append(out, net.IP(gn.Bytes).String())
			}
		case 4:
			var rdn pkix.RDNSequence
			if rest, err := asn1.Unmarshal(gn.Bytes, &rdn); err == nil && len(rest) == 0 {
				out = append(out, rdn.String())
			}
		}
	}
	return out
}

// iotCertAvailableKeys names the certificate variables that have values.
func iotCertAvailableKeys(cert *x509.Certificate) []string {
	var keys []string
	for _, side := range []struct {
		name string
		dn   *pkix.Name
		alt  asn1.ObjectIdentifier
	}{{"Subject", &cert.Subject, oidSubjectAltName}, {"Issuer", &cert.Issuer, oidIssuerAltName}} {
		for _, a := range iotDNAttributes {
			if len(iotDNValues(side.dn, a.arc)) > 0 {
				keys = append(keys, iotKeyCertPrefix+side.name+"."+a.name)
			}
		}
		for _, a := range iotAltNames {
			if len(iotAltNameValues(cert, side.alt, a.tag)) > 0 {
				keys = append(keys, iotKeyCertPrefix+side.name+".AlternativeName."+a.name)
			}
		}
	}
	if cert.SerialNumber != nil {
		keys = append(keys, iotKeyCertPrefix+"SerialNumber")
	}
	return keys
}
