package warden

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SNS quotas and constants. Where Warden's limit differs from AWS's it says so.
const (
	// MaxSNSMessageBytes is Publish's limit on the message plus its
	// attributes (256 KiB), as in SNS.
	MaxSNSMessageBytes = 256 * 1024
	// MaxSNSRecentMessages is how many of the last published messages each
	// topic keeps for `warden sns tail` and the dashboard.
	MaxSNSRecentMessages = 100
	// MaxSNSTopics is the per-account, per-region topic quota (SNS's default).
	MaxSNSTopics = 100000
	// MaxSNSSubscriptionsPerTopic bounds the fan-out a publish writes in its
	// transaction. SNS allows 12,500,000; every subscription here is an HTTP
	// endpoint Warden itself calls, so the bound is far lower.
	MaxSNSSubscriptionsPerTopic = 10000
	// MaxSNSMessageAttributes is Publish's limit on message attributes.
	MaxSNSMessageAttributes = 10
	// SNSTokenLifetime is how long a confirmation token can confirm a
	// subscription (SNS: three days).
	SNSTokenLifetime = 72 * time.Hour
	// SNSPendingConfirmation is what SNS shows instead of the ARN of a
	// subscription that is not confirmed yet.
	SNSPendingConfirmation = "PendingConfirmation"
)

// Subscription states.
const (
	SubscriptionPending   = "pending"
	SubscriptionConfirmed = "confirmed"
	// SubscriptionDeleted is an unsubscribed subscription that the token of
	// its UnsubscribeConfirmation can still restore.
	SubscriptionDeleted = "deleted"
)

