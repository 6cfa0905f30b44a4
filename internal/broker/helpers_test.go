package broker_test

import (
	"strings"

	"github.com/warden-iot/warden/internal/wardentest"
)

// isNotAuthorized3 reports whether a paho 3.1.1 connect error is CONNACK
// return code 5.
func isNotAuthorized3(err error) bool {
	return strings.Contains(err.Error(), "not Authorized") || strings.Contains(err.Error(), "not authorized")
}

var apiCode = wardentest.ErrorCode
