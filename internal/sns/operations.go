package sns

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-iot/warden"
)

// pageSize is how many topics or subscriptions a List action returns, as SNS.
const pageSize = 100

type entry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// attributeMap is the XML of a map: <entry><key/><value/></entry>... sorted
// by key.
type attributeMap struct {
	Entries []entry `xml:"entry"`
}

func newAttributeMap(m map[string]string) attributeMap {
	var a attributeMap
	for _, k := range slices.Sorted(maps.Keys(m)) {
		a.Entries = append(a.Entries, entry{Key: k, Value: m[k]})
	}
	return a
}

type topicArnResult struct {
	TopicArn string
}

type subscriptionArnResult struct {
	SubscriptionArn string
}

type messageIDResult struct {
	MessageID string `xml:"MessageId"`
}

type topicMember struct {
	TopicArn string
}

type listTopicsResult struct {
	Topics    []topicMember `xml:"Topics>member"`
	NextToken string        `xml:",omitempty"`
}

type subscriptionMember struct {
	SubscriptionArn string
	Owner           string
	Protocol        string
	Endpoint        string
	TopicArn        string
}

type listSubscriptionsResult struct {
	Subscriptions []subscriptionMember `xml:"Subscriptions>member"`
	NextToken     string               `xml:",omitempty"`
}

type attributesResult struct {
	Attributes attributeMap
}

// CreateTopic creates a topic, or answers the one of that name if it has the
// same attributes and tags.
func (h *Handler) CreateTopic(c *call) (any, error) {
	var in struct {
		Name       string
		Attributes map[string]string
		Tags       []warden.Tag
	}
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	// The model has no rule for topic names, attributes or duplicate tags: SNS's own.
	if err := warden.ValidateTopicName(in.Name); err != nil {
		return nil, err
	}
	attrs := in.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	if p := c.in.String("DataProtectionPolicy"); p != "" {
		attrs["DataProtectionPolicy"] = p
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if err := warden.ValidateTopicAttribute(k, attrs[k]); err != nil {
			return nil, err
		}
	}
	delete(attrs, "FifoTopic") // only "false" gets here
	if err := warden.ValidateSNSTags(in.Tags); err != nil {
		return nil, err
	}
	t, _, err := h.store.CreateTopic(c.ctx, c.scope, warden.Topic{Name: in.Name, Attributes: attrs, CreatedAt: c.now}, in.Tags)
	if err != nil {
		return nil, err
	}
	return topicArnResult{TopicArn: t.ARN(c.scope)}, nil
}

// DeleteTopic is idempotent, as in SNS: "Deleting a topic that doesn't
// exist doesn't result in an error."
func (h *Handler) DeleteTopic(c *call) (any, error) {
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	return nil, h.store.DeleteTopic(c.ctx, c.scope, name, c.now)
}

// ListTopics lists the caller's topics, 100 a page.
func (h *Handler) ListTopics(c *call) (any, error) {
	const op = "ListTopics"
	page, err := h.page(c, op, "")
	if err != nil {
		return nil, err
	}
	topics, next, err := h.store.Topics(c.ctx, c.scope, page)
	if err != nil {
		return nil, err
	}
	out := listTopicsResult{Topics: []topicMember{}, NextToken: h.tokens.Seal(op, c.scope, "", next)}
	for _, t := range topics {
		out.Topics = append(out.Topics, topicMember{TopicArn: t.ARN(c.scope)})
	}
	return out, nil
}

// defaultPolicy is the access policy SNS gives a new topic. Warden stores
// and shows policies but does not enforce them.
func defaultPolicy(s warden.Scope, arn string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2008-10-17",
		"Id":      "__default_policy_ID",
		"Statement": []any{map[string]any{
			"Sid":       "__default_statement_ID",
			"Effect":    "Allow",
			"Principal": map[string]string{"AWS": "*"},
			"Action": []string{"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
				"SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"},
			"Resource":  arn,
			"Condition": map[string]any{"StringEquals": map[string]string{"AWS:SourceOwner": s.Account}},
		}},
	})
	return string(b)
}

// effectiveDeliveryPolicy is the EffectiveDeliveryPolicy attribute: the
// topic's DeliveryPolicy or Warden's default, as SNS writes it.
func effectiveDeliveryPolicy(topicAttrs map[string]string) string {
	p := topicPolicy(topicAttrs)
	b, _ := json.Marshal(map[string]any{"http": map[string]any{
		"defaultHealthyRetryPolicy": map[string]any{
			"minDelayTarget": p.MinDelayTarget, "maxDelayTarget": p.MaxDelayTarget, "numRetries": p.NumRetries,
			"numMaxDelayRetries": p.NumMaxDelayRetries, "numNoDelayRetries": p.NumNoDelayRetries,
			"numMinDelayRetries": p.NumMinDelayRetries, "backoffFunction": p.BackoffFunction,
		},
		"disableSubscriptionOverrides": p.DisableSubscriptionOverrides,
		"defaultRequestPolicy":         map[string]string{"headerContentType": p.HeaderContentType},
	}})
	return string(b)
}

