// Package sigv4 verifies AWS Signature Version 4 on incoming requests that
// carry an "Authorization: AWS4-HMAC-SHA256 ..." header.
//
// The canonical request is rebuilt from the request exactly as it arrived:
// the headers the client listed in SignedHeaders (and no others), the path as
// sent on the wire and the decoded-then-re-encoded query. Different clients
// disagree on which headers to sign (the Go SDK signs content-length,
// botocore does not), so re-signing with an SDK signer would reject valid
// requests.
//
// Presigned (query-string) authentication is not supported, and neither
// are temporary credentials: a request carrying X-Amz-Security-Token is
// rejected as AWS rejects an invalid token.
package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warden-iot/warden"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	terminator     = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	defaultMaxSkew = 5 * time.Minute

	// maxCachedKeys bounds the signing-key cache. A key is valid for one
	// (secret, day, region, service), so a deployment needs about one entry
	// per active access key and service; the bound only stops growth.
	maxCachedKeys = 1024

	// maxPooledBuf keeps a request with a huge query or header from pinning
	// a huge buffer in the pool.
	maxPooledBuf = 64 << 10
)

const msgInvalidToken = "The security token included in the request is invalid."

const msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Credential is what a verified request was signed with.
type Credential struct {
	AccessKeyID string
	Account     string    // from the lookup
	Region      string    // from the credential scope
	Service     string    // from the credential scope, e.g. "iot", "execute-api", "sns", "iam"
	Date        time.Time // X-Amz-Date
}

// Error is a verification failure: an AWS error code (one of warden's
// SigV4 codes), its message and the HTTP status the service answers with.
type Error struct {
	Code    warden.Code
	Message string
	Status  int
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func newError(code warden.Code, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: code.Status()}
}

func incomplete(msg string) *Error { return newError(warden.CodeIncompleteSignature, msg) }

func invalidSignature(msg string) *Error { return newError(warden.CodeInvalidSignature, msg) }

// Lookup returns the secret and owning account of an access key; ok=false
// when the key is unknown.
type Lookup func(ctx context.Context, accessKeyID string) (secret, account string, ok bool, err error)

// Verifier checks SigV4 signatures. Set its exported fields before first
// use; it is safe for concurrent use and must not be copied after first use.
type Verifier struct {
	Lookup   Lookup
	Now      func() time.Time // injected clock; nil = time.Now
	MaxSkew  time.Duration    // 0 = 5 minutes
	Services []string         // accepted credential-scope services; nil = accept any
	// Regions are the accepted credential-scope regions; nil accepts any
	// name shaped like an AWS region (see ValidRegion).
	Regions []string
	// AcceptAny is LocalStack's local-testing mode: any access key is
	// accepted without checking the signature (the Authorization header must
	// still be well formed, for its region and service); a 12-digit key id
	// is the account, any other key id the default account.
	AcceptAny bool

	mu   sync.Mutex
	keys map[keySpec][32]byte // derived signing keys; bounded by maxCachedKeys
}

// keySpec is everything a signing key is derived from. The secret is part of
// it so that a rotated secret never meets a stale key.
type keySpec struct {
	secret, date, region, service string
}

// authorization is the parsed Authorization header. All strings are
// substrings of the header value.
type authorization struct {
	credential    string // the whole Credential= value
	signedHeaders string
	signature     string

	accessKey, date, region, service string
	scope                            string // date/region/service/aws4_request
}

