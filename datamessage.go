package warden

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
