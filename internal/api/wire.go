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

// listPage answers a list operation: it calls list with the page the
// request asks for (def items unless it gives a size) and maps each item to
// its wire form.
func listPage[T, O any](c *call, def int, list func(warden.Page) ([]T, string, error), wire func(*T) O) (any, error) {
	binding := protocol.PageBinding(c.op, c.input)
	p, err := c.tokens.OpenPage(c.op, c.scope, binding, c.input, def)
	if err != nil {
		return nil, err
	}
	found, cursor, err := list(p)
	if err != nil {
		return nil, err
	}
	return protocol.NewListOutput(c.op, wireAll(found, wire), c.tokens.NextPage(c.op, c.scope, binding, cursor)), nil
}

// wireAll is the wire form of each of items (never nil).
func wireAll[T, O any](items []T, wire func(*T) O) []O {
	out := make([]O, 0, len(items))
	for i := range items {
		out = append(out, wire(&items[i]))
	}
	return out
}

// same is the wire form of an item sent as the store returns it.
func same[T any](t *T) T { return *t }

// optional is the string or boolean member named member as sent at its
// location, nil when absent.
func optional[T string | bool](c *call, member string) *T {
	v, ok := c.input[member].(T)
	if !ok {
		return nil
	}
	return &v
}

// expectedVersion is the expectedVersion member (a query parameter), nil
// when absent.
func (c *call) expectedVersion() *int64 {
	n, ok := c.input["expectedVersion"].(json.Number)
	if !ok {
		return nil
	}
	v, _ := n.Int64() // the model has checked it is a long
	return &v
}
