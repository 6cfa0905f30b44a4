package broker

import (
	"context"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
)

// PublishData publishes a message that came over HTTP (the iot-data Publish
// operation) to scope s's devices; each delivery is judged by iot:Receive.
// The caller's SigV4 signature stands for the account, so no IoT policy
// applies to the publish itself.
func (b *Broker) PublishData(ctx context.Context, s warden.Scope, m warden.DataMessage) error {
	if !validTopic(m.Topic) || reservedForPublish(m.Topic) {
		return warden.Errorf(warden.CodeInvalidRequest, "The topic %q is not valid for publishing: at most %d bytes and %d slashes, no reserved $aws/events, $share or $SYS prefix.",
			m.Topic, warden.MaxTopicBytes, warden.MaxTopicSlashes)
	}
	if len(m.Payload) > MaxPacketBytes {
		return warden.Errorf(warden.CodeInvalidRequest, "The payload is larger than %d bytes.", MaxPacketBytes)
	}
	ss, err := b.scopeServer(s)
	if err != nil {
		return warden.Errorf(warden.CodeServiceUnavailable, "The device endpoint is shutting down.")
	}
	inline, ok := ss.srv.Clients.Get(mqtt.InlineClientId)
	if !ok {
		return warden.Errorf(warden.CodeInternalFailure, "The device endpoint has no publisher.")
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     m.Payload,
		PacketID:    uint16(m.QoS),
		Properties: packets.Properties{
			ContentType:     m.ContentType,
			ResponseTopic:   m.ResponseTopic,
			CorrelationData: m.CorrelationData,
		},
	}
	if m.PayloadFormatSet {
		pk.Properties.PayloadFormatFlag = true
		if m.PayloadFormatUTF8 {
			pk.Properties.PayloadFormat = 1
		}
	}
	if m.MessageExpiry > 0 {
		pk.Properties.MessageExpiryInterval = m.MessageExpiry
	}
	for _, p := range m.UserProperties {
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: p[0], Val: p[1]})
	}
	if err := ss.srv.InjectPacket(inline, pk); err != nil {
		return err
	}
	b.emit(warden.DataPlaneEvent{Scope: s, Type: warden.EventPublishIn, Status: warden.StatusSuccess,
		SessionID: newSessionID(), SourceIP: m.SourceIP, SourcePort: m.SourcePort, Protocol: "HTTP",
		Topic: m.Topic, QoS: m.QoS, Retain: m.Retain, PayloadBytes: len(m.Payload), At: time.Now()})
	return nil
}
