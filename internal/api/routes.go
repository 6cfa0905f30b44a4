package api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
)

// emptyLabelOperations are the operations whose last path label AWS answers
// as a validation error of the operation when it is empty (the model sets no
// minimum on the names, so clients send it), where an empty label of any
// other operation is an unknown path (spec/semantics.md, "Validation").
var emptyLabelOperations = map[string]bool{
	"CreateMitigationAction": true, "UpdateMitigationAction": true, "DeleteMitigationAction": true,
	"DescribeMitigationAction": true, "StartAuditMitigationActionsTask": true, "DescribeAuditMitigationActionsTask": true,
}

// greedyLabelOperations take the rest of the path as their last label: an
// iot-data topic has slashes, which the aws CLI and SDKs escape but HTTP
// clients such as curl do not, and AWS accepts both.
var greedyLabelOperations = map[string]bool{"Publish": true}

// route registers on m every operation of model that Server has a method of
// the same name for, at the model's method and path; anything else is
// answered by unknownOperation.
func (s *Server) route(m *http.ServeMux, model *awsmodel.Service) {
	handlers := protocol.Handlers[func(*call) (any, error)](model, s)
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	sort.Strings(names) // the catch-all patterns are registered in a stable order
	catchAll := map[string]bool{}
	for _, name := range names {
		op, h := model.Operations[name], handlers[name]
		pattern, _, _ := strings.Cut(op.Path, "?") // no served operation has a query part
		if greedyLabelOperations[name] {
			pattern = strings.TrimSuffix(pattern, "}") + "...}"
		}
		m.Handle(op.Method+" "+pattern, s.op(op, h))
		if emptyLabelOperations[name] && strings.HasSuffix(pattern, "}") {
			parent := pattern[:strings.LastIndexByte(pattern, '/')]
			m.Handle(op.Method+" "+parent+"/{$}", s.op(op, h))
			// Without a pattern for the parent path itself, ServeMux would
			// answer it with a redirect to the {$} pattern.
			if !catchAll[parent] {
				catchAll[parent] = true
				m.Handle(parent, s.op(nil, unknownOperation))
			}
		}
	}
	m.Handle("/", s.op(nil, unknownOperation))
}
