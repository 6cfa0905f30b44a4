// Package queryproto holds what the AWS query-protocol services on Warden's
// port (SNS, IAM) share: their XML result and error envelopes.
package queryproto

import (
	"bytes"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/warden-iot/warden"
)

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// EncodeResult returns <ActionResponse xmlns="namespace"><ActionResult>out
// </ActionResult><ResponseMetadata>…</ResponseMetadata></ActionResponse>;
// a nil out leaves the Result element out, as for actions without one.
func EncodeResult(namespace, requestID, action string, out any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}}
	err := enc.EncodeToken(start)
	if err == nil && out != nil {
		err = enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(responseMetadata{RequestID: requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(start.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	return buf.Bytes(), err
}

// WriteXML sends an XML body with the given status.
func WriteXML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ErrorResponse is the query protocol's error envelope.
type ErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// Errors is how a query-protocol service answers errors.
type Errors struct {
	Namespace string // the service's XML namespace
	// Internal is the code of an error that is not a *warden.Error.
	Internal warden.Code
	// Foreign translates the codes the API server raises before it hands a
	// request over (body limits, malformed input) into the service's own;
	// SigV4 failures are translated by warden.Code.InQueryProtocol.
	Foreign map[warden.Code]warden.Code
	Log     *slog.Logger
}

// Write sends err in the query protocol's error envelope and returns the
// code sent. An error that is not a *warden.Error is logged, never shown.
func (q *Errors) Write(w http.ResponseWriter, requestID string, err error) warden.Code {
	var e *warden.Error
	if !errors.As(err, &e) {
		q.Log.Error("internal error", "request_id", requestID, "err", err.Error())
		e = warden.Errorf(q.Internal, "An internal error occurred (request id %s).", requestID)
	}
	code := e.Code.InQueryProtocol()
	if f, ok := q.Foreign[code]; ok {
		code = f
	}
	writeError(w, q.Namespace, requestID, code, e.Message)
	return code
}

// writeError sends the error envelope with the code's status: Type is
// Receiver for server faults (status 5xx), Sender otherwise.
func writeError(w http.ResponseWriter, namespace, requestID string, code warden.Code, message string) {
	status := code.Status()
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	body, _ := xml.Marshal(ErrorResponse{Xmlns: namespace, Type: kind, Code: string(code), Message: message, RequestID: requestID})
	WriteXML(w, status, body)
}
