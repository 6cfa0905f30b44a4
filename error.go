package warden

import (
	"errors"
	"fmt"
	"net/http"
)

// AWS error codes Warden answers with. Each is the error shape's name in the
// AWS model, which is what SDKs match on.
const (
	CodeInvalidRequest             = "InvalidRequestException"
	CodeResourceNotFound           = "ResourceNotFoundException"
	CodeResourceAlreadyExists      = "ResourceAlreadyExistsException"
	CodeLimitExceeded              = "LimitExceededException"
	CodeThrottling                 = "ThrottlingException"
	CodeInternalFailure            = "InternalFailureException"
	CodeServiceUnavailable         = "ServiceUnavailableException"
	CodeUnauthorized               = "UnauthorizedException"
	CodeVersionConflict            = "VersionConflictException"
	CodeVersionsLimitExceeded      = "VersionsLimitExceededException"
	CodeCertificateState           = "CertificateStateException"
	CodeCertificateValidation      = "CertificateValidationException"
	CodeCertificateConflict        = "CertificateConflictException"
	CodeDeleteConflict             = "DeleteConflictException"
	CodeMalformedPolicy            = "MalformedPolicyException"
	CodeNotConfigured              = "NotConfiguredException"
	CodeRegistrationCodeInvalid    = "RegistrationCodeValidationException"
	CodeInvalidQuery               = "InvalidQueryException"
	CodeTaskAlreadyExists          = "TaskAlreadyExistsException"
	CodeUnknownOperation           = "UnknownOperationException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeRequestEntityTooLarge      = "RequestEntityTooLargeException"
)

// statusByCode is the HTTP status of each error shape, from the AWS model.
var statusByCode = map[string]int{
	CodeInvalidRequest:             http.StatusBadRequest,
	CodeResourceNotFound:           http.StatusNotFound,
	CodeResourceAlreadyExists:      http.StatusConflict,
	CodeLimitExceeded:              http.StatusGone,
	CodeThrottling:                 http.StatusBadRequest,
	CodeInternalFailure:            http.StatusInternalServerError,
	CodeServiceUnavailable:         http.StatusServiceUnavailable,
	CodeUnauthorized:               http.StatusUnauthorized,
	CodeVersionConflict:            http.StatusConflict,
	CodeVersionsLimitExceeded:      http.StatusConflict,
	CodeCertificateState:           http.StatusNotAcceptable,
	CodeCertificateValidation:      http.StatusBadRequest,
	CodeCertificateConflict:        http.StatusConflict,
	CodeDeleteConflict:             http.StatusConflict,
	CodeMalformedPolicy:            http.StatusBadRequest,
	CodeNotConfigured:              http.StatusNotFound,
	CodeRegistrationCodeInvalid:    http.StatusBadRequest,
	CodeInvalidQuery:               http.StatusBadRequest,
	CodeTaskAlreadyExists:          http.StatusBadRequest,
	CodeUnknownOperation:           http.StatusNotFound,
	CodeInvalidSignature:           http.StatusForbidden,
	CodeUnrecognizedClient:         http.StatusForbidden,
	CodeIncompleteSignature:        http.StatusBadRequest,
	CodeMissingAuthenticationToken: http.StatusForbidden,
	CodeRequestEntityTooLarge:      http.StatusRequestEntityTooLarge,
}

// Error is an AWS-style error: the code an SDK matches on and a message for
// people. Anything that is not an *Error becomes InternalFailureException.
type Error struct {
	Code    string
	Message string
	// ResourceID and ResourceArn accompany ResourceAlreadyExistsException.
	ResourceID  string
	ResourceArn string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus is the status code the error shape is sent with.
func (e *Error) HTTPStatus() int {
	if s, ok := statusByCode[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Errorf makes an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the AWS code of err, or InternalFailureException when err
// is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}

// NotFound is the ResourceNotFoundException for a resource of kind named name.
func NotFound(kind, name string) *Error {
	return Errorf(CodeResourceNotFound, "%s %s does not exist", kind, name)
}

// ErrStorageFull is returned (wrapped) by a Store write that failed because
// the disk or the database is full. Reads still work; the operator must free
// space. It is an internal failure, never a client's error.
var ErrStorageFull = errors.New("disk full: writes are failing")
