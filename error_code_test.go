package warden

import (
	"net/http"
	"testing"
)

// The statuses clients see, per code; a change here is a change on the wire.
func TestCodeStatus(t *testing.T) {
	for code, want := range map[Code]int{
		CodeResourceNotFound:           http.StatusNotFound,
		CodeLimitExceeded:              http.StatusGone,
		CodeCertificateState:           http.StatusNotAcceptable,
		CodeInvalidSignature:           http.StatusForbidden,
		CodeIncompleteSignature:        http.StatusBadRequest,
		CodeRequestEntityTooLarge:      http.StatusRequestEntityTooLarge,
		CodeQueryRequestEntityTooLarge: http.StatusRequestEntityTooLarge,
		CodeSNSTopicLimitExceeded:      http.StatusForbidden,
		CodeIAMLimitExceeded:           http.StatusConflict,
		CodeIAMServiceFailure:          http.StatusInternalServerError,
		"SomethingUnknown":             http.StatusBadRequest,
	} {
		if got := code.Status(); got != want {
			t.Errorf("%s.Status() = %d, want %d", code, got, want)
		}
	}
	for code, want := range map[Code]Code{
		CodeInvalidSignature:           CodeQuerySignatureDoesNotMatch,
		CodeUnrecognizedClient:         CodeQueryInvalidClientTokenID,
		CodeIncompleteSignature:        CodeQueryIncompleteSignature,
		CodeMissingAuthenticationToken: CodeQueryMissingAuthenticationToken,
		CodeInvalidRequest:             CodeInvalidRequest,
	} {
		if got := code.InQueryProtocol(); got != want {
			t.Errorf("%s.InQueryProtocol() = %s, want %s", code, got, want)
		}
		if code.Status() != want.Status() {
			t.Errorf("%s is sent with %d, its query-protocol name %s with %d", code, code.Status(), want, want.Status())
		}
	}
}
