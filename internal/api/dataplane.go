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
	var in struct {
		Topic                  string `json:"topic"`
		QoS                    byte   `json:"qos"`
		Retain                 bool   `json:"retain"`
		UserProperties         string `json:"userProperties"`
		PayloadFormatIndicator string `json:"payloadFormatIndicator"`
		ContentType            string `json:"contentType"`
		ResponseTopic          string `json:"responseTopic"`
		CorrelationData        string `json:"correlationData"`
		MessageExpiry          *int64 `json:"messageExpiry"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	m := warden.DataMessage{Topic: in.Topic, Payload: c.body, QoS: in.QoS, Retain: in.Retain,
		ContentType: in.ContentType, ResponseTopic: in.ResponseTopic}
	if in.MessageExpiry != nil {
		if *in.MessageExpiry < 0 {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "messageExpiry must be a number of seconds.")
		}
		m.MessageExpiry = uint32(min(*in.MessageExpiry, 7*24*3600))
	}
	if in.UserProperties != "" {
		raw, err := base64.StdEncoding.DecodeString(in.UserProperties)
		if err != nil {
			raw = []byte(in.UserProperties) // a client that did not encode it
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
	m.PayloadFormatSet = in.PayloadFormatIndicator != ""
	m.PayloadFormatUTF8 = in.PayloadFormatIndicator == "UTF8_DATA"
	if in.CorrelationData != "" {
		b, err := base64.StdEncoding.DecodeString(in.CorrelationData)
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
