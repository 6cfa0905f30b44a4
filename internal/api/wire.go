package api

import (
	"encoding/json"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/protocol"
)

// epoch is the restJson1 timestamp.
type epoch = protocol.Epoch

// decode binds the request's members (validated against the model) into
// v, a struct whose fields carry the members' json names.
func (c *call) decode(v any) error { return protocol.Bind(c.op, c.body, c.input, v) }

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
	open := c.tokens.Open
	if c.tokenIsMarker() {
		open = c.tokens.OpenMarker
	}
	after, err := open(c.op.Name, c.scope, c.pageBinding(), token)
	if err != nil {
		return page, warden.Errorf(warden.CodeInvalidRequest, "The %s is not valid for this request.", p.InputToken)
	}
	page.After = after
	return page, nil
}

// nextPage is the token of the page after cursor ("" when cursor is "").
func (c *call) nextPage(cursor string) string {
	if c.tokenIsMarker() {
		return c.tokens.SealMarker(c.op.Name, c.scope, c.pageBinding(), cursor)
	}
	return c.tokens.Seal(c.op.Name, c.scope, c.pageBinding(), cursor)
}

// tokenIsMarker reports whether the model's pattern for the input token
// (the markers' [A-Za-z0-9+/]+={0,2}) refuses base64url.
func (c *call) tokenIsMarker() bool {
	m := c.op.Input.MemberNamed(c.op.Paginator.InputToken)
	return m != nil && m.Shape.Regexp != nil && !m.Shape.Regexp.MatchString("a-b_c")
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
	return string(b)
}