// Verify checks r's signature against body (the full, already-read request
// body; the caller caps its size). A failure is returned as *Error; any other
// error is an internal failure (e.g. Lookup failed).
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Credential, error) {
	if hasSecurityToken(r) {
		// Warden issues no temporary credentials, so no token is valid.
		return Credential{}, newError(warden.CodeUnrecognizedClient, msgInvalidToken)
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return Credential{}, newError(warden.CodeMissingAuthenticationToken, "Missing Authentication Token")
	}
	a, perr := parseAuthorization(authz)
	if perr != nil {
		return Credential{}, perr
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if a.credential == "" || a.signature == "" || a.signedHeaders == "" || amzDate == "" {
		return Credential{}, incomplete(missingMessage(a, amzDate == "", authz))
	}
	if err := a.parseCredential(); err != nil {
		return Credential{}, err
	}
	date, derr := parseAmzDate(amzDate)
	if derr != nil {
		return Credential{}, derr
	}
	if a.date != amzDate[:8] {
		return Credential{}, invalidSignature(fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, amzDate[:8], amzDate))
	}
	if v.Services != nil && !slices.Contains(v.Services, a.service) {
		want := ""
		if len(v.Services) > 0 {
			want = v.Services[0]
		}
		return Credential{}, invalidSignature(fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", want))
	}
	if !ValidRegion(a.region) || v.Regions != nil && !slices.Contains(v.Regions, a.region) {
		// A region is part of every ARN and quota key: "us-east-1:111122223333"
		// would name another account, invented regions multiply quotas.
		return Credential{}, invalidSignature(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", a.region))
	}
	if v.AcceptAny {
		account := warden.DefaultAccount
		if len(a.accessKey) == 12 && allBetween(a.accessKey, '0', '9') {
			account = a.accessKey
		}
		if v.Lookup != nil {
			// A stored key keeps its account (its signature is not checked either).
			_, stored, ok, err := v.Lookup(ctx, a.accessKey)
			if err != nil {
				return Credential{}, fmt.Errorf("sigv4: looking up access key: %w", err)
			}
			if ok {
				account = stored
			}
		}
		return Credential{AccessKeyID: a.accessKey, Account: account, Region: a.region, Service: a.service, Date: date}, nil
	}
	if err := v.checkSkew(date); err != nil {
		return Credential{}, err
	}
	if !hasElement(a.signedHeaders, "host") {
		return Credential{}, invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	contentSHA := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case contentSHA == "UNSIGNED-PAYLOAD":
		return Credential{}, invalidSignature(
			"Unsigned payloads (x-amz-content-sha256: UNSIGNED-PAYLOAD) are not accepted; sign the SHA-256 of the body.")
	case strings.HasPrefix(contentSHA, "STREAMING-"):
		return Credential{}, invalidSignature(
			"Streaming payloads (x-amz-content-sha256: STREAMING-*) are not accepted; send the body in one piece and sign its SHA-256.")
	}

	if v.Lookup == nil {
		return Credential{}, fmt.Errorf("sigv4: Verifier.Lookup is nil")
	}
	secret, account, ok, err := v.Lookup(ctx, a.accessKey)
	if err != nil {
		return Credential{}, fmt.Errorf("sigv4: looking up access key: %w", err)
	}
	if !ok {
		return Credential{}, newError(warden.CodeUnrecognizedClient, msgInvalidToken)
	}

	sum := sha256.Sum256(body)
	var payloadHash [64]byte
	hex.Encode(payloadHash[:], sum[:])
	if contentSHA != "" && contentSHA != string(payloadHash[:]) {
		return Credential{}, invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	var provided [32]byte
	if !decodeHex(provided[:], a.signature) {
		return Credential{}, invalidSignature(msgSignatureMismatch)
	}

	key, cached := v.signingKey(secret, a)
	s := scratchPool.Get().(*scratch)
	defer s.release()

	path := requestPath(r)
	match := s.matches(r, path, &a, amzDate, payloadHash[:], &key, &provided)
	if !match {
		// botocore and the JS SDK remove empty and dot segments before
		// signing; the Go SDK signs the path as sent. Try the normalised
		// form only when it differs, so the common case signs once.
		if np := normalizePath(path); np != path {
			match = s.matches(r, np, &a, amzDate, payloadHash[:], &key, &provided)
		}
	}
	if !match {
		return Credential{}, invalidSignature(msgSignatureMismatch)
	}
	if !cached {
		// Only keys that produced a valid signature are cached, so requests
		// with a known access key but made-up scopes cannot churn the cache.
		v.storeKey(secret, a, key)
	}
	return Credential{
		AccessKeyID: a.accessKey,
		Account:     account,
		Region:      a.region,
		Service:     a.service,
		Date:        date,
	}, nil
}

// hasSecurityToken reports whether r carries a session token, in the
// header or (as a presigned URL would) in the query.
func hasSecurityToken(r *http.Request) bool {
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return true
	}
	// The cheap test first: most queries do not mention it at all.
	return strings.Contains(r.URL.RawQuery, "Security-Token") && r.URL.Query().Get("X-Amz-Security-Token") != ""
}

// ValidRegion reports whether s is shaped like an AWS region name as the
// SDKs' partition patterns describe them: a lowercase geography prefix of 2
// to 4 letters, one or more lowercase words and a number of 1 or 2 digits,
// joined by '-' ("us-east-1", "us-gov-west-1", "us-isob-east-1",
// "eusc-de-east-1"). Pseudo-regions such as "aws-global" are not signing
// regions and are refused.
func ValidRegion(s string) bool {
	if len(s) > 32 {
		return false
	}
	for words := 0; ; words++ {
		word, rest, more := strings.Cut(s, "-")
		if !more { // the number
			return words >= 2 && len(word) >= 1 && len(word) <= 2 && allBetween(word, '0', '9')
		}
		if word == "" || !allBetween(word, 'a', 'z') || words == 0 && (len(word) > 4 || len(word) < 2 || word == "aws") {
			return false
		}
		s = rest
	}
}

// allBetween reports whether every byte of s is in [lo, hi].
func allBetween(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string) (authorization, *Error) {
	var a authorization
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		return a, incomplete(fmt.Sprintf("Unsupported Authorization algorithm '%s'; only %s is accepted. Authorization=%s",
			alg, algorithm, h))
	}
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete(fmt.Sprintf(
				"'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'", part, h))
		}
		var dst *string
		switch k {
		case "Credential":
			dst = &a.credential
		case "SignedHeaders":
			dst = &a.signedHeaders
		case "Signature":
			dst = &a.signature
		default:
			continue
		}
		if *dst != "" {
			return a, incomplete(fmt.Sprintf("Authorization header has more than one '%s' parameter. Authorization=%s", k, h))
		}
		*dst = val
	}
	return a, nil
}