// SNS message types, as in the envelope's Type and x-amz-sns-message-type.
const (
	SNSNotification             = "Notification"
	SNSSubscriptionConfirmation = "SubscriptionConfirmation"
	SNSUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Delivery states of an outbox row.
const (
	DeliveryPending = "pending"
	DeliveryFailed  = "failed"
)

// SNSInvalidParameter is SNS's InvalidParameter error, whose messages all
// read "Invalid parameter: <what>".
func SNSInvalidParameter(format string, args ...any) *Error {
	return Errorf(CodeSNSInvalidParameter, "Invalid parameter: "+format, args...)
}

// SNSTopicNotFound is the NotFound error for a topic. A topic of another
// account or region is reported the same way, so a caller learns nothing
// about topics it cannot see.
func SNSTopicNotFound() *Error { return Errorf(CodeSNSNotFound, "Topic does not exist") }

// SNSSubscriptionNotFound is the NotFound error for a subscription.
func SNSSubscriptionNotFound() *Error {
	return Errorf(CodeSNSNotFound, "Subscription does not exist")
}

// SNSARN returns the ARN of an SNS resource: a topic name, or
// "topic:subscription-id".
func (s Scope) SNSARN(resource string) string {
	return "arn:aws:sns:" + s.Region + ":" + s.Account + ":" + resource
}

// ParseTopicARN splits arn:aws:sns:region:account:name. ok is false when arn
// is not of that form or the name is not a valid topic name.
func ParseTopicARN(arn string) (scope Scope, name string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "sns" || parts[3] == "" || parts[4] == "" {
		return Scope{}, "", false
	}
	if validTopicName(parts[5]) != "" {
		return Scope{}, "", false
	}
	return Scope{Account: parts[4], Region: parts[3]}, parts[5], true
}

// ParseSubscriptionARN splits arn:aws:sns:region:account:topic:id.
func ParseSubscriptionARN(arn string) (scope Scope, topic, id string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "sns" || parts[3] == "" || parts[4] == "" ||
		parts[6] == "" || len(parts[6]) > 64 || validTopicName(parts[5]) != "" {
		return Scope{}, "", "", false
	}
	return Scope{Account: parts[4], Region: parts[3]}, parts[5], parts[6], true
}

// ValidateTopicName returns InvalidParameter unless name is 1-256 of
// [A-Za-z0-9_-]. FIFO topics (".fifo") are not supported: SNS delivers them
// only to SQS queues, and Warden delivers only to HTTP(S) endpoints.
func ValidateTopicName(name string) error {
	if reason := validTopicName(name); reason != "" {
		return SNSInvalidParameter("Topic Name")
	}
	return nil
}

func validTopicName(name string) string {
	if name == "" || len(name) > 256 {
		return "length"
	}
	for _, r := range name {
		if !IsNameChar(r) {
			return "chars"
		}
	}
	return ""
}

// Topic is an SNS topic.
type Topic struct {
	Name string
	// Attributes are the settable attributes the topic has been given
	// (DisplayName, Policy, DeliveryPolicy, SignatureVersion, ...).
	Attributes map[string]string
	CreatedAt  time.Time
	// Subscription counts, filled in by Store.Topic.
	SubscriptionsPending, SubscriptionsConfirmed, SubscriptionsDeleted int
}

// ARN is the topic's ARN in scope s.
func (t *Topic) ARN(s Scope) string { return s.SNSARN(t.Name) }

// topicAttributes lists the attributes SetTopicAttributes and CreateTopic
// accept, each with its check. Policies are stored and shown, not enforced:
// every key of an account may do everything in it.
var topicAttributes = map[string]func(value string) string{
	"DisplayName":          func(v string) string { return snsMaxLen(v, 100) },
	"Policy":               snsJSONObject(30720),
	"DeliveryPolicy":       func(v string) string { _, reason := ParseDeliveryPolicy(v); return reason },
	"SignatureVersion":     snsOneOf("1", "2"),
	"TracingConfig":        snsOneOf("PassThrough", "Active"),
	"KmsMasterKeyId":       func(v string) string { return snsMaxLen(v, 2048) },
	"FifoTopic":            snsOneOf("false"),
	"DataProtectionPolicy": snsJSONObject(30720),
}

func init() {
	for _, p := range []string{"Application", "Firehose", "HTTP", "Lambda", "SQS"} {
		topicAttributes[p+"SuccessFeedbackRoleArn"] = func(v string) string { return snsMaxLen(v, 2048) }
		topicAttributes[p+"FailureFeedbackRoleArn"] = func(v string) string { return snsMaxLen(v, 2048) }
		topicAttributes[p+"SuccessFeedbackSampleRate"] = func(v string) string {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 100 {
				return "must be an integer from 0 to 100"
			}
			return ""
		}
	}
}

func snsMaxLen(v string, n int) string {
	if utf8.RuneCountInString(v) > n {
		return fmt.Sprintf("must be at most %d characters long", n)
	}
	return ""
}

func snsOneOf(allowed ...string) func(string) string {
	return func(v string) string {
		for _, a := range allowed {
			if v == a {
				return ""
			}
		}
		return "must be one of " + strings.Join(allowed, ", ")
	}
}

func snsJSONObject(max int) func(string) string {
	return func(v string) string {
		if len(v) > max {
			return fmt.Sprintf("must be at most %d bytes long", max)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return "must be a JSON object"
		}
		return ""
	}
}

// ValidateTopicAttribute checks one topic attribute. An empty value removes
// the attribute and is always valid.
func ValidateTopicAttribute(name, value string) error {
	if (name == "FifoTopic" && value != "" && value != "false") || name == "ContentBasedDeduplication" ||
		name == "ArchivePolicy" || name == "FifoThroughputScope" {
		return SNSInvalidParameter("Attributes Reason: FIFO topics are not supported")
	}
	check, ok := topicAttributes[name]
	if !ok {
		return SNSInvalidParameter("AttributeName")
	}
	if value == "" {
		return nil
	}
	if reason := check(value); reason != "" {
		return SNSInvalidParameter("Attributes Reason: %s %s", name, reason)
	}
	return nil
}

// ValidateSNSTags checks what the model does not of CreateTopic's tags
// (whose lengths it bounds): at most 50, no duplicate keys.
func ValidateSNSTags(tags []Tag) error {
	if len(tags) > MaxTagsPerResource {
		return Errorf("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return SNSInvalidParameter("Tags Reason: Duplicated keys are not allowed")
		}
		seen[t.Key] = true
	}
	return nil
}

// Subscription is a subscription of an HTTP or HTTPS endpoint to a topic.
type Subscription struct {
	Arn      string
	Topic    string // the topic's name; the topic is in the subscription's scope
	Protocol string
	Endpoint string
	Owner    string // the subscribing account
	Status   string // SubscriptionPending, SubscriptionConfirmed or SubscriptionDeleted
	// Token confirms a pending subscription or restores a deleted one.
	Token        string
	TokenExpires time.Time
	// AuthenticateOnUnsubscribe makes the unsigned UnsubscribeURL refuse to
	// unsubscribe (ConfirmSubscription's AuthenticateOnUnsubscribe).
	AuthenticateOnUnsubscribe bool
	// Attributes are the subscription attributes given at Subscribe
	// (RawMessageDelivery, DeliveryPolicy).
	Attributes map[string]string
	CreatedAt  time.Time
}

// ListedArn is the SubscriptionArn SNS lists: the ARN once confirmed,
// "PendingConfirmation" before.
func (s *Subscription) ListedArn() string {
	if s.Status == SubscriptionConfirmed {
		return s.Arn
	}
	return SNSPendingConfirmation
}

// ValidateSubscribe checks Subscribe's protocol, endpoint and attributes.
// Only http and https are delivered.
func ValidateSubscribe(protocol, endpoint string, attrs map[string]string) error {
	switch protocol {
	case "http", "https":
	case "":
		return SNSInvalidParameter("Protocol")
	default:
		return SNSInvalidParameter("Protocol Reason: Warden delivers only to the http and https protocols, not %s", protocol)
	}
	u, err := url.Parse(endpoint)
	if endpoint == "" || len(endpoint) > 2048 || err != nil || u.Scheme != protocol || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return SNSInvalidParameter("Endpoint Reason: An endpoint must be an absolute %s:// URL", protocol)
	}
	for name, value := range attrs {
		switch name {
		case "RawMessageDelivery":
			if value != "true" && value != "false" {
				return SNSInvalidParameter("Attributes Reason: RawMessageDelivery must be true or false")
			}
		case "DeliveryPolicy":
			if _, reason := ParseDeliveryPolicy(value); reason != "" {
				return SNSInvalidParameter("Attributes Reason: DeliveryPolicy %s", reason)
			}
		default:
			return SNSInvalidParameter("Attributes Reason: Unsupported subscription attribute %s", name)
		}
	}
	return nil
}

