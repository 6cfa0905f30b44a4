package broker_test

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// isNotAuthorized3 reports whether a paho 3.1.1 connect error is CONNACK
// return code 5.
func isNotAuthorized3(err error) bool {
	return strings.Contains(err.Error(), "not Authorized") || strings.Contains(err.Error(), "not authorized")
}

// apiCode is the AWS error code of an SDK error, "" if none.
func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
