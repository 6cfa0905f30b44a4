package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strconv"

	"github.com/warden-iot/warden"
)

// Devices is the device endpoint as the API sees it: DescribeEndpoint
// names it and the iot-data Publish operation publishes through it.
type Devices interface {
	// EndpointAddress is the host (and ":port" when not 8883) devices
	// connect to.
	EndpointAddress() string
	// PublishData delivers m to scope s's subscribers allowed to receive it.
	PublishData(ctx context.Context, s warden.Scope, m warden.DataMessage) error
}

// endpointTypes are the DescribeEndpoint types AWS documents; Warden has
// one endpoint and answers it for each.
var endpointTypes = map[string]bool{
	"": true, "iot:Data": true, "iot:Data-ATS": true, "iot:CredentialProvider": true, "iot:Jobs": true,
	"iot:DeviceAdvisor": true, "iot:Data-Beta": true,
}

func (s *Server) DescribeEndpoint(c *call) (any, error) {
	t := c.r.URL.Query().Get("endpointType")
	v := &warden.Validator{}
	v.Length("endpointType", t, 0, 128)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !endpointTypes[t] {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Endpoint type %s is not valid.", t)
	}
	if s.devices == nil {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "The device endpoint is disabled on this server (--mqtt-listen off).")
	}
	return map[string]string{"endpointAddress": s.devices.EndpointAddress()}, nil
}

// Publish is the iot-data Publish operation (service "iotdata").
func (s *Server) Publish(c *call) (any, error) {
	if s.devices == nil {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "The device endpoint is disabled on this server (--mqtt-listen off).")
	}
	q := c.r.URL.Query()
	m := warden.DataMessage{Topic: c.r.PathValue("topic"), Payload: c.body,
		ContentType: q.Get("contentType"), ResponseTopic: q.Get("responseTopic")}
	if v := q.Get("qos"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1 {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "qos must be 0 or 1.")
		}
		m.QoS = byte(n)
	}
	switch q.Get("retain") {
	case "", "false":
	case "true":
		m.Retain = true
	default:
		return nil, warden.Errorf(warden.CodeInvalidRequest, "retain must be true or false.")
	}
	if v := q.Get("messageExpiry"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "messageExpiry must be a number of seconds.")
		}
		m.MessageExpiry = uint32(min(n, 7*24*3600))
	}
	h := c.r.Header
	if v := h.Get("x-amz-mqtt5-user-properties"); v != "" {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			raw = []byte(v) // a client that did not encode it
		}
		var props []map[string]string
		if err := json.Unmarshal(raw, &props); err != nil {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "userProperties must be a JSON array of objects with string values.")
		}
		for _, p := range props {
			for k, val := range p {
				m.UserProperties = append(m.UserProperties, [2]string{k, val})
			}
		}
	}
	switch v := h.Get("x-amz-mqtt5-payload-format-indicator"); v {
	case "":
	case "UNSPECIFIED_BYTES":
		m.PayloadFormatSet = true
	case "UTF8_DATA":
		m.PayloadFormatSet, m.PayloadFormatUTF8 = true, true
	default:
		return nil, warden.Errorf(warden.CodeInvalidRequest, "payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA.")
	}
	if v := h.Get("x-amz-mqtt5-correlation-data"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "correlationData must be base64.")
		}
		m.CorrelationData = b
	}
	if host, port, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
		m.SourceIP = host
		m.SourcePort, _ = strconv.Atoi(port)
	}
	if err := s.devices.PublishData(c.ctx, c.scope, m); err != nil {
		return nil, err
	}
	return nil, nil
}