// missingMessage lists every missing piece at once, in AWS's wording.
func missingMessage(a authorization, noDate bool, authz string) string {
	var b strings.Builder
	if a.credential == "" {
		b.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if a.signature == "" {
		b.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if a.signedHeaders == "" {
		b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if noDate {
		b.WriteString("Authorization header requires existence of a 'X-Amz-Date' header. ")
	}
	b.WriteString("Authorization=")
	b.WriteString(authz)
	return b.String()
}

// parseCredential splits keyid/yyyymmdd/region/service/aws4_request.
func (a *authorization) parseCredential() *Error {
	var parts [5]string
	if strings.Count(a.credential, "/") == len(parts)-1 {
		rest := a.credential
		for i := range parts[:len(parts)-1] {
			parts[i], rest, _ = strings.Cut(rest, "/")
		}
		parts[len(parts)-1] = rest
	}
	if slices.Contains(parts[:], "") {
		return incomplete(fmt.Sprintf(
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'",
			a.credential))
	}
	if parts[4] != terminator {
		return incomplete(fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'.",
			terminator, parts[4]))
	}
	a.accessKey, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	a.scope = a.credential[len(a.accessKey)+1:]
	return nil
}

func parseAmzDate(s string) (time.Time, *Error) {
	// time.Parse alone would also accept fractional seconds.
	if len(s) == len(amzDateLayout) {
		if t, err := time.Parse(amzDateLayout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, incomplete(fmt.Sprintf(
		"X-Amz-Date must be in ISO-8601 basic format, e.g. 20150830T123600Z; got '%s'.", s))
}

func (v *Verifier) checkSkew(date time.Time) *Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	now = now.UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if earliest := now.Add(-skew); date.Before(earliest) {
		return invalidSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			date.Format(amzDateLayout), earliest.Format(amzDateLayout), now.Format(amzDateLayout), formatSkew(skew)))
	}
	if latest := now.Add(skew); date.After(latest) {
		return invalidSignature(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			date.Format(amzDateLayout), latest.Format(amzDateLayout), now.Format(amzDateLayout), formatSkew(skew)))
	}
	return nil
}

func formatSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// hasElement reports whether the ';'-separated list contains name.
func hasElement(list, name string) bool {
	for list != "" {
		var el string
		el, list, _ = strings.Cut(list, ";")
		if el == name {
			return true
		}
	}
	return false
}