// MaskEndpointPassword hides the password of an http(s) endpoint's
// basic-auth credentials as SNS shows them, https://user:****@host/path;
// everything else is returned unchanged. Lists and the change log show the
// masked form; deliveries use the stored endpoint.
func MaskEndpointPassword(endpoint string) string {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
		return endpoint
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return endpoint
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return endpoint
	}
	return scheme + "://" + user + ":****" + rest[at:]
}

// SNSMessage is a published message as the recent-messages ring keeps it.
type SNSMessage struct {
	ID        string
	Topic     string // the topic's name
	Subject   string
	Message   string
	Structure string // "" or "json"
	// Attributes are the message attributes, in the order given.
	Attributes  []SNSMessageAttribute
	PublishedAt time.Time
	// Fanout is how many confirmed subscriptions the message went to;
	// Pending and Failed how many of those deliveries are still being tried
	// and have failed. The rest were delivered.
	Seq                     int64
	Fanout, Pending, Failed int
}

// SNSMessageAttribute is one of Publish's MessageAttributes.
type SNSMessageAttribute struct {
	Name        string
	DataType    string
	StringValue string
	BinaryValue []byte
}

// ValidatePublish checks a message before it is stored: SNS's rules on the
// subject, the message, its size with its attributes, and MessageStructure.
func ValidatePublish(m *SNSMessage) error {
	if m.Subject != "" {
		// SNS: ASCII, starting with a letter, digit or punctuation, no line
		// breaks or control characters, under 100 characters.
		if len(m.Subject) >= 100 || m.Subject[0] == ' ' {
			return SNSInvalidParameter("Subject")
		}
		for i := 0; i < len(m.Subject); i++ {
			if c := m.Subject[i]; c < 0x20 || c > 0x7e {
				return SNSInvalidParameter("Subject")
			}
		}
	}
	if m.Message == "" {
		return SNSInvalidParameter("Empty message")
	}
	if !utf8.ValidString(m.Message) {
		return SNSInvalidParameter("Message Reason: Message must be UTF-8 encoded")
	}
	size := len(m.Message)
	if len(m.Attributes) > MaxSNSMessageAttributes {
		return SNSInvalidParameter("MessageAttributes Reason: At most %d message attributes are allowed", MaxSNSMessageAttributes)
	}
	seen := map[string]bool{}
	for _, a := range m.Attributes {
		if err := validateMessageAttribute(a); err != nil {
			return err
		}
		if seen[a.Name] {
			return SNSInvalidParameter("MessageAttributes Reason: Duplicated attribute name %s", a.Name)
		}
		seen[a.Name] = true
		size += len(a.Name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > MaxSNSMessageBytes {
		return SNSInvalidParameter("Message too long")
	}
	switch m.Structure {
	case "":
	case "json":
		var bodies map[string]any
		if err := json.Unmarshal([]byte(m.Message), &bodies); err != nil {
			return SNSInvalidParameter("Message Structure - JSON message body failed to parse")
		}
		if _, ok := bodies["default"]; !ok {
			return SNSInvalidParameter("Message Structure - No default entry in JSON message body")
		}
		for _, v := range bodies {
			if _, ok := v.(string); !ok {
				return SNSInvalidParameter("Message Structure - JSON message body values must be strings")
			}
		}
	default:
		return SNSInvalidParameter("MessageStructure")
	}
	return nil
}

func validateMessageAttribute(a SNSMessageAttribute) error {
	name := a.Name
	bad := name == "" || len(name) > 256 || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") ||
		strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.")
	for _, r := range name {
		if !IsNameChar(r) && r != '.' {
			bad = true
		}
	}
	if bad {
		return SNSInvalidParameter("MessageAttributes Reason: Invalid attribute name %q", name)
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	if a.DataType == "String.Array" {
		base = "String.Array"
	}
	switch base {
	case "String", "Number", "String.Array":
		if a.StringValue == "" {
			return SNSInvalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
		}
		if !utf8.ValidString(a.StringValue) {
			return SNSInvalidParameter("MessageAttributes Reason: The value of %s must be UTF-8 encoded", name)
		}
		if base == "Number" {
			if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
				return SNSInvalidParameter("Could not cast message attribute '%s' value to number.", name)
			}
		}
		if base == "String.Array" {
			var arr []any
			if err := json.Unmarshal([]byte(a.StringValue), &arr); err != nil {
				return SNSInvalidParameter("MessageAttributes Reason: The value of %s must be a JSON array", name)
			}
		}
	case "Binary":
		if len(a.BinaryValue) == 0 {
			return SNSInvalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
		}
	default:
		return SNSInvalidParameter("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
	}
	return nil
}

// SNSDelivery is one outbox row: one message on its way to one subscription.
// The deliverer builds the request from it; everything it needs is here.
type SNSDelivery struct {
	Seq             int64
	Scope           Scope
	Kind            string // SNSNotification, SNSSubscriptionConfirmation or SNSUnsubscribeConfirmation
	MessageID       string // the same on every attempt
	Topic           string
	SubscriptionArn string
	Endpoint        string
	Token           string // confirmations only
	Status          string // DeliveryPending or DeliveryFailed
	Attempt         int    // attempts started so far, this one included
	LeaseOwner      string
	NextAttempt     time.Time
	LastError       string
	// CreatedAt is the envelope's Timestamp: when the message was published
	// or the subscription (un)subscribed.
	CreatedAt time.Time
	// Of the message (notifications only).
	Subject           string
	Message           string
	Structure         string
	MessageAttributes []SNSMessageAttribute
	// Of the topic and subscription at claim time.
	TopicAttributes        map[string]string
	SubscriptionAttributes map[string]string
}

// SNSOutcome is what became of one claimed delivery. The store applies it
// only while the claim still holds (same lease owner and attempt).
type SNSOutcome struct {
	Seq        int64
	LeaseOwner string
	Attempt    int
	// Delivered removes the row. Otherwise, a zero RetryAt marks it failed
	// for good, and a non-zero one makes it due again then.
	Delivered bool
	RetryAt   time.Time
	Error     string
}

// SNSDeliveryFilter selects outbox rows.
type SNSDeliveryFilter struct {
	Scope  *Scope   // nil: every scope
	Topic  string   // "": every topic
	Status string   // "": every status
	Limit  int      // 0: all
	Kinds  []string // nil: every kind
}

// SNSStore persists SNS topics, subscriptions, published messages and the
// outbox of their deliveries. Topic and subscription mutations are recorded
// in the change log.
type SNSStore interface {
	// CreateTopic stores a topic with its attributes and tags. When a topic
	// of that name exists with the same attributes and tags it returns that
	// one and created=false; with different ones, InvalidParameter. Over
	// MaxSNSTopics, TopicLimitExceeded.
	CreateTopic(ctx context.Context, s Scope, t Topic, tags []Tag) (stored Topic, created bool, err error)
	// DeleteTopic removes a topic, its subscriptions, undelivered messages,
	// recent messages and tags. A missing topic is no error (as in SNS).
	DeleteTopic(ctx context.Context, s Scope, name string, now time.Time) error
	// Topic returns one topic with its subscription counts, or NotFound.
	Topic(ctx context.Context, s Scope, name string) (Topic, error)
	// Topics lists topics oldest first.
	Topics(ctx context.Context, s Scope, p Page) (topics []Topic, next string, err error)
	// SetTopicAttribute sets one attribute; an empty value removes it.
	SetTopicAttribute(ctx context.Context, s Scope, topic, name, value string, now time.Time) error

	// Subscribe subscribes sub.Endpoint to sub.Topic and, in the same
	// transaction, queues the SubscriptionConfirmation. An existing
	// confirmed subscription of the endpoint is returned unchanged; a
	// pending one is sent its confirmation again; a deleted one starts over
	// as sub. Over MaxSNSSubscriptionsPerTopic, SubscriptionLimitExceeded.
	Subscribe(ctx context.Context, s Scope, sub Subscription, now time.Time) (Subscription, error)
	// ConfirmSubscription confirms (or restores) the subscription of topic
	// whose token is token. A confirmed one stays confirmed.
	ConfirmSubscription(ctx context.Context, s Scope, topic, token string, authenticateOnUnsubscribe bool, now time.Time) (Subscription, error)
	// Unsubscribe deletes a subscription. A confirmed one is kept as deleted
	// with newToken, and an UnsubscribeConfirmation carrying it is queued;
	// its undelivered notifications are dropped. public is true for the
	// unsigned UnsubscribeURL, which a subscription confirmed with
	// AuthenticateOnUnsubscribe refuses (AuthorizationError).
	Unsubscribe(ctx context.Context, s Scope, arn, newToken string, public bool, now time.Time) error
	// Subscriptions lists subscriptions oldest first, of topic if not ""
	// (then NotFound if the topic does not exist). Deleted ones are left out.
	Subscriptions(ctx context.Context, s Scope, topic string, p Page) (subs []Subscription, next string, err error)

	// Publish stores m (its ID is generated) and one delivery per confirmed
	// subscription, in one transaction, and keeps it among the topic's
	// recent messages. NotFound when the topic does not exist.
	Publish(ctx context.Context, s Scope, m SNSMessage, now time.Time) (messageID string, err error)
	// RecentSNSMessages lists up to limit of the topic's last messages with
	// a sequence number above afterSeq, oldest first, with their delivery
	// counts. NotFound when the topic does not exist.
	RecentSNSMessages(ctx context.Context, s Scope, topic string, afterSeq int64, limit int) ([]SNSMessage, error)

	// ClaimSNSDeliveries leases up to limit due deliveries to owner until
	// now+lease, incrementing their attempt, with no subscription getting
	// more than perSubscription leased deliveries at a time (counting those
	// already leased by any owner).
	ClaimSNSDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, perSubscription, limit int) ([]SNSDelivery, error)
	// FinishSNSDeliveries applies outcomes in one transaction; those whose
	// claim no longer holds are ignored.
	FinishSNSDeliveries(ctx context.Context, outcomes []SNSOutcome, now time.Time) error
	// SNSDeliveries lists outbox rows, oldest first.
	SNSDeliveries(ctx context.Context, f SNSDeliveryFilter) ([]SNSDelivery, error)
	// SNSSigningKey returns the PEM key and certificate SNS messages are
	// signed with, storing generate()'s the first time; generate is called
	// only when none is stored yet.
	SNSSigningKey(ctx context.Context, generate func() ([]byte, error)) ([]byte, error)
}

// DeliveryPolicy is the part of an SNS HTTP delivery policy Warden applies:
// the healthy retry policy and the request's Content-Type.
type DeliveryPolicy struct {
	NumRetries         int
	NumNoDelayRetries  int
	NumMinDelayRetries int
	NumMaxDelayRetries int
	MinDelayTarget     int // seconds
	MaxDelayTarget     int // seconds
	BackoffFunction    string
	// HeaderContentType is the defaultRequestPolicy's headerContentType.
	HeaderContentType string
	// DisableSubscriptionOverrides makes the topic's policy win over a
	// subscription's.
	DisableSubscriptionOverrides bool
}

// DefaultDeliveryPolicy is Warden's HTTP/S delivery policy when neither topic
// nor subscription sets one: 1 attempt, 1 immediate retry, then 5 retries
// backing off exponentially from 1 s to 20 s (7 attempts over about 37 s,
// each delay jittered down by up to half). SNS's own default is 3 retries 20 s
// apart; a topic's DeliveryPolicy can ask for exactly that.
var DefaultDeliveryPolicy = DeliveryPolicy{
	NumRetries: 6, NumNoDelayRetries: 1, MinDelayTarget: 1, MaxDelayTarget: 20,
	BackoffFunction: "exponential", HeaderContentType: "text/plain; charset=UTF-8",
}

type deliveryPolicyJSON struct {
	HTTP *struct {
		DefaultHealthyRetryPolicy *healthyRetryPolicyJSON `json:"defaultHealthyRetryPolicy"`
		DefaultRequestPolicy      *struct {
			HeaderContentType string `json:"headerContentType"`
		} `json:"defaultRequestPolicy"`
		DisableSubscriptionOverrides bool `json:"disableSubscriptionOverrides"`
	} `json:"http"`
	// A subscription's policy has these at the top level.
	HealthyRetryPolicy *healthyRetryPolicyJSON `json:"healthyRetryPolicy"`
	RequestPolicy      *struct {
		HeaderContentType string `json:"headerContentType"`
	} `json:"requestPolicy"`
}

type healthyRetryPolicyJSON struct {
	MinDelayTarget     *int   `json:"minDelayTarget"`
	MaxDelayTarget     *int   `json:"maxDelayTarget"`
	NumRetries         *int   `json:"numRetries"`
	NumNoDelayRetries  *int   `json:"numNoDelayRetries"`
	NumMinDelayRetries *int   `json:"numMinDelayRetries"`
	NumMaxDelayRetries *int   `json:"numMaxDelayRetries"`
	BackoffFunction    string `json:"backoffFunction"`
}

// ParseDeliveryPolicy reads a topic's ({"http": {...}}) or a subscription's
// ({"healthyRetryPolicy": ...}) DeliveryPolicy. Members it omits take SNS's
// defaults (3 retries, 20 s apart, linear). reason is "" when it is valid.
func ParseDeliveryPolicy(doc string) (p DeliveryPolicy, reason string) {
	var j deliveryPolicyJSON
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&j); err != nil {
		return p, "must be a JSON object of the delivery policy"
	}
	p = DeliveryPolicy{NumRetries: 3, MinDelayTarget: 20, MaxDelayTarget: 20, BackoffFunction: "linear",
		HeaderContentType: DefaultDeliveryPolicy.HeaderContentType}
	retry, ctype := j.HealthyRetryPolicy, ""
	if j.RequestPolicy != nil {
		ctype = j.RequestPolicy.HeaderContentType
	}
	if j.HTTP != nil {
		retry = j.HTTP.DefaultHealthyRetryPolicy
		p.DisableSubscriptionOverrides = j.HTTP.DisableSubscriptionOverrides
		if j.HTTP.DefaultRequestPolicy != nil {
			ctype = j.HTTP.DefaultRequestPolicy.HeaderContentType
		}
	}
	if ctype != "" {
		switch strings.ToLower(strings.TrimSpace(strings.Split(ctype, ";")[0])) {
		case "text/plain", "application/json", "application/xml":
			p.HeaderContentType = ctype
		default:
			return p, "headerContentType must be text/plain, application/json or application/xml"
		}
	}
	if retry != nil {
		set := func(dst *int, src *int) {
			if src != nil {
				*dst = *src
			}
		}
		set(&p.MinDelayTarget, retry.MinDelayTarget)
		set(&p.MaxDelayTarget, retry.MaxDelayTarget)
		set(&p.NumRetries, retry.NumRetries)
		set(&p.NumNoDelayRetries, retry.NumNoDelayRetries)
		set(&p.NumMinDelayRetries, retry.NumMinDelayRetries)
		set(&p.NumMaxDelayRetries, retry.NumMaxDelayRetries)
		if retry.BackoffFunction != "" {
			p.BackoffFunction = retry.BackoffFunction
		}
	}
	switch {
	case p.NumRetries < 0 || p.NumRetries > 100:
		return p, "numRetries must be from 0 to 100"
	case p.NumNoDelayRetries < 0 || p.NumMinDelayRetries < 0 || p.NumMaxDelayRetries < 0:
		return p, "retry counts must not be negative"
	case p.NumNoDelayRetries+p.NumMinDelayRetries+p.NumMaxDelayRetries > p.NumRetries:
		return p, "numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries must not exceed numRetries"
	case p.MinDelayTarget < 1 || p.MaxDelayTarget < p.MinDelayTarget || p.MaxDelayTarget > 3600:
		return p, "delay targets must satisfy 1 <= minDelayTarget <= maxDelayTarget <= 3600"
	}
	switch p.BackoffFunction {
	case "linear", "arithmetic", "geometric", "exponential":
	default:
		return p, "backoffFunction must be linear, arithmetic, geometric or exponential"
	}
	total := 0 * time.Second
	for i := 1; i <= p.NumRetries; i++ {
		total += p.Delay(i)
	}
	if total > time.Hour {
		return p, "the total retry time must not exceed 3600 seconds"
	}
	return p, ""
}

// MaxAttempts is how many times a message is tried in all.
func (p *DeliveryPolicy) MaxAttempts() int { return 1 + p.NumRetries }

// Delay is the target wait before retry number retry (1-based), through the
// four phases of an SNS delivery policy: immediate, pre-backoff (minimum
// delay), backoff (from the minimum to the maximum delay along the backoff
// function) and post-backoff (maximum delay). Callers add jitter.
func (p *DeliveryPolicy) Delay(retry int) time.Duration {
	minD, maxD := time.Duration(p.MinDelayTarget)*time.Second, time.Duration(p.MaxDelayTarget)*time.Second
	backoff := p.NumRetries - p.NumNoDelayRetries - p.NumMinDelayRetries - p.NumMaxDelayRetries
	switch {
	case retry <= p.NumNoDelayRetries:
		return 0
	case retry <= p.NumNoDelayRetries+p.NumMinDelayRetries:
		return minD
	case retry > p.NumNoDelayRetries+p.NumMinDelayRetries+backoff:
		return maxD
	}
	i := retry - p.NumNoDelayRetries - p.NumMinDelayRetries // 1..backoff
	if backoff <= 1 {
		return minD
	}
	t := float64(i-1) / float64(backoff-1)
	span := float64(maxD - minD)
	var d float64
	switch p.BackoffFunction {
	case "arithmetic":
		d = float64(minD) + span*t*t
	case "geometric":
		d = float64(minD) + span*t*t*t
	case "exponential":
		d = float64(minD) * math.Pow(float64(maxD)/float64(minD), t)
	default: // linear
		d = float64(minD) + span*t
	}
	return time.Duration(d)
}
