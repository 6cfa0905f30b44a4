// Package queryproto holds what the AWS query-protocol services on Warden's
// port (SNS, IAM) share: their XML result and error envelopes.
package queryproto

import (
	"bytes"
	"encoding/xml"
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

// WriteError sends the error envelope: Type is Receiver for server faults
// (status 5xx), Sender otherwise.
func WriteError(w http.ResponseWriter, namespace, requestID, code, message string, status int) {
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	body, _ := xml.Marshal(ErrorResponse{Xmlns: namespace, Type: kind, Code: code, Message: message, RequestID: requestID})
	WriteXML(w, status, body)
}

// signatureCodes are the query protocol's names for Warden's SigV4 errors.
var signatureCodes = map[string]struct {
	code   string
	status int
}{
	warden.CodeInvalidSignature:           {"SignatureDoesNotMatch", http.StatusForbidden},
	warden.CodeUnrecognizedClient:         {"InvalidClientTokenId", http.StatusForbidden},
	warden.CodeIncompleteSignature:        {"IncompleteSignature", http.StatusBadRequest},
	warden.CodeMissingAuthenticationToken: {"MissingAuthenticationToken", http.StatusForbidden},
}

// SignatureError translates the code of a SigV4 failure into the query
// protocol's code and status; ok is false for any other code.
func SignatureError(code string) (queryCode string, status int, ok bool) {
	c, ok := signatureCodes[code]
	return c.code, c.status, ok
}