// requestPath returns the path exactly as the client sent it.
// r.URL.Path is decoded, and r.URL.EscapedPath re-encodes the path whenever
// the client sent a byte Go would have escaped (a raw '|', say), so the path
// is taken from RequestURI, in origin form ("/p?q") or absolute form
// ("http://host/p?q"). EscapedPath is the fallback for requests built
// in-process rather than read from the wire.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p != "" && p[0] != '/' {
		if _, rest, ok := strings.Cut(p, "://"); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				p = rest[i:]
			} else {
				p = "/"
			}
		}
	}
	if p == "" || p[0] != '/' {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// normalizePath removes empty and "." segments and resolves "..", as
// botocore and the JS SDK do before signing. A trailing slash is kept.
func normalizePath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	var segs []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	np := "/" + strings.Join(segs, "/")
	if len(segs) > 0 && strings.HasSuffix(p, "/") {
		np += "/"
	}
	return np
}

// signingKey returns the derived signing key for a's scope and whether it
// came from the cache.
func (v *Verifier) signingKey(secret string, a authorization) ([32]byte, bool) {
	spec := keySpec{secret: secret, date: a.date, region: a.region, service: a.service}
	v.mu.Lock()
	key, ok := v.keys[spec]
	v.mu.Unlock()
	if ok {
		return key, true
	}
	return deriveKey(secret, a.date, a.region, a.service), false
}

func (v *Verifier) storeKey(secret string, a authorization, key [32]byte) {
	// Clone so the cache does not pin the request's header memory.
	spec := keySpec{
		secret:  strings.Clone(secret),
		date:    strings.Clone(a.date),
		region:  strings.Clone(a.region),
		service: strings.Clone(a.service),
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil {
		v.keys = make(map[keySpec][32]byte)
	}
	if len(v.keys) >= maxCachedKeys {
		for k := range v.keys { // map order makes this a random eviction
			delete(v.keys, k)
			break
		}
	}
	v.keys[spec] = key
}

func deriveKey(secret, date, region, service string) [32]byte {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, terminator)
	return [32]byte(k)
}

// scratch holds the buffers of one verification; it is pooled so that the
// hot path does not allocate.
type scratch struct {
	creq  []byte // canonical request
	sts   []byte // HMAC inner pad followed by the string to sign
	enc   []byte // re-encoded query names and values
	pairs []queryPair
}

// queryPair holds offsets into scratch.enc.
type queryPair struct{ k0, k1, v0, v1 int }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (s *scratch) release() {
	if cap(s.creq) > maxPooledBuf || cap(s.sts) > maxPooledBuf || cap(s.enc) > maxPooledBuf {
		return
	}
	scratchPool.Put(s)
}

// matches builds the canonical request for path and reports whether its
// signature equals provided.
func (s *scratch) matches(r *http.Request, path string, a *authorization, amzDate string,
	payloadHash []byte, key, provided *[32]byte) bool {
	c := s.creq[:0]
	c = append(c, r.Method...)
	c = append(c, '\n')
	c = appendURIEncoded(c, path, true)
	c = append(c, '\n')
	c, ok := s.appendCanonicalQuery(c, r.URL.RawQuery)
	if !ok {
		s.creq = c
		return false // a query no client could have signed
	}
	c = append(c, '\n')
	c = appendCanonicalHeaders(c, r, a.signedHeaders)
	c = append(c, '\n')
	c = append(c, a.signedHeaders...)
	c = append(c, '\n')
	c = append(c, payloadHash...)
	s.creq = c
	creqHash := sha256.Sum256(c)

	// The string to sign is written after a 64-byte block that hmacSHA256
	// fills with the inner pad, so the message is never copied.
	t := append(s.sts[:0], make([]byte, sha256.BlockSize)...)
	t = append(t, algorithm...)
	t = append(t, '\n')
	t = append(t, amzDate...)
	t = append(t, '\n')
	t = append(t, a.scope...)
	t = append(t, '\n')
	t = hex.AppendEncode(t, creqHash[:])
	s.sts = t
	sig := hmacSHA256(key, t)
	return hmac.Equal(sig[:], provided[:])
}

