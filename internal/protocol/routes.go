package protocol

import (
	"net/http"
	"sort"
	"strings"

	"github.com/warden-iot/warden/internal/awsmodel"
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

// Route registers on m every restJson1 operation of model that recv has a
// method of type H for (see Handlers), at the model's method and path, as
// serve(op, handler); any other path or method is serve(nil, unknown).
func Route[H any](m *http.ServeMux, model *awsmodel.Service, recv any, serve func(*awsmodel.Operation, H) http.Handler, unknown H) {
	handlers := Handlers[H](model, recv)
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
		m.Handle(op.Method+" "+pattern, serve(op, h))
		if emptyLabelOperations[name] && strings.HasSuffix(pattern, "}") {
			parent := pattern[:strings.LastIndexByte(pattern, '/')]
			m.Handle(op.Method+" "+parent+"/{$}", serve(op, h))
			// Without a pattern for the parent path itself, ServeMux would
			// answer it with a redirect to the {$} pattern.
			if !catchAll[parent] {
				catchAll[parent] = true
				m.Handle(parent, serve(nil, unknown))
			}
		}
	}
	m.Handle("/", serve(nil, unknown))
}
