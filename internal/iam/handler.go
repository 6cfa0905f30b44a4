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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
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
	log   *slog.Logger
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
	h := &Handler{store: cfg.Store, log: cfg.Logger, now: cfg.Now, mac: mac}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.ops = protocol.Handlers[operation](awsmodel.Load(awsmodel.IAMModel), h)
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
		return action, h.WriteError(w, requestID, warden.Errorf(warden.CodeIAMInvalidAction,
			"Could not find operation %s for version %s", action, version))
	}
	c := &call{ctx: warden.WithActor(r.Context(), accessKeyID), op: awsmodel.Load(awsmodel.IAMModel).Operations[action],
		account: scope.Account, now: h.now().UTC()}
	if c.in, err = protocol.ReadQuery(c.op, params, warden.CodeIAMValidationError); err != nil {
		return action, h.WriteError(w, requestID, err)
	}
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

// foreignCodes translates errors the API server raises before it hands a
// request over (signature checks, body limits) into the codes the query
// protocol's services answer with.
var foreignCodes = map[string]struct {
	code   string
	status int
}{
	warden.CodeRequestEntityTooLarge: {"RequestEntityTooLarge", http.StatusRequestEntityTooLarge},
	warden.CodeInvalidRequest:        {warden.CodeIAMInvalidInput, http.StatusBadRequest},
}

// WriteError sends err in IAM's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	var e *warden.Error
	if !errors.As(err, &e) {
		h.log.Error("internal error", "request_id", requestID, "err", err.Error())
		e = warden.Errorf(warden.CodeIAMServiceFailure, "An internal error occurred (request id %s).", requestID)
	}
	code, status := e.Code, e.HTTPStatus()
	if qc, qs, ok := queryproto.SignatureError(code); ok {
		code, status = qc, qs
	} else if f, ok := foreignCodes[code]; ok {
		code, status = f.code, f.status
	}
	queryproto.WriteError(w, Namespace, requestID, code, e.Message, status)
	return code
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
