// Package iam serves an IAM-compatible subset on Warden's port: roles and
// their inline policies, in IAM's query protocol (form-encoded POSTs to "/"
// with Action=...&Version=2010-05-08, XML answers, IAM's XML errors). The
// mitigation engine checks the roles of mitigation actions against them.
//
// IAM is global: roles belong to the account of the signing key, whatever
// region the request was signed for.
package iam

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/warden-iot/warden"
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
	store  warden.Store
	log    *slog.Logger
	now    func() time.Time
	pages  *protocol.PageTokens // seals Markers
	errors *queryproto.Errors
	ops    map[string]operation
}

// operation serves one IAM action and returns its result shape (nil for
// actions without one), which is sent inside <ActionResult>.
type operation func(c *call) (any, error)

// call is one request on its way through an operation.
type call struct {
	ctx     context.Context
	params  url.Values
	account string
	now     time.Time
}

// NewHandler loads (creating on first use) the key that seals Markers.
func NewHandler(ctx context.Context, cfg Config) (*Handler, error) {
	pages, err := protocol.LoadPageTokens(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	h := &Handler{store: cfg.Store, log: cfg.Logger, now: cfg.Now, pages: pages}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h.errors = &queryproto.Errors{Namespace: Namespace, Internal: warden.CodeIAMServiceFailure, Foreign: foreignCodes, Log: h.log}
	if h.now == nil {
		h.now = time.Now
	}
	h.ops = map[string]operation{
		"CreateRole":       h.createRole,
		"GetRole":          h.getRole,
		"DeleteRole":       h.deleteRole,
		"ListRoles":        h.listRoles,
		"PutRolePolicy":    h.putRolePolicy,
		"GetRolePolicy":    h.getRolePolicy,
		"DeleteRolePolicy": h.deleteRolePolicy,
		"ListRolePolicies": h.listRolePolicies,
	}
	return h, nil
}

// ServeSigned answers a request whose SigV4 signature, scoped to "iam", the
// caller has verified; body is the request body it read. It returns the
// action and the error code (if any) for the caller's log line.
func (h *Handler) ServeSigned(w http.ResponseWriter, r *http.Request, requestID, accessKeyID string, scope warden.Scope, body []byte) (operation, errCode string) {
	params, err := requestParams(r, body)
	if err != nil {
		return "", h.WriteError(w, requestID, err)
	}
	action := params.Get("Action")
	op, ok := h.ops[action]
	if version := params.Get("Version"); !ok || params.Has("Version") && version != APIVersion {
		if version == "" {
			version = APIVersion
		}
		return action, h.WriteError(w, requestID, warden.Errorf(warden.CodeInvalidAction,
			"Could not find operation %s for version %s", action, version))
	}
	c := &call{ctx: warden.WithActor(r.Context(), accessKeyID), params: params, account: scope.Account, now: h.now().UTC()}
	out, err := op(c)
	if err != nil {
		return action, h.WriteError(w, requestID, err)
	}
	h.writeResult(w, requestID, action, out)
	return action, ""
}

// requestParams merges the form body and the query string: the query
// protocol sends a form POST, and accepts the same parameters in a GET.
func requestParams(r *http.Request, body []byte) (url.Values, error) {
	params := r.URL.Query()
	if len(body) == 0 {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, warden.Errorf(warden.CodeIAMInvalidInput, "The query protocol takes application/x-www-form-urlencoded bodies, not %s.", ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, warden.Errorf(warden.CodeIAMInvalidInput, "The request body is not a valid form-encoded string.")
	}
	for k, v := range form {
		params[k] = append(params[k], v...)
	}
	return params, nil
}

// writeResult sends the action's result in the query protocol's envelope.
func (h *Handler) writeResult(w http.ResponseWriter, requestID, action string, out any) {
	body, err := queryproto.EncodeResult(Namespace, requestID, action, out)
	if err != nil {
		h.WriteError(w, requestID, err)
		return
	}
	queryproto.WriteXML(w, http.StatusOK, body)
}

// foreignCodes translates the API server's early errors (body limits,
// malformed input) into IAM's codes.
var foreignCodes = map[warden.Code]warden.Code{
	warden.CodeRequestEntityTooLarge: warden.CodeQueryRequestEntityTooLarge,
	warden.CodeInvalidRequest:        warden.CodeIAMInvalidInput,
}

// WriteError sends err in IAM's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	return string(h.errors.Write(w, requestID, err))
}
