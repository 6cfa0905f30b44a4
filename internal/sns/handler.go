// Package sns serves an Amazon SNS-compatible endpoint on Warden's port: the
// query protocol (form-encoded POSTs with Action=..., XML answers and SNS's
// XML errors) for topics, HTTP(S) subscriptions and Publish, the unsigned
// URLs SNS puts in its messages (SubscribeURL, UnsubscribeURL,
// SigningCertURL), and the deliverer that sends the outbox the store keeps.
package sns

import (
	"context"
	"errors"
	"io"
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
	log    *slog.Logger
	keys   *keys
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

// NewHandler loads (creating on first use) the signing key and URL key.
func NewHandler(ctx context.Context, cfg Config) (*Handler, error) {
	k, err := loadKeys(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h := &Handler{store: cfg.Store, log: cfg.Logger, keys: k, notify: cfg.Notify}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if h.notify == nil {
		h.notify = func() {}
	}
	h.ops = protocol.Handlers[operation](awsmodel.Load(awsmodel.SNSModel), h)
	return h, nil
}

// SigningCertURL is where the certificate that verifies messages is served.
func (h *Handler) SigningCertURL() string { return h.keys.signingCertURL() }

// ServeSigned answers a request whose SigV4 signature, scoped to "sns", the
// caller has verified; body is the request body it read. It returns the
// action and the error code (if any) for the caller's log line.
func (h *Handler) ServeSigned(w http.ResponseWriter, r *http.Request, requestID, accessKeyID string, scope warden.Scope, body []byte) (operation, errCode string) {
	params, err := requestParams(r, body)
	if err != nil {
		return "", h.WriteError(w, requestID, err)
	}
	action := params.Get("Action")
	op, ok := h.ops[action]
	if !ok {
		return action, h.WriteError(w, requestID, warden.Errorf(warden.CodeSNSInvalidAction,
			"The action or operation requested is invalid. Verify that the action is typed correctly."))
	}
	c := &call{ctx: warden.WithActor(r.Context(), accessKeyID), op: awsmodel.Load(awsmodel.SNSModel).Operations[action],
		scope: scope, now: h.keys.now()}
	if c.in, err = protocol.ReadQuery(c.op, params, warden.CodeSNSInvalidParameter); err != nil {
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
		return nil, warden.SNSInvalidParameter("Content-Type Reason: The query protocol takes application/x-www-form-urlencoded bodies")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, warden.Errorf("MalformedQueryString", "The request body is not a valid form-encoded string.")
	}
	for k, v := range form {
		params[k] = append(params[k], v...)
	}
	return params, nil
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
	c := &call{op: awsmodel.Load(awsmodel.SNSModel).Operations[action], now: h.keys.now()}
	in, err := protocol.ReadQuery(c.op, q, warden.CodeSNSInvalidParameter)
	c.in = in
	var out any
	switch {
	case err != nil:
	case action == "ConfirmSubscription":
		c.ctx = warden.WithActor(r.Context(), "SubscribeURL")
		out, err = h.publicConfirm(c)
	default:
		c.ctx = warden.WithActor(r.Context(), "UnsubscribeURL")
		// The URL's Token is no member of Unsubscribe: Warden adds it.
		out, err = h.publicUnsubscribe(c, q.Get("Token"))
	}
	if err != nil {
		return action, h.WriteError(w, requestID, err), true
	}
	h.writeResult(w, requestID, action, out)
	return action, "", true
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

// authCodes translates the API's other early errors (body limits) into the codes the query
// protocol's services answer with.
var authCodes = map[string]struct {
	code   string
	status int
}{
	warden.CodeRequestEntityTooLarge: {warden.CodeSNSInvalidParameter, http.StatusBadRequest},
	warden.CodeInvalidRequest:        {warden.CodeSNSInvalidParameter, http.StatusBadRequest},
}

// WriteError sends err in SNS's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	var e *warden.Error
	if !errors.As(err, &e) {
		h.log.Error("internal error", "request_id", requestID, "err", err.Error())
		e = warden.Errorf(warden.CodeSNSInternalError, "An internal error occurred (request id %s).", requestID)
	}
	code, status := e.Code, e.HTTPStatus()
	if qc, qs, ok := queryproto.SignatureError(code); ok {
		code, status = qc, qs
	} else if a, ok := authCodes[code]; ok {
		code, status = a.code, a.status
	}
	queryproto.WriteError(w, Namespace, requestID, code, e.Message, status)
	return code
}

// get returns the string member name, "" when it was not sent.
func (c *call) get(name string) string {
	s, _ := c.in[name].(string)
	return s
}

// bind fills dst, a pointer to a struct, with the input's members.
func (c *call) bind(dst any) error { return protocol.BindQuery(c.op, c.in, dst) }

// topic resolves a TopicArn parameter to a topic name in the caller's
// scope. A topic of another account or region is NotFound.
func (c *call) topic(param string) (string, error) {
	scope, name, ok := warden.ParseTopicARN(c.get(param))
	if !ok {
		return "", warden.SNSInvalidParameter("%s", param)
	}
	if scope != c.scope {
		return "", warden.SNSTopicNotFound()
	}
	return name, nil
}
