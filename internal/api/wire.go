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

// listPage answers a list operation: it calls list with the page the
// request asks for (def items unless it gives a size) and maps each item to
// its wire form. The answer holds the items under the output's list member
// and the next page's token under the paginator's output token.
func listPage[T, O any](c *call, def int, list func(warden.Page) ([]T, string, error), wire func(*T) O) (any, error) {
	p, err := c.page(def)
	if err != nil {
		return nil, err
	}
	found, cursor, err := list(p)
	if err != nil {
		return nil, err
	}
	items := make([]O, 0, len(found))
	for i := range found {
		items = append(items, wire(&found[i]))
	}
	return pageOut{itemsKey: c.listMember(), items: items, tokenKey: c.op.Paginator.OutputToken, next: c.nextPage(cursor)}, nil
}

// listMember is the name of the one list member of the operation's output.
func (c *call) listMember() string {
	for _, m := range c.op.Output.Members {
		if m.Shape.Type == "list" {
			return m.Name
		}
	}
	panic(c.op.Name + " has no list in its output")
}

// same is the wire form of an item sent as the store returns it.
func same[T any](t *T) T { return *t }

// pageOut is a page of a list: {"<itemsKey>": items, "<tokenKey>": next},
// the token left out on the last page.
type pageOut struct {
	itemsKey, tokenKey, next string
	items                    any
}

// MarshalJSON writes the page; model member names are plain letters.
func (p pageOut) MarshalJSON() ([]byte, error) {
	items, err := json.Marshal(p.items)
	if err != nil {
		return nil, err
	}
	b := append([]byte(`{"`+p.itemsKey+`":`), items...)
	if p.next != "" {
		next, _ := json.Marshal(p.next)
		b = append(append(b, `,"`+p.tokenKey+`":`...), next...)
	}
	return append(b, '}'), nil
}
