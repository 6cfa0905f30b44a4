package api

import (
	"context"
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
	if err := m.SetPublishProperties(in.MessageExpiry, in.UserProperties, in.PayloadFormatIndicator, in.CorrelationData); err != nil {
		return nil, err
	}
	if host, port, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
		m.SourceIP = host
		m.SourcePort, _ = strconv.Atoi(port)
	}
	return nil, s.devices.PublishData(c.ctx, c.scope, m)
}