// GetTopicAttributes answers a topic's attributes, with those SNS computes.
func (h *Handler) GetTopicAttributes(c *call) (any, error) {
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	t, err := h.store.Topic(c.ctx, c.scope, name)
	if err != nil {
		return nil, err
	}
	arn := t.ARN(c.scope)
	attrs := maps.Clone(t.Attributes)
	attrs["TopicArn"] = arn
	attrs["Owner"] = c.scope.Account
	attrs["DisplayName"] = t.Attributes["DisplayName"]
	if attrs["Policy"] == "" {
		attrs["Policy"] = defaultPolicy(c.scope, arn)
	}
	attrs["SubscriptionsPending"] = strconv.Itoa(t.SubscriptionsPending)
	attrs["SubscriptionsConfirmed"] = strconv.Itoa(t.SubscriptionsConfirmed)
	attrs["SubscriptionsDeleted"] = strconv.Itoa(t.SubscriptionsDeleted)
	attrs["EffectiveDeliveryPolicy"] = effectiveDeliveryPolicy(t.Attributes)
	return attributesResult{Attributes: newAttributeMap(attrs)}, nil
}

// SetTopicAttributes sets (or, with an empty value, removes) one attribute.
func (h *Handler) SetTopicAttributes(c *call) (any, error) {
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	attr := c.in.String("AttributeName")
	value := c.in.String("AttributeValue")
	if err := warden.ValidateTopicAttribute(attr, value); err != nil {
		return nil, err
	}
	if attr == "FifoTopic" {
		return nil, warden.SNSInvalidParameter("AttributeName Reason: FifoTopic can only be set at CreateTopic")
	}
	return nil, h.store.SetTopicAttribute(c.ctx, c.scope, name, attr, value, c.now)
}

// Subscribe subscribes an HTTP(S) endpoint and sends it the confirmation.
func (h *Handler) Subscribe(c *call) (any, error) {
	var in struct {
		Protocol, Endpoint    string
		Attributes            map[string]string
		ReturnSubscriptionArn bool
	}
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		in.Attributes = map[string]string{}
	}
	// Protocols, endpoints and attribute names are SNS's rules, not the model's.
	if err := warden.ValidateSubscribe(in.Protocol, in.Endpoint, in.Attributes); err != nil {
		return nil, err
	}
	sub, err := h.store.Subscribe(c.ctx, c.scope, warden.Subscription{
		Arn: c.scope.SNSARN(name + ":" + warden.NewUUID()), Topic: name, Protocol: in.Protocol, Endpoint: in.Endpoint,
		Token: newToken(), Attributes: in.Attributes,
	}, c.now)
	if err != nil {
		return nil, err
	}
	h.notify()
	if in.ReturnSubscriptionArn || sub.Status == warden.SubscriptionConfirmed {
		return subscriptionArnResult{SubscriptionArn: sub.Arn}, nil
	}
	// What SNS's Subscribe answers for an unconfirmed subscription.
	return subscriptionArnResult{SubscriptionArn: "pending confirmation"}, nil
}

// ConfirmSubscription confirms a subscription with the token its
// confirmation carried.
func (h *Handler) ConfirmSubscription(c *call) (any, error) {
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	// A string in the model, which SNS reads as a boolean.
	var auth bool
	switch strings.ToLower(c.in.String("AuthenticateOnUnsubscribe")) {
	case "", "false":
	case "true":
		auth = true
	default:
		return nil, warden.SNSInvalidParameter("AuthenticateOnUnsubscribe")
	}
	sub, err := h.store.ConfirmSubscription(c.ctx, c.scope, name, c.in.String("Token"), auth, c.now)
	if err != nil {
		return nil, err
	}
	return subscriptionArnResult{SubscriptionArn: sub.Arn}, nil
}

// publicConfirm is the SubscribeURL: the token is the credential, and the
// topic ARN names the scope.
func (h *Handler) publicConfirm(c *call) (any, error) {
	scope, name, ok := warden.ParseTopicARN(c.in.String("TopicArn"))
	if !ok {
		return nil, warden.SNSInvalidParameter("TopicArn")
	}
	sub, err := h.store.ConfirmSubscription(c.ctx, scope, name, c.in.String("Token"), false, c.now)
	if err != nil {
		return nil, err
	}
	return subscriptionArnResult{SubscriptionArn: sub.Arn}, nil
}

// Unsubscribe deletes a subscription.
func (h *Handler) Unsubscribe(c *call) (any, error) {
	arn := c.in.String("SubscriptionArn")
	scope, _, _, ok := warden.ParseSubscriptionARN(arn)
	if !ok {
		return nil, warden.SNSInvalidParameter("SubscriptionArn")
	}
	if scope != c.scope {
		return nil, warden.SNSSubscriptionNotFound()
	}
	if err := h.store.Unsubscribe(c.ctx, c.scope, arn, newToken(), false, c.now); err != nil {
		return nil, err
	}
	h.notify()
	return nil, nil
}

