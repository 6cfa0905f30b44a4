// Package sns serves an Amazon SNS-compatible endpoint on Warden's port: the
// query protocol (form-encoded POSTs with Action=..., XML answers and SNS's
// XML errors) for topics, HTTP(S) subscriptions and Publish, the unsigned
// URLs SNS puts in its messages (SubscribeURL, UnsubscribeURL,
// SigningCertURL), and the deliverer that sends the outbox the store keeps.
package sns

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
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
	tokens *protocol.PageTokens
	errors *queryproto.Errors
	notify func()
	ops    map[string]operation
}

// operation serves one SNS action and returns its result shape (nil for
// actions without one), which is sent inside <ActionResult>.
type operation func(c *call) (any, error)

// call is one request on its way through an operation.
type call struct {
	ctx    context.Context
	params url.Values
	scope  warden.Scope
	now    time.Time
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
	h := &Handler{store: cfg.Store, log: cfg.Logger, keys: k, tokens: tokens, notify: cfg.Notify}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h.errors = &queryproto.Errors{Namespace: Namespace, Internal: warden.CodeSNSInternalError, Foreign: foreignCodes, Log: h.log}
	if h.notify == nil {
		h.notify = func() {}
	}
	h.ops = map[string]operation{
		"CreateTopic":              h.createTopic,
		"DeleteTopic":              h.deleteTopic,
		"ListTopics":               h.listTopics,
		"GetTopicAttributes":       h.getTopicAttributes,
		"SetTopicAttributes":       h.setTopicAttributes,
		"Subscribe":                h.subscribe,
		"ConfirmSubscription":      h.confirmSubscription,
		"Unsubscribe":              h.unsubscribe,
		"ListSubscriptions":        h.listSubscriptions,
		"ListSubscriptionsByTopic": h.listSubscriptionsByTopic,
		"Publish":                  h.publish,
	}
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
		return action, h.WriteError(w, requestID, warden.Errorf(warden.CodeInvalidAction,
			"The action or operation requested is invalid. Verify that the action is typed correctly."))
	}
	c := &call{ctx: warden.WithActor(r.Context(), accessKeyID), params: params, scope: scope, now: h.keys.now()}
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
	c := &call{params: q, now: h.keys.now()}
	var out any
	var err error
	if action == "ConfirmSubscription" {
		c.ctx = warden.WithActor(r.Context(), "SubscribeURL")
		out, err = h.publicConfirm(c)
	} else {
		c.ctx = warden.WithActor(r.Context(), "UnsubscribeURL")
		out, err = h.publicUnsubscribe(c)
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

// foreignCodes translates the API server's early errors (body limits,
// malformed input) into SNS's codes.
var foreignCodes = map[warden.Code]warden.Code{
	warden.CodeRequestEntityTooLarge: warden.CodeSNSInvalidParameter,
	warden.CodeInvalidRequest:        warden.CodeSNSInvalidParameter,
}

// WriteError sends err in SNS's XML error format and returns its code.
// Errors that are not *warden.Error are internal: logged, never shown.
func (h *Handler) WriteError(w http.ResponseWriter, requestID string, err error) string {
	return string(h.errors.Write(w, requestID, err))
}

// Query-protocol parameter helpers.

func (c *call) get(name string) string { return c.params.Get(name) }

// boolParam reads a boolean parameter; absent is false.
func (c *call) boolParam(name string) (bool, error) {
	if !c.params.Has(name) {
		return false, nil
	}
	b, err := protocol.ParseBool(name, c.get(name))
	if err != nil {
		return false, warden.SNSInvalidParameter("%s", name)
	}
	return b, nil
}

// page reads NextToken for listing op (bound to binding, "" if nothing).
func (h *Handler) page(c *call, op, binding string) (warden.Page, error) {
	cursor, err := h.tokens.Open(op, c.scope, binding, c.get("NextToken"))
	if err != nil {
		return warden.Page{}, warden.SNSInvalidParameter("NextToken")
	}
	return warden.Page{After: cursor, Limit: pageSize}, nil
}

// mapParam reads a map serialised as Name.entry.N.key / Name.entry.N.value.
func (c *call) mapParam(name string) map[string]string {
	m := map[string]string{}
	for i := 1; ; i++ {
		prefix := name + ".entry." + strconv.Itoa(i) + "."
		if !c.params.Has(prefix + "key") {
			return m
		}
		m[c.params.Get(prefix+"key")] = c.params.Get(prefix + "value")
	}
}

// tagsParam reads Tags.member.N.Key / Tags.member.N.Value.
func (c *call) tagsParam() []warden.Tag {
	var tags []warden.Tag
	for i := 1; ; i++ {
		prefix := "Tags.member." + strconv.Itoa(i) + "."
		if !c.params.Has(prefix+"Key") && !c.params.Has(prefix+"Value") {
			return tags
		}
		tags = append(tags, warden.Tag{Key: c.params.Get(prefix + "Key"), Value: c.params.Get(prefix + "Value")})
	}
}

// messageAttributesParam reads MessageAttributes.entry.N.Name and
// .Value.DataType / .Value.StringValue / .Value.BinaryValue (base64).
func (c *call) messageAttributesParam() ([]warden.SNSMessageAttribute, error) {
	var attrs []warden.SNSMessageAttribute
	for i := 1; ; i++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		if !c.params.Has(prefix + "Name") {
			return attrs, nil
		}
		a := warden.SNSMessageAttribute{
			Name:        c.params.Get(prefix + "Name"),
			DataType:    c.params.Get(prefix + "Value.DataType"),
			StringValue: c.params.Get(prefix + "Value.StringValue"),
		}
		if b := c.params.Get(prefix + "Value.BinaryValue"); b != "" {
			v, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, warden.SNSInvalidParameter("MessageAttributes Reason: The BinaryValue of %s is not base64", a.Name)
			}
			a.BinaryValue = v
		}
		attrs = append(attrs, a)
	}
}

// topic resolves a TopicArn parameter to a topic name in the caller's
// scope. A topic of another account or region is NotFound.
func (c *call) topic(param string) (string, error) {
	arn := c.get(param)
	if arn == "" {
		return "", warden.SNSInvalidParameter("%s", param)
	}
	scope, name, ok := warden.ParseTopicARN(arn)
	if !ok {
		return "", warden.SNSInvalidParameter("%s", param)
	}
	if scope != c.scope {
		return "", warden.SNSTopicNotFound()
	}
	return name, nil
}

func required(c *call, names ...string) error {
	for _, n := range names {
		if c.get(n) == "" {
			return warden.SNSInvalidParameter("%s", n)
		}
	}
	return nil
}
