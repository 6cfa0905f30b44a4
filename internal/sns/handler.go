// Package sns serves an Amazon SNS-compatible endpoint on Warden's port: the
// query protocol (form-encoded POSTs with Action=..., XML answers and SNS's
// XML errors) for topics, HTTP(S) subscriptions and Publish, the unsigned
// URLs SNS puts in its messages (SubscribeURL, UnsubscribeURL,
// SigningCertURL), and the deliverer that sends the outbox the store keeps.
package sns

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
	"github.com/warden-iot/warden/internal/queryproto"
)

// Namespace is the XML namespace of SNS's answers.
const Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// Config is what the handler and the deliverer need.
type Config struct {
	Store warden.Store
	// PublicURL is the base URL subscribers reach Warden at (no trailing
	// slash); SubscribeURL, UnsubscribeURL and SigningCertURL start with it.
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Notify is called after a request queued deliveries, to wake the
	// deliverer; nil leaves them to its polling.
	Notify func()
}

// Handler serves SNS's query protocol. It implements api.SNS: the API
// server verifies the signature and hands over requests scoped to "sns".
type Handler struct {
	store  warden.Store
	svc    *queryproto.Service
	keys   *keys
	tokens *protocol.PageTokens
	notify func()
	ops    map[string]operation
}

// operation serves one SNS action and returns its result shape (nil for
// actions without one), which is sent inside <ActionResult>. The handler of
// an action is the Handler method of the same name.
type operation = func(c *call) (any, error)

// call is one request on its way through an operation.
type call struct {
	ctx context.Context
	op  *awsmodel.Operation
	// in is the action's input, validated against the model.
	in    protocol.Input
	scope warden.Scope
	now   time.Time
}

// NewHandler loads (creating on first use) the signing key, the URL key and
// the page-token key.
func NewHandler(ctx context.Context, cfg Config) (*Handler, error) {
	k, err := loadKeys(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tokens, err := protocol.LoadPageTokens(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	h := &Handler{store: cfg.Store, keys: k, tokens: tokens, notify: cfg.Notify, svc: &queryproto.Service{
		Model: awsmodel.Load(awsmodel.SNSModel), ValidationCode: warden.CodeSNSInvalidParameter,
		Errors: queryproto.Errors{Namespace: Namespace, Internal: warden.CodeSNSInternalError, Foreign: foreignCodes, Log: cfg.Logger},
	}}
	if h.svc.Log == nil {
		h.svc.Log = slog.New(slog.DiscardHandler)
	}
	if h.notify == nil {
		h.notify = func() {}
	}
	h.ops = protocol.Handlers[operation](h.svc.Model, h)
	return h, nil
}

// SigningCertURL is where the certificate that verifies messages is served.
func (h *Handler) SigningCertURL() string { return h.keys.signingCertURL() }

// ServeSigned answers a request whose SigV4 signature, scoped to "sns", the
// caller has verified; body is the request body it read. It returns the
// action and the error code (if any) for the caller's log line.
func (h *Handler) ServeSigned(w http.ResponseWriter, r *http.Request, requestID, accessKeyID string, scope warden.Scope, body []byte) (operation, errCode string) {
	return h.svc.Serve(w, r, requestID, body, func(action string, _ url.Values) (queryproto.Run, error) {
		op, ok := h.ops[action]
		if !ok {
			return nil, warden.Errorf(warden.CodeInvalidAction,
				"The action or operation requested is invalid. Verify that the action is typed correctly.")
		}
		return func(in protocol.Input) (any, error) {
			return op(&call{ctx: warden.WithActor(r.Context(), accessKeyID), op: h.svc.Model.Operations[action], in: in,
				scope: scope, now: h.keys.now()})
		}, nil
	})
}

// ServePublic answers r if it is one of the unsigned requests SNS's
// messages point at: the SigningCertURL (GET /SimpleNotificationService-
// <id>.pem), the SubscribeURL (GET /?Action=ConfirmSubscription&TopicArn=
// ...&Token=...) and the UnsubscribeURL (GET /?Action=Unsubscribe&
// SubscriptionArn=...&Token=...). ok is false for any other request.
func (h *Handler) ServePublic(w http.ResponseWriter, r *http.Request, requestID string) (operation, errCode string, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", "", false
	}
	if name, isCert := strings.CutPrefix(r.URL.Path, "/SimpleNotificationService-"); isCert && strings.HasSuffix(name, ".pem") {
		if strings.TrimSuffix(name, ".pem") != h.keys.signer.certID {
			return "GetSigningCert", h.WriteError(w, requestID, warden.Errorf(warden.CodeSNSNotFound, "No such certificate")), true
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Header().Set("Content-Length", strconv.Itoa(len(h.keys.signer.certPEM)))
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(h.keys.signer.certPEM)
		return "GetSigningCert", "", true
	}
	q := r.URL.Query()
	action := q.Get("Action")
	if r.URL.Path != "/" || (action != "ConfirmSubscription" && action != "Unsubscribe") ||
		r.Header.Get("Authorization") != "" || q.Has("X-Amz-Signature") {
		return "", "", false
	}
	action, errCode = h.svc.Serve(w, r, requestID, nil, func(action string, form url.Values) (queryproto.Run, error) {
		c := &call{op: h.svc.Model.Operations[action], now: h.keys.now()}
		if action == "ConfirmSubscription" {
			c.ctx = warden.WithActor(r.Context(), "SubscribeURL")
			return func(in protocol.Input) (any, error) { c.in = in; return h.publicConfirm(c) }, nil
		}
		c.ctx = warden.WithActor(r.Context(), "UnsubscribeURL")
		// The URL's Token is no member of Unsubscribe: Warden adds it.
		return func(in protocol.Input) (any, error) { c.in = in; return h.publicUnsubscribe(c, form.Get("Token")) }, nil
	})
	return action, errCode, true
}

// foreignCodes translates the API server's early errors (body limits,
// malformed input) into SNS's codes.
var foreignCodes = map[warden.Code]warden.Code{
	warden.CodeRequestEntityTooLarge: warden.CodeSNSInvalidParameter,
	warden.CodeInvalidRequest:        warden.CodeSNSInvalidParameter,
}

// WriteError sends err in SNS's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	return string(h.svc.Write(w, requestID, err))
}

// bind fills dst, a pointer to a struct, with the input's members.
func (c *call) bind(dst any) error { return protocol.BindQuery(c.op, c.in, dst) }

// page reads NextToken for listing op (bound to binding, "" if nothing).
func (h *Handler) page(c *call, op, binding string) (warden.Page, error) {
	cursor, err := h.tokens.Open(op, c.scope, binding, c.in.String("NextToken"))
	if err != nil {
		return warden.Page{}, warden.SNSInvalidParameter("NextToken")
	}
	return warden.Page{After: cursor, Limit: pageSize}, nil
}

// topic resolves a TopicArn parameter to a topic name in the caller's
// scope. A topic of another account or region is NotFound.
func (c *call) topic(param string) (string, error) {
	scope, name, ok := warden.ParseTopicARN(c.in.String(param))
	if !ok {
		return "", warden.SNSInvalidParameter("%s", param)
	}
	if scope != c.scope {
		return "", warden.SNSTopicNotFound()
	}
	return name, nil
}