// publicUnsubscribe is the UnsubscribeURL, authenticated by the HMAC token
// that only the message carrying the URL had.
func (h *Handler) publicUnsubscribe(c *call, token string) (any, error) {
	arn := c.in.String("SubscriptionArn")
	scope, _, _, ok := warden.ParseSubscriptionARN(arn)
	if !ok {
		return nil, warden.SNSInvalidParameter("SubscriptionArn")
	}
	if !h.keys.validUnsubscribeToken(arn, token) {
		return nil, warden.Errorf(warden.CodeSNSAuthorizationError, "The UnsubscribeURL's token is not valid for this subscription.")
	}
	if err := h.store.Unsubscribe(c.ctx, scope, arn, newToken(), true, c.now); err != nil {
		return nil, err
	}
	h.notify()
	return nil, nil
}

// ListSubscriptions lists the caller's subscriptions, 100 a page.
func (h *Handler) ListSubscriptions(c *call) (any, error) {
	return h.list(c, "ListSubscriptions", "")
}

// ListSubscriptionsByTopic lists a topic's subscriptions, 100 a page.
func (h *Handler) ListSubscriptionsByTopic(c *call) (any, error) {
	name, err := c.topic("TopicArn")
	if err != nil {
		return nil, err
	}
	return h.list(c, "ListSubscriptionsByTopic", name)
}

func (h *Handler) list(c *call, op, topic string) (any, error) {
	page, err := h.page(c, op, topic)
	if err != nil {
		return nil, err
	}
	subs, next, err := h.store.Subscriptions(c.ctx, c.scope, topic, page)
	if err != nil {
		return nil, err
	}
	out := listSubscriptionsResult{Subscriptions: []subscriptionMember{}, NextToken: h.tokens.Seal(op, c.scope, topic, next)}
	for _, s := range subs {
		out.Subscriptions = append(out.Subscriptions, subscriptionMember{
			SubscriptionArn: s.ListedArn(), Owner: s.Owner, Protocol: s.Protocol, Endpoint: warden.MaskEndpointPassword(s.Endpoint),
			TopicArn: c.scope.SNSARN(s.Topic),
		})
	}
	return out, nil
}

// Publish stores a message and queues its deliveries.
func (h *Handler) Publish(c *call) (any, error) {
	switch {
	case c.in.String("PhoneNumber") != "":
		return nil, warden.SNSInvalidParameter("PhoneNumber Reason: Warden does not send SMS")
	case c.in.String("MessageGroupId") != "" || c.in.String("MessageDeduplicationId") != "":
		return nil, warden.SNSInvalidParameter("MessageGroupId Reason: The request includes MessageGroupId or MessageDeduplicationId, which FIFO topics take, and Warden has none")
	case c.in.String("TopicArn") != "" && c.in.String("TargetArn") != "":
		return nil, warden.SNSInvalidParameter("TopicArn or TargetArn Reason: Only one of them may be given")
	case c.in.String("TopicArn") == "" && c.in.String("TargetArn") == "":
		return nil, warden.SNSInvalidParameter("TopicArn or TargetArn Reason: No value for required parameter")
	}
	param := "TopicArn"
	if c.in.String("TopicArn") == "" {
		param = "TargetArn" // a topic ARN given as TargetArn, which SNS accepts
	}
	arn := c.in.String(param)
	if _, _, ok := warden.ParseTopicARN(arn); !ok {
		return nil, warden.SNSInvalidParameter("%s", param)
	}
	attrs, err := c.messageAttributes()
	if err != nil {
		return nil, err
	}
	m := warden.SNSMessage{Subject: c.in.String("Subject"), Message: c.in.String("Message"), Structure: c.in.String("MessageStructure"), Attributes: attrs}
	if err := warden.ValidatePublish(&m); err != nil {
		return nil, err
	}
	if m.Topic, err = c.topic(param); err != nil {
		return nil, err
	}
	id, err := h.store.Publish(c.ctx, c.scope, m, c.now)
	if err != nil {
		return nil, err
	}
	h.notify()
	return messageIDResult{MessageID: id}, nil
}

// messageAttributes reads Publish's MessageAttributes, ordered by name.
func (c *call) messageAttributes() ([]warden.SNSMessageAttribute, error) {
	var in struct {
		MessageAttributes map[string]struct{ DataType, StringValue, BinaryValue string }
	}
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	var attrs []warden.SNSMessageAttribute
	for _, name := range slices.Sorted(maps.Keys(in.MessageAttributes)) {
		v := in.MessageAttributes[name]
		a := warden.SNSMessageAttribute{Name: name, DataType: v.DataType, StringValue: v.StringValue}
		if v.BinaryValue != "" {
			b, err := base64.StdEncoding.DecodeString(v.BinaryValue)
			if err != nil {
				return nil, warden.SNSInvalidParameter("MessageAttributes Reason: The BinaryValue of %s is not base64", name)
			}
			a.BinaryValue = b
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}
