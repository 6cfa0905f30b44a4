// Package iam serves an IAM-compatible subset on Warden's port: roles and
// their inline policies, in IAM's query protocol (form-encoded POSTs to "/"
// with Action=...&Version=2010-05-08, XML answers, IAM's XML errors). The
// mitigation engine checks the roles of mitigation actions against them.
//
// IAM is global: roles belong to the account of the signing key, whatever
// region the request was signed for.
package iam

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
	"github.com/warden-iot/warden/internal/queryproto"
)

// Namespace is the XML namespace of IAM's answers.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is the only Version IAM's query protocol has.
const APIVersion = "2010-05-08"

// Config is what the handler needs.
type Config struct {
	Store  warden.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves IAM's query protocol. It implements api.QueryService: the API
// server verifies the signature and hands over requests scoped to "iam".
type Handler struct {
	store warden.Store
	svc   *queryproto.Service
	now   func() time.Time
	pages *protocol.PageTokens // seals Markers
	ops   map[string]operation
}

// operation serves one IAM action and returns its result shape (nil for
// actions without one), which is sent inside <ActionResult>. The handler of
// an action is the Handler method of the same name.
type operation = func(c *call) (any, error)

// call is one request on its way through an operation.
type call struct {
	ctx context.Context
	op  *awsmodel.Operation
	// in is the action's input, validated against the model.
	in      protocol.Input
	account string
	now     time.Time
}

// NewHandler loads (creating on first use) the key that seals Markers.
func NewHandler(ctx context.Context, cfg Config) (*Handler, error) {
	pages, err := protocol.LoadPageTokens(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	h := &Handler{store: cfg.Store, now: cfg.Now, pages: pages, svc: &queryproto.Service{
		Model: awsmodel.Load(awsmodel.IAMModel), ValidationCode: warden.CodeIAMValidationError,
		Errors: queryproto.Errors{Namespace: Namespace, Internal: warden.CodeIAMServiceFailure, Foreign: foreignCodes, Log: cfg.Logger},
	}}
	if h.svc.Log == nil {
		h.svc.Log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.ops = protocol.Handlers[operation](h.svc.Model, h)
	return h, nil
}

// ServeSigned answers a request whose SigV4 signature, scoped to "iam", the
// caller has verified; body is the request body it read. It returns the
// action and the error code (if any) for the caller's log line.
func (h *Handler) ServeSigned(w http.ResponseWriter, r *http.Request, requestID, accessKeyID string, scope warden.Scope, body []byte) (operation, errCode string) {
	return h.svc.Serve(w, r, requestID, body, func(action string, form url.Values) (queryproto.Run, error) {
		op, ok := h.ops[action]
		if version := form.Get("Version"); !ok || form.Has("Version") && version != APIVersion {
			return nil, warden.Errorf(warden.CodeInvalidAction, "Could not find operation %s for version %s", action, cmp.Or(version, APIVersion))
		}
		return func(in protocol.Input) (any, error) {
			return op(&call{ctx: warden.WithActor(r.Context(), accessKeyID), op: h.svc.Model.Operations[action], in: in,
				account: scope.Account, now: h.now().UTC()})
		}, nil
	})
}

// foreignCodes translates the API server's early errors (body limits,
// malformed input) into IAM's codes.
var foreignCodes = map[warden.Code]warden.Code{
	warden.CodeRequestEntityTooLarge:    warden.CodeQueryRequestEntityTooLarge,
	warden.CodeInvalidRequest:           warden.CodeIAMInvalidInput,
	queryproto.CodeMalformedQueryString: warden.CodeIAMInvalidInput,
}

// WriteError sends err in IAM's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	return string(h.svc.Write(w, requestID, err))
}
