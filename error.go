package warden

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is an AWS error code: the name of an error shape in the AWS model,
// which is what SDKs match on. Its HTTP status is in one table, codeTable.
// The Code* constants are untyped, so that tests may keep codes in string
// fields; Error.Code and Errorf take a Code.
type Code string

// Status is the HTTP status the error shape is sent with; 400 for a code
// not in the table.
func (c Code) Status() int {
	if info, ok := codeTable[c]; ok {
		return info.status
	}
	return http.StatusBadRequest
}

// InQueryProtocol is c as the query-protocol services (SNS, IAM) name it:
// their SigV4 failures have names of their own. Other codes are unchanged.
func (c Code) InQueryProtocol() Code {
	if q := codeTable[c].query; q != "" {
		return q
	}
	return c
}

// IoT's error codes (restJson1), and the SigV4 failures every service on
// Warden's port shares.
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
	// CodeMethodNotAllowed answers a method the health endpoints do not serve.
	CodeMethodNotAllowed = "MethodNotAllowedException"
)

// The query protocol's names of the SigV4 failures and of an oversized
// body, shared by SNS and IAM.
const (
	CodeQuerySignatureDoesNotMatch      = "SignatureDoesNotMatch"
	CodeQueryInvalidClientTokenID       = "InvalidClientTokenId"
	CodeQueryIncompleteSignature        = "IncompleteSignature"
	CodeQueryMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeQueryRequestEntityTooLarge      = "RequestEntityTooLarge"
	// CodeInvalidAction is an unknown Action (or Version) in SNS and IAM.
	CodeInvalidAction = "InvalidAction"
)

// Amazon SNS's error codes.
const (
	CodeSNSInvalidParameter          = "InvalidParameter"
	CodeSNSNotFound                  = "NotFound"
	CodeSNSAuthorizationError        = "AuthorizationError"
	CodeSNSInternalError             = "InternalError"
	CodeSNSTopicLimitExceeded        = "TopicLimitExceeded"
	CodeSNSSubscriptionLimitExceeded = "SubscriptionLimitExceeded"
)

// IAM's error codes.
const (
	CodeIAMNoSuchEntity            = "NoSuchEntity"
	CodeIAMEntityAlreadyExists     = "EntityAlreadyExists"
	CodeIAMMalformedPolicyDocument = "MalformedPolicyDocument"
	CodeIAMValidationError         = "ValidationError"
	CodeIAMLimitExceeded           = "LimitExceeded"
	CodeIAMDeleteConflict          = "DeleteConflict"
	CodeIAMInvalidInput            = "InvalidInput"
	CodeIAMServiceFailure          = "ServiceFailure"
)

// codeTable is every code's HTTP status, from the error shape in its
// service's model, and for the SigV4 failures the query protocol's name.
var codeTable = map[Code]struct {
	status int
	query  Code
}{
	CodeInvalidRequest:             {status: http.StatusBadRequest},
	CodeResourceNotFound:           {status: http.StatusNotFound},
	CodeResourceAlreadyExists:      {status: http.StatusConflict},
	CodeLimitExceeded:              {status: http.StatusGone},
	CodeThrottling:                 {status: http.StatusBadRequest},
	CodeInternalFailure:            {status: http.StatusInternalServerError},
	CodeServiceUnavailable:         {status: http.StatusServiceUnavailable},
	CodeUnauthorized:               {status: http.StatusUnauthorized},
	CodeVersionConflict:            {status: http.StatusConflict},
	CodeVersionsLimitExceeded:      {status: http.StatusConflict},
	CodeCertificateState:           {status: http.StatusNotAcceptable},
	CodeCertificateValidation:      {status: http.StatusBadRequest},
	CodeCertificateConflict:        {status: http.StatusConflict},
	CodeDeleteConflict:             {status: http.StatusConflict},
	CodeMalformedPolicy:            {status: http.StatusBadRequest},
	CodeNotConfigured:              {status: http.StatusNotFound},
	CodeRegistrationCodeInvalid:    {status: http.StatusBadRequest},
	CodeInvalidQuery:               {status: http.StatusBadRequest},
	CodeTaskAlreadyExists:          {status: http.StatusBadRequest},
	CodeUnknownOperation:           {status: http.StatusNotFound},
	CodeInvalidSignature:           {http.StatusForbidden, CodeQuerySignatureDoesNotMatch},
	CodeUnrecognizedClient:         {http.StatusForbidden, CodeQueryInvalidClientTokenID},
	CodeIncompleteSignature:        {http.StatusBadRequest, CodeQueryIncompleteSignature},
	CodeMissingAuthenticationToken: {http.StatusForbidden, CodeQueryMissingAuthenticationToken},
	CodeRequestEntityTooLarge:      {status: http.StatusRequestEntityTooLarge},
	CodeMethodNotAllowed:           {status: http.StatusMethodNotAllowed},

	CodeQuerySignatureDoesNotMatch:      {status: http.StatusForbidden},
	CodeQueryInvalidClientTokenID:       {status: http.StatusForbidden},
	CodeQueryIncompleteSignature:        {status: http.StatusBadRequest},
	CodeQueryMissingAuthenticationToken: {status: http.StatusForbidden},
	CodeQueryRequestEntityTooLarge:      {status: http.StatusRequestEntityTooLarge},
	CodeInvalidAction:                   {status: http.StatusBadRequest},

	CodeSNSInvalidParameter:          {status: http.StatusBadRequest},
	CodeSNSNotFound:                  {status: http.StatusNotFound},
	CodeSNSAuthorizationError:        {status: http.StatusForbidden},
	CodeSNSInternalError:             {status: http.StatusInternalServerError},
	CodeSNSTopicLimitExceeded:        {status: http.StatusForbidden},
	CodeSNSSubscriptionLimitExceeded: {status: http.StatusForbidden},

	CodeIAMNoSuchEntity:            {status: http.StatusNotFound},
	CodeIAMEntityAlreadyExists:     {status: http.StatusConflict},
	CodeIAMMalformedPolicyDocument: {status: http.StatusBadRequest},
	CodeIAMValidationError:         {status: http.StatusBadRequest},
	CodeIAMLimitExceeded:           {status: http.StatusConflict},
	CodeIAMDeleteConflict:          {status: http.StatusConflict},
	CodeIAMInvalidInput:            {status: http.StatusBadRequest},
	CodeIAMServiceFailure:          {status: http.StatusInternalServerError},
}

// Error is an AWS-style error: the code an SDK matches on and a message for
// people. Anything that is not an *Error becomes InternalFailureException.
type Error struct {
	Code    Code
	Message string
	// ResourceID and ResourceArn accompany ResourceAlreadyExistsException.
	ResourceID  string
	ResourceArn string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// HTTPStatus is the status code the error shape is sent with.
func (e *Error) HTTPStatus() int { return e.Code.Status() }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the AWS code of err, or InternalFailureException when err
// is not an *Error.
func ErrorCode(err error) Code {
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
