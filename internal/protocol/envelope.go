package protocol

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// Epoch is a timestamp on the restJson1 wire: epoch seconds as a JSON
// number, with milliseconds as the fraction, as AWS sends them.
type Epoch time.Time

// MarshalJSON writes the epoch seconds.
func (t Epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds.
func (t *Epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return errors.New("a timestamp must be a JSON number of epoch seconds")
	}
	*t = Epoch(fromEpochSeconds(f))
	return nil
}

// WriteJSON sends out, the operation's answer, as JSON.
func WriteJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

type errorBody struct {
	Message     string `json:"message"`
	Type        string `json:"__type"`
	ResourceID  string `json:"resourceId,omitempty"`
	ResourceArn string `json:"resourceArn,omitempty"`
}

// WriteJSONError sends e as the restJson1 error envelope, with the status
// op's model gives the error shape (iot-data's ThrottlingException is 429
// where IoT's is 400), or the error table's when op is nil or lacks it.
func WriteJSONError(w http.ResponseWriter, op *awsmodel.Operation, e *warden.Error) {
	status := e.HTTPStatus()
	if op != nil {
		for _, shape := range op.Errors {
			if shape.Code == string(e.Code) {
				status = shape.Status
			}
		}
	}
	buf, _ := json.Marshal(errorBody{Message: e.Message, Type: string(e.Code), ResourceID: e.ResourceID, ResourceArn: e.ResourceArn})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-ErrorType", string(e.Code))
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

// Routable reports whether http.ServeMux will hand r to a handler. For a
// path that is not clean ("/a/../b", "//a", "") it answers with a redirect
// instead, which an SDK follows with a signature that no longer matches, and
// for the request target "*" with a bare 400; neither is an AWS answer.
func Routable(r *http.Request) bool {
	if r.RequestURI == "*" || r.Method == http.MethodConnect {
		return false
	}
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}
