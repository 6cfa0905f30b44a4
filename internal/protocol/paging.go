package protocol

import (
	"encoding/json"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// OpenPage reads a restJson1 list request's page token (nextToken or
// marker, as op's paginator names it) and page size, def when absent; the
// model has checked the size's range. binding is PageBinding's for the
// request.
func (p *PageTokens) OpenPage(op *awsmodel.Operation, s warden.Scope, binding string, input Input, def int) (warden.Page, error) {
	pg := op.Paginator
	page := warden.Page{Limit: def}
	if n, ok := input[pg.LimitKey].(json.Number); ok {
		size, _ := n.Int64()
		page.Limit = int(size)
	}
	token, _ := input[pg.InputToken].(string)
	open := p.Open
	if pg.Marker {
		open = p.OpenMarker
	}
	after, err := open(op.Name, s, binding, token)
	if err != nil {
		return page, warden.Errorf(warden.CodeInvalidRequest, "The %s is not valid for this request.", pg.InputToken)
	}
	page.After = after
	return page, nil
}

// NextPage is the token of the page after cursor ("" when cursor is "").
func (p *PageTokens) NextPage(op *awsmodel.Operation, s warden.Scope, binding, cursor string) string {
	if op.Paginator.Marker {
		return p.SealMarker(op.Name, s, binding, cursor)
	}
	return p.Seal(op.Name, s, binding, cursor)
}

// PageBinding is what a list request's page tokens are bound to besides the
// operation, account and region: every member of the request but the
// paginator's own, so a token cannot be carried to another list.
func PageBinding(op *awsmodel.Operation, input Input) string {
	pg := op.Paginator
	rest := make(map[string]any, len(input))
	for k, v := range input {
		if k != pg.InputToken && k != pg.LimitKey {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest) // map keys are sorted: a stable binding
	return string(b)
}

// ListOutput is a page of a restJson1 list operation: the items under the
// output's one list member, the next page's token under the paginator's
// output token, left out on the last page.
type ListOutput struct {
	op    *awsmodel.Operation
	items any
	next  string
}

// NewListOutput is op's answer of items and the token next.
func NewListOutput(op *awsmodel.Operation, items any, next string) ListOutput {
	return ListOutput{op: op, items: items, next: next}
}

// MarshalJSON writes the page; model member names are plain letters.
func (l ListOutput) MarshalJSON() ([]byte, error) {
	items, err := json.Marshal(l.items)
	if err != nil {
		return nil, err
	}
	b := append([]byte(`{"`+listMember(l.op)+`":`), items...)
	if l.next != "" {
		next, _ := json.Marshal(l.next)
		b = append(append(b, `,"`+l.op.Paginator.OutputToken+`":`...), next...)
	}
	return append(b, '}'), nil
}

// listMember is the name of the one list member of op's output.
func listMember(op *awsmodel.Operation) string {
	for _, m := range op.Output.Members {
		if m.Shape.Type == "list" {
			return m.Name
		}
	}
	panic(op.Name + " has no list in its output")
}
