package warden

import (
	"encoding/base64"
	"encoding/json"
)

// DataMessage is a message published without MQTT (the iot-data Publish
// operation), with its MQTT 5 properties.
type DataMessage struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// UserProperties are name/value pairs in order (names may repeat).
	UserProperties [][2]string
	ContentType    string
	ResponseTopic  string
	// CorrelationData is the decoded x-amz-mqtt5-correlation-data header.
	CorrelationData []byte
	// PayloadFormatUTF8 is payloadFormatIndicator UTF8_DATA; PayloadFormatSet
	// says whether the indicator was given at all.
	PayloadFormatUTF8, PayloadFormatSet bool
	// MessageExpiry is in seconds; 0 means none.
	MessageExpiry uint32
	// SourceIP is the caller's address, for the data-plane events.
	SourceIP   string
	SourcePort int
}

// maxMessageExpiry caps a Publish's messageExpiry: seven days.
const maxMessageExpiry = 7 * 24 * 3600

// SetPublishProperties sets m's MQTT 5 properties from the iot-data
// Publish members as sent (each "" or nil when absent): messageExpiry in
// seconds, capped at seven days; userProperties a JSON array of objects
// with string values, base64 as AWS documents it or plain from a client
// that did not encode it; payloadFormatIndicator; correlationData in
// base64.
func (m *DataMessage) SetPublishProperties(messageExpiry *int64, userProperties, payloadFormat, correlationData string) error {
	if messageExpiry != nil {
		if *messageExpiry < 0 {
			return Errorf(CodeInvalidRequest, "messageExpiry must be a number of seconds.")
		}
		m.MessageExpiry = uint32(min(*messageExpiry, maxMessageExpiry))
	}
	if userProperties != "" {
		raw, err := base64.StdEncoding.DecodeString(userProperties)
		if err != nil {
			raw = []byte(userProperties) // a client that did not encode it
		}
		var props []map[string]string
		if err := json.Unmarshal(raw, &props); err != nil {
			return Errorf(CodeInvalidRequest, "userProperties must be a JSON array of objects with string values.")
		}
		for _, p := range props {
			for k, val := range p {
				m.UserProperties = append(m.UserProperties, [2]string{k, val})
			}
		}
	}
	m.PayloadFormatSet = payloadFormat != ""
	m.PayloadFormatUTF8 = payloadFormat == "UTF8_DATA"
	if correlationData != "" {
		b, err := base64.StdEncoding.DecodeString(correlationData)
		if err != nil {
			return Errorf(CodeInvalidRequest, "correlationData must be base64.")
		}
		m.CorrelationData = b
	}
	return nil
}
