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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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
	mac   []byte // key that makes Markers unforgeable
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
	mac, err := cfg.Store.ServerSecret(ctx, "iam-marker-key", func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{store: cfg.Store, now: cfg.Now, mac: mac, svc: &queryproto.Service{
		Model: awsmodel.Load(awsmodel.IAMModel), Namespace: Namespace, Log: cfg.Logger,
		ValidationCode: warden.CodeIAMValidationError, InternalCode: warden.CodeIAMServiceFailure,
		// IAM's codes for the API's early errors (body limits, a body that is not a form).
		Codes: map[string]queryproto.Code{
			warden.CodeRequestEntityTooLarge:    {Code: "RequestEntityTooLarge", Status: http.StatusRequestEntityTooLarge},
			warden.CodeInvalidRequest:           {Code: warden.CodeIAMInvalidInput, Status: http.StatusBadRequest},
			queryproto.CodeMalformedQueryString: {Code: warden.CodeIAMInvalidInput, Status: http.StatusBadRequest},
		},
	}}
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
			return nil, warden.Errorf(warden.CodeIAMInvalidAction, "Could not find operation %s for version %s", action, cmp.Or(version, APIVersion))
		}
		return func(in protocol.Input) (any, error) {
			return op(&call{ctx: warden.WithActor(r.Context(), accessKeyID), op: h.svc.Model.Operations[action], in: in,
				account: scope.Account, now: h.now().UTC()})
		}, nil
	})
}

// WriteError sends err in IAM's XML error format and returns its code.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	return h.svc.WriteError(w, requestID, err)
}

// seal turns a store cursor into a Marker bound to the listing it came
// from (operation, account, and the role or path prefix listed), so a client
// can neither forge one nor use it on another listing.
func (h *Handler) seal(cursor, op, account, listing string) string {
	if cursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursor)) + "." +
		base64.RawURLEncoding.EncodeToString(h.sum(op, account, listing, cursor))
}

// open returns the cursor of a Marker that seal made for the same listing.
func (h *Handler) open(marker, op, account, listing string) (string, error) {
	c, m, ok := strings.Cut(marker, ".")
	cursor, err1 := base64.RawURLEncoding.DecodeString(c)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, h.sum(op, account, listing, string(cursor))) {
		return "", warden.Errorf(warden.CodeIAMValidationError, "Invalid Marker: it does not come from a previous %s response for this listing.", op)
	}
	return string(cursor), nil
}

func (h *Handler) sum(parts ...string) []byte {
	mac := hmac.New(sha256.New, h.mac)
	for _, p := range parts {
		mac.Write([]byte(p))
		mac.Write([]byte{0})
	}
	return mac.Sum(nil)[:16]
}
