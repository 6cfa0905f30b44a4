package queryproto

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
)

// Service is what differs between the query-protocol services (SNS, IAM);
// the rest of serving them is Serve's.
type Service struct {
	Model *awsmodel.Service
	// ValidationCode is the code of a request the model refuses (IAM's
	// ValidationError, SNS's InvalidParameter).
	ValidationCode warden.Code
	Errors
}

// Run runs an action's handler on its input, read and validated against
// the model, and returns the result shape sent inside <ActionResult> (nil
// for actions without one).
type Run func(in protocol.Input) (any, error)

// Serve answers a request for the service. dispatch returns what runs the
// form's action, or the service's error for an action it does not serve.
// Serve returns the action and the error code (if any) for the log line.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, requestID string, body []byte,
	dispatch func(action string, form url.Values) (Run, error)) (action, errCode string) {
	fail := func(err error) string { return string(s.Write(w, requestID, err)) }
	form, err := readForm(r, body)
	if err != nil {
		return "", fail(err)
	}
	action = form.Get("Action")
	run, err := dispatch(action, form)
	if err != nil {
		return action, fail(err)
	}
	in, err := protocol.ReadQuery(s.Model.Operations[action], form, s.ValidationCode)
	if err != nil {
		return action, fail(err)
	}
	out, err := run(in)
	if err != nil && checkModel {
		err = s.holdToModel(s.Model.Operations[action], err)
	}
	if err != nil {
		return action, fail(err)
	}
	result, err := EncodeResult(s.Namespace, requestID, action, out)
	if err != nil {
		return action, fail(err)
	}
	WriteXML(w, http.StatusOK, result)
	return action, ""
}

// checkModel holds, in tests, every error a handler answers with to its
// operation's model.
var checkModel = testing.Testing()

// holdToModel returns err, or an internal error if its code is neither one
// of op's errors in the model nor one any action of the service may answer.
func (s *Service) holdToModel(op *awsmodel.Operation, err error) error {
	var e *warden.Error
	if errors.As(err, &e) && !op.HasError(string(e.Code)) && e.Code != s.ValidationCode && e.Code != s.Internal {
		return fmt.Errorf("model check: %s answered %s, which is not among its errors in the model (%s)", op.Name, e.Code, e.Message)
	}
	return err
}

// readForm merges the form body and the query string: the query protocol
// sends a form POST, and accepts the same parameters in a GET.
func readForm(r *http.Request, body []byte) (url.Values, error) {
	form := r.URL.Query()
	if len(body) == 0 {
		return form, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "The query protocol takes application/x-www-form-urlencoded bodies, not %s.", ct)
	}
	posted, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, warden.Errorf(CodeMalformedQueryString, "The request body is not a valid form-encoded string.")
	}
	for k, v := range posted {
		form[k] = append(form[k], v...)
	}
	return form, nil
}

// CodeMalformedQueryString is the code of a form body that does not parse.
const CodeMalformedQueryString warden.Code = "MalformedQueryString"
