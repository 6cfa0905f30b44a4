// Package protocol holds what the three wire protocols Warden serves (IoT's
// restJson1, SNS's and IAM's query protocol) share: page tokens and the
// parsing of scalar members sent as strings.
package protocol