// hmacSHA256 is HMAC-SHA256 (RFC 2104) for a 32-byte key over buf[64:]; it
// overwrites buf[:64] with the inner pad. A key shorter than the block size
// is zero-padded, so no key hashing is needed. crypto/hmac would allocate
// two hash states per call on this hot path.
func hmacSHA256(key *[32]byte, buf []byte) [32]byte {
	const ipad, opad = 0x36, 0x5c
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ ipad
		outer[i] = k ^ opad
	}
	inner := sha256.Sum256(buf)
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// appendCanonicalQuery decodes each name and value of raw, re-encodes it
// with the SigV4 rules and sorts the pairs by encoded name, then value. It
// reports false for an invalid percent-escape.
func (s *scratch) appendCanonicalQuery(dst []byte, raw string) ([]byte, bool) {
	enc, pairs := s.enc[:0], s.pairs[:0]
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, val, _ := strings.Cut(kv, "=")
		var p queryPair
		var ok bool
		p.k0 = len(enc)
		if enc, ok = appendQueryComponent(enc, k); !ok {
			s.enc, s.pairs = enc, pairs
			return dst, false
		}
		p.k1, p.v0 = len(enc), len(enc)
		if enc, ok = appendQueryComponent(enc, val); !ok {
			s.enc, s.pairs = enc, pairs
			return dst, false
		}
		p.v1 = len(enc)
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(x, y queryPair) int {
		if c := bytes.Compare(enc[x.k0:x.k1], enc[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(enc[x.v0:x.v1], enc[y.v0:y.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, enc[p.k0:p.k1]...)
		dst = append(dst, '=')
		dst = append(dst, enc[p.v0:p.v1]...)
	}
	s.enc, s.pairs = enc, pairs
	return dst, true
}

// appendQueryComponent decodes s as url.QueryUnescape does ('+' is a space),
// so the signature covers what r.URL.Query() hands to the handler, and
// appends its SigV4 encoding.
func appendQueryComponent(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			c = hi<<4 | lo
			i += 2
		case '+':
			c = ' '
		}
		dst = appendEncodedByte(dst, c, false)
	}
	return dst, true
}

// appendURIEncoded applies SigV4's UriEncode to s, keeping '/' when
// keepSlash. Applied to the path as sent (which is already percent-encoded),
// this is the "encode twice" rule for non-S3 services: "%3A" becomes "%253A".
func appendURIEncoded(dst []byte, s string, keepSlash bool) []byte {
	if s == "" {
		return append(dst, '/')
	}
	for i := 0; i < len(s); i++ {
		dst = appendEncodedByte(dst, s[i], keepSlash)
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

func appendEncodedByte(dst []byte, c byte, keepSlash bool) []byte {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || keepSlash && c == '/' {
		return append(dst, c)
	}
	return append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
}

// appendCanonicalHeaders writes "name:value\n" for each signed header, in
// the client's order.
func appendCanonicalHeaders(dst []byte, r *http.Request, signed string) []byte {
	for signed != "" {
		var name string
		name, signed, _ = strings.Cut(signed, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		if name == "host" {
			// net/http moves Host out of r.Header.
			dst = appendHeaderValue(dst, r.Host)
		} else if vals := headerValues(r.Header, name); vals != nil {
			for i, val := range vals {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendHeaderValue(dst, val)
			}
		} else if name == "content-length" && r.ContentLength > 0 {
			// Requests built in-process carry the length only in the field.
			dst = strconv.AppendInt(dst, r.ContentLength, 10)
		} else if name == "transfer-encoding" && len(r.TransferEncoding) > 0 {
			// net/http removes the header and keeps the parsed codings.
			dst = append(dst, strings.Join(r.TransferEncoding, ",")...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// headerValues finds a header by its lower-case SigV4 name without
// allocating: the canonical MIME form is built on the stack.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) <= len(buf) {
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
			upper = c == '-'
		}
		if v, ok := h[string(buf[:len(name)])]; ok {
			return v
		}
	}
	for k, v := range h { // a header set without canonicalising its name
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// appendHeaderValue trims the value and collapses inner runs of spaces to
// one, as the SigV4 "Trimall" step requires.
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ScopeService is the service named by the credential scope of an
// Authorization header ("…/<region>/<service>/aws4_request"), or "" if it
// names none: it picks a request's error format before its signature is
// verified.
func ScopeService(authorization string) string {
	before, _, ok := strings.Cut(authorization, "/"+terminator)
	if !ok {
		return ""
	}
	return before[strings.LastIndexByte(before, '/')+1:]
}
