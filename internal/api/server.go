// Package api serves the AWS IoT restJson1 protocol: it authenticates every
// request with SigV4, routes it to the handler named after its AWS operation,
// and turns every error into the AWS error envelope.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
	"github.com/warden-iot/warden/internal/sigv4"
)

// MaxBodyBytes caps request bodies; AWS IoT's largest documents (policies,
// certificates) are far below it.
const MaxBodyBytes = 1 << 20

// Config is what a Server needs.
type Config struct {
	Store  warden.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SNS serves the requests signed for the "sns" service and the unsigned
	// URLs in SNS messages; nil answers them as any unknown service.
	SNS SNS
	// IAM serves the requests signed for the "iam" service; nil answers
	// them as any unknown service.
	IAM QueryService
	// Regions, when not empty, are the only credential-scope regions
	// accepted; otherwise any AWS-shaped region is.
	Regions []string
	// AcceptAnyCredentials accepts any access key without checking
	// signatures (see sigv4.Verifier.AcceptAny); for local testing only.
	AcceptAnyCredentials bool
	// Devices is the device endpoint (DescribeEndpoint, iot-data Publish);
	// nil when it is off.
	Devices Devices
}

// QueryService is a service on the same port that speaks AWS's query
// protocol (SNS, IAM): requests signed for it go to it, and errors found
// before that are written in its XML format. Its package implements it; the
// interface keeps api from importing it.
type QueryService interface {
	// ServeSigned answers a request whose signature, scoped to the service, was verified.
	ServeSigned(w http.ResponseWriter, r *http.Request, requestID, accessKeyID string, scope warden.Scope, body []byte) (operation, errCode string)
	// WriteError answers a request meant for the service with err in its format.
	WriteError(w http.ResponseWriter, requestID string, err error) (errCode string)
}

// SNS is the SNS-compatible endpoint, which also answers a few unsigned URLs.
type SNS interface {
	QueryService
	// ServePublic answers r if it is an unsigned SubscribeURL, UnsubscribeURL
	// or SigningCertURL request; ok is false for any other request.
	ServePublic(w http.ResponseWriter, r *http.Request, requestID string) (operation, errCode string, ok bool)
}

// Server is the HTTP handler of the whole API.
type Server struct {
	store    warden.Store
	log      *slog.Logger
	now      func() time.Time
	verifier *sigv4.Verifier
	tokens   *protocol.PageTokens
	iot      *http.ServeMux
	keys     *sigv4.KeyCache
	sns      SNS
	// query holds the query-protocol services by credential-scope service name.
	query map[string]QueryService
	// data serves the requests signed for "iotdata" (the device data plane).
	data    *http.ServeMux
	devices Devices
	// checkModel holds every answer to the operation's model: in tests, an
	// undeclared error code or an output member the model does not have
	// becomes an InternalFailureException naming it.
	checkModel bool
}

// New builds the handler stack over cfg.Store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{store: cfg.Store, log: cfg.Logger, now: cfg.Now, sns: cfg.SNS, query: map[string]QueryService{},
		checkModel: testing.Testing()}
	if cfg.SNS != nil {
		s.query["sns"] = cfg.SNS
	}
	if cfg.IAM != nil {
		s.query["iam"] = cfg.IAM
	}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	tokens, err := protocol.LoadPageTokens(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	s.tokens = tokens
	s.keys = sigv4.NewKeyCache(cfg.Store.AccessKey)
	s.verifier = &sigv4.Verifier{Lookup: s.keys.Lookup, Now: s.now, AcceptAny: cfg.AcceptAnyCredentials}
	if len(cfg.Regions) > 0 {
		s.verifier.Regions = cfg.Regions
	}
	s.iot = http.NewServeMux()
	protocol.Route(s.iot, awsmodel.Load(awsmodel.IoTModel), s, s.op, unknownOperation)
	s.devices = cfg.Devices
	s.data = http.NewServeMux()
	protocol.Route(s.data, awsmodel.Load(awsmodel.IoTDataModel), s, s.op, unknownOperation)
	return s, nil
}

// call is one authenticated request on its way through a handler.
type call struct {
	ctx   context.Context
	r     *http.Request
	body  []byte
	scope warden.Scope
	// op is the model's operation; input its members as sent, validated
	// against the model.
	op     *awsmodel.Operation
	input  protocol.Input
	tokens *protocol.PageTokens
}

// handler serves one AWS operation. It returns the response shape, which is
// sent as JSON, or an error, which is sent as the AWS error envelope.
type handler = func(c *call) (any, error)

type ctxKey int

const infoKey ctxKey = 0

// requestInfo travels with the request so the log line can name the
// operation the router chose and the account the signature proved.
type requestInfo struct {
	id        string
	operation string
	op        *awsmodel.Operation
	account   string
	body      []byte
	scope     warden.Scope
	errCode   string
}

