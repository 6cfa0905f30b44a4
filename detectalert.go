package warden

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
)

// NewViolationID is a new violation ID: 32 random lowercase hex characters,
// as AWS's look.
func NewViolationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// DetectAlertMessage is the SNS message body of a violation event, in the
// shape of AWS's samples (detect.md §5): the behaviour as configured and the
// event time in epoch milliseconds, unlike the API's seconds.
func DetectAlertMessage(e *ViolationEvent) (string, error) {
	b, err := json.Marshal(struct {
		ViolationID         string       `json:"violationId"`
		ThingName           string       `json:"thingName"`
		SecurityProfileName string       `json:"securityProfileName"`
		Behavior            *Behavior    `json:"behavior"`
		ViolationEventType  string       `json:"violationEventType"`
		MetricValue         *MetricValue `json:"metricValue,omitempty"`
		ViolationEventTime  int64        `json:"violationEventTime"`
	}{e.ViolationID, e.ThingName, e.SecurityProfileName, &e.Behavior, e.Type, e.MetricValue, e.Time.UnixMilli()})
	return string(b), err
}
