package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/protocol"
)

// epoch is the restJson1 timestamp.
type epoch = protocol.Epoch

// decode binds the request's members (validated against the model) into
// v, a struct whose fields carry the members' json names.
func (c *call) decode(v any) error { return protocol.Bind(c.op, c.body, c.input, v) }

// maxResults reads the maxResults query member: 1..limit, def when absent.
func (c *call) maxResults(name string, def, limit int) (int, error) {
	raw := c.r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, warden.Errorf(warden.CodeInvalidRequest, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", raw, name)
	}
	var v warden.Validator
	v.Range(name, int64(n), 1, int64(limit))
	return n, v.Err()
}

// tokenSealer turns store cursors into opaque nextTokens that a client cannot
// forge or carry to another operation or account: the cursor is bound to both
// and authenticated with a server key shared by every process on the store.
type tokenSealer struct{ key []byte }

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func (t *tokenSealer) mac(op string, s warden.Scope, cursor string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(op + "\x00" + s.Account + "\x00" + s.Region + "\x00" + cursor))
	return m.Sum(nil)[:16]
}

// seal returns the nextToken for cursor, or "" (no more pages) for "".
func (t *tokenSealer) seal(op string, s warden.Scope, cursor string) string {
	if cursor == "" {
		return ""
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(cursor)) + "." + enc.EncodeToString(t.mac(op, s, cursor))
}

// open returns the cursor inside token; "" for no token.
func (t *tokenSealer) open(op string, s warden.Scope, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	bad := warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
	enc := base64.RawURLEncoding
	c, m, ok := strings.Cut(token, ".")
	if !ok {
		return "", bad
	}
	cursor, err1 := enc.DecodeString(c)
	mac, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || len(cursor) == 0 || !hmac.Equal(mac, t.mac(op, s, string(cursor))) {
		return "", bad
	}
	return string(cursor), nil
}

// page reads the page token (nextToken or marker, as the model's paginator
// names it) and the page size, def when absent; the model has checked the
// size's range. A token is bound to the operation, the caller's account and
// region and the request's other members, so it cannot be carried to
// another list.
func (c *call) page(def int) (warden.Page, error) {
	p := c.op.Paginator
	page := warden.Page{Limit: def}
	if n, ok := c.input[p.LimitKey].(json.Number); ok {
		size, _ := n.Int64()
		page.Limit = int(size)
	}
	token, _ := c.input[p.InputToken].(string)
	if token != "" && c.tokenNeedsStdBase64() {
		raw, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return page, warden.Errorf(warden.CodeInvalidRequest, "The %s is not valid for this request.", p.InputToken)
		}
		token = string(raw)
	}
	after, err := c.tokens.open(c.pageBinding(), c.scope, token)
	if err != nil {
		return page, warden.Errorf(warden.CodeInvalidRequest, "The %s is not valid for this request.", p.InputToken)
	}
	page.After = after
	return page, nil
}

// nextPage is the token of the page after cursor ("" when cursor is "").
func (c *call) nextPage(cursor string) string {
	token := c.tokens.seal(c.pageBinding(), c.scope, cursor)
	if token != "" && c.tokenNeedsStdBase64() {
		token = base64.StdEncoding.EncodeToString([]byte(token))
	}
	return token
}

// tokenNeedsStdBase64 reports whether the model's pattern for the input
// token (the markers' [A-Za-z0-9+/]+={0,2}) refuses a sealed token as it is.
func (c *call) tokenNeedsStdBase64() bool {
	m := c.op.Input.MemberNamed(c.op.Paginator.InputToken)
	return m != nil && m.Shape.Regexp != nil && !m.Shape.Regexp.MatchString("a.b-c_d")
}

// pageBinding is what a page token is bound to: the operation and every
// member of the request but the paginator's own.
func (c *call) pageBinding() string {
	p := c.op.Paginator
	rest := make(map[string]any, len(c.input))
	for k, v := range c.input {
		if k != p.InputToken && k != p.LimitKey {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest) // map keys are sorted: a stable binding
	return c.op.Name + "\x00" + string(b)
}