// ServeHTTP authenticates the request and hands it to the operation's handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestInfo{id: warden.NewUUID()}
	w.Header().Set("x-amzn-RequestId", info.id)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "request_id", info.id, "panic", p)
			s.writeError(rec, info, errors.New("panic"))
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", info.id),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("operation", info.operation),
			slog.String("account", info.account), slog.Int("status", rec.status), slog.String("error", info.errCode),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	}()
	if s.sns != nil {
		if op, code, ok := s.sns.ServePublic(rec, r, info.id); ok {
			info.operation, info.errCode = op, code
			return
		}
	}
	fail := s.writeError
	if qs, ok := s.query[sigv4.ScopeService(r.Header.Get("Authorization"))]; ok {
		fail = func(w http.ResponseWriter, info *requestInfo, err error) {
			info.errCode = qs.WriteError(w, info.id, err)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(rec, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(rec, info, warden.Errorf(warden.CodeRequestEntityTooLarge,
				"Request body is larger than the limit of %d bytes.", MaxBodyBytes))
			return
		}
		fail(rec, info, warden.Errorf(warden.CodeInvalidRequest, "Could not read the request body."))
		return
	}
	cred, err := s.verifier.Verify(r.Context(), r, body)
	if err != nil {
		var sigErr *sigv4.Error
		if errors.As(err, &sigErr) {
			err = &warden.Error{Code: sigErr.Code, Message: sigErr.Message}
		}
		fail(rec, info, err)
		return
	}
	info.account = cred.Account
	info.body = body
	info.scope = warden.Scope{Account: cred.Account, Region: cred.Region}
	if qs, ok := s.query[cred.Service]; ok {
		info.operation, info.errCode = qs.ServeSigned(rec, r, info.id, cred.AccessKeyID, info.scope, body)
		return
	}
	mux, what := s.iot, "AWS IoT"
	switch cred.Service {
	case "iot", "execute-api":
	case "iotdata":
		mux, what = s.data, "AWS IoT data-plane"
	default:
		s.writeError(rec, info, warden.Errorf(warden.CodeInvalidSignature,
			"Credential should be scoped to correct service: 'iot'. "))
		return
	}
	if !protocol.Routable(r) {
		s.writeError(rec, info, warden.Errorf(warden.CodeUnknownOperation,
			"No %s operation matches %s %s.", what, r.Method, r.URL.EscapedPath()))
		return
	}
	mux.ServeHTTP(rec, r.WithContext(warden.WithActor(context.WithValue(r.Context(), infoKey, info), cred.AccessKeyID)))
}

// op adapts the handler of op (nil for an unknown path) to the mux: it
// names the operation for the log line, reads and validates the input as
// the model declares it, and writes the result.
func (s *Server) op(op *awsmodel.Operation, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := r.Context().Value(infoKey).(*requestInfo)
		c := &call{ctx: r.Context(), r: r, body: info.body, scope: info.scope, op: op, tokens: s.tokens}
		var out any
		var err error
		if op != nil {
			info.operation, info.op = op.Name, op
			c.input, err = protocol.ReadRESTJSON(op, r, info.body)
		}
		if err == nil {
			out, err = h(c)
		}
		if out == nil {
			out = struct{}{}
		}
		var buf []byte
		if err == nil {
			buf, err = json.Marshal(out)
		}
		if s.checkModel && op != nil {
			err = protocol.HoldToModel(op, buf, err)
		}
		if err != nil {
			s.writeError(w, info, err)
			return
		}
		protocol.WriteJSON(w, buf)
	})
}

// writeError sends err as the restJson1 error envelope. Errors that are not
// *warden.Error are internal: logged with the request id, never shown.
func (s *Server) writeError(w http.ResponseWriter, info *requestInfo, err error) {
	var e *warden.Error
	if errors.Is(err, warden.ErrStorageFull) {
		s.log.Error("disk full: writes are failing; free space on the store's disk (reads still work)",
			"request_id", info.id, "operation", info.operation, "err", err.Error())
		e = warden.Errorf(warden.CodeServiceUnavailable, "Service is temporarily unavailable (request id %s).", info.id)
	} else if !errors.As(err, &e) {
		s.log.Error("internal error", "request_id", info.id, "operation", info.operation, "err", err.Error())
		e = warden.Errorf(warden.CodeInternalFailure, "An internal error occurred (request id %s).", info.id)
	}
	info.errCode = string(e.Code)
	protocol.WriteJSONError(w, info.op, e)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// unknownOperation answers any path or method that is no AWS IoT operation.
func unknownOperation(c *call) (any, error) {
	return nil, warden.Errorf(warden.CodeUnknownOperation, "No AWS IoT operation matches %s %s.", c.r.Method, c.r.URL.Path)
}
