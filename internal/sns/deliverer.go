package sns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/outbound"
)

// DeliveryOptions tune the deliverer; zero values take the defaults.
type DeliveryOptions struct {
	// Client sends the requests (the process's one outbound client, with
	// its address policy); nil means one with the default policy.
	Client *outbound.Client
	// Timeout bounds one delivery attempt (default 5 s).
	Timeout time.Duration
	// Owner names this deliverer in the leases it takes (default
	// host-pid-random).
	Owner string
	// Lease is how long a claimed delivery stays this deliverer's before
	// any other may take it (default 30 s; it must exceed Timeout).
	Lease time.Duration
	// Batch is the most deliveries claimed at once (default 256).
	Batch int
	// MaxInFlight bounds the requests in flight (default 512).
	MaxInFlight int
	// PerSubscription bounds the requests in flight to one subscription,
	// across every deliverer on the database (default 32), so that a slow
	// subscriber takes at most that many of the MaxInFlight slots (it
	// takes 16 stuck subscribers to fill the default 512).
	PerSubscription int
	// Poll is how often the loop looks for due deliveries when nothing
	// woke it (default 1 s): retries that come due, rows another process
	// or the mitigation engine wrote.
	Poll time.Duration
	// Jitter turns a retry delay into the actual wait; nil means a uniform
	// draw from [d/2, d] ("equal jitter").
	Jitter func(d time.Duration) time.Duration
}

// Deliverer sends the outbox: it claims due deliveries with a lease, POSTs
// each to its subscriber with SNS's envelope, headers and signature, and
// records the outcome. A delivery is retried along its delivery policy with
// the same MessageId until it is delivered or the policy is exhausted; then
// it is kept as failed. Everything it needs is in the database, so what was
// not delivered before a restart is delivered after it.
//
// Start runs the loop in the background until Stop; tests drive RunOnce
// instead, with an injected clock.
type Deliverer struct {
	store warden.Store
	log   *slog.Logger
	keys  *keys
	opt   DeliveryOptions
	wake  chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	policies sync.Map // DeliveryPolicy document → warden.DeliveryPolicy
	sigs     sigCache
}

// sigCache remembers the signatures of recent notifications. A
// notification's signed fields are the same for every subscriber (and every
// retry), and an RSA signature costs about a millisecond of CPU, so a
// message fanned out to n subscribers is signed once, not n times.
type sigCache struct {
	mu   sync.Mutex
	m    map[string]*sigEntry
	ring [4096]string // keys in insertion order, to evict the oldest
	next int
}

type sigEntry struct {
	once sync.Once
	sig  string
	err  error
}

func (c *sigCache) get(key string, sign func() (string, error)) (string, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*sigEntry{}
	}
	e, ok := c.m[key]
	if !ok {
		e = &sigEntry{}
		if old := c.ring[c.next]; old != "" {
			delete(c.m, old)
		}
		c.ring[c.next] = key
		c.next = (c.next + 1) % len(c.ring)
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.sig, e.err = sign() })
	return e.sig, e.err
}

// NewDeliverer makes a deliverer over cfg.Store; it does nothing until Start
// or RunOnce.
func NewDeliverer(ctx context.Context, cfg Config, opt DeliveryOptions) (*Deliverer, error) {
	k, err := loadKeys(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
	}
	if opt.Lease <= opt.Timeout {
		return nil, fmt.Errorf("sns deliverer: lease %s must exceed the timeout %s", opt.Lease, opt.Timeout)
	}
	if opt.Batch <= 0 {
		opt.Batch = 256
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 512
	}
	if opt.PerSubscription <= 0 {
		opt.PerSubscription = 32
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Jitter == nil {
		opt.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return d/2 + mrand.N(d/2+1)
		}
	}
	if opt.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		opt.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if opt.Client == nil {
		opt.Client = outbound.New(outbound.Options{HeaderTimeout: opt.Timeout, MaxIdleConnsPerHost: opt.PerSubscription * 4})
	}
	d := &Deliverer{store: cfg.Store, log: cfg.Logger, keys: k, opt: opt, wake: make(chan struct{}, 1)}
	if d.log == nil {
		d.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return d, nil
}

// Notify wakes the loop to look for new deliveries now. It never blocks.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the delivery loop in the background until Stop.
func (d *Deliverer) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		d.loop(ctx)
	}()
}

// Stop stops claiming, lets the requests in flight finish (each is bounded
// by Timeout), records their outcomes and returns. What is still due is
// sent by the next deliverer to run.
func (d *Deliverer) Stop() {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.cancel = nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// RunOnce claims what is due now (up to Batch), delivers it concurrently,
// records the outcomes and returns how many deliveries it handled.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	rows, err := d.store.ClaimSNSDeliveries(ctx, d.opt.Owner, d.keys.now(), d.opt.Lease, d.opt.PerSubscription, d.opt.Batch)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	outcomes := make([]warden.SNSOutcome, len(rows))
	var wg sync.WaitGroup
	for i, row := range rows {
		wg.Go(func() { outcomes[i] = d.deliver(ctx, row) })
	}
	wg.Wait()
	return len(rows), d.store.FinishSNSDeliveries(context.WithoutCancel(ctx), outcomes, d.keys.now())
}

// flushLinger is how long the loop waits for more outcomes before recording
// them.
const flushLinger = 2 * time.Millisecond

// loop is the background deliverer: it keeps up to MaxInFlight requests
// going, records outcomes as they come in, and sleeps until Notify, an
// outcome or the poll interval when nothing is due.
func (d *Deliverer) loop(ctx context.Context) {
	results := make(chan warden.SNSOutcome, d.opt.MaxInFlight)
	// Requests in flight finish even when ctx is cancelled: Stop waits for
	// them, each bounded by the timeout.
	reqCtx := context.WithoutCancel(ctx)
	inflight := 0
	var outcomes []warden.SNSOutcome
	timer := time.NewTimer(d.opt.Poll)
	defer timer.Stop()
	flush := func() {
		if len(outcomes) == 0 {
			return
		}
		if err := d.store.FinishSNSDeliveries(reqCtx, outcomes, d.keys.now()); err != nil {
			// The leases expire and the deliveries are tried again:
			// at least once, never lost.
			d.log.Error("sns: record delivery outcomes", "err", err.Error(), "count", len(outcomes))
		}
		outcomes = outcomes[:0]
	}
	for {
		more := false
		if ctx.Err() == nil && inflight < d.opt.MaxInFlight {
			limit := min(d.opt.Batch, d.opt.MaxInFlight-inflight)
			rows, err := d.store.ClaimSNSDeliveries(ctx, d.opt.Owner, d.keys.now(), d.opt.Lease, d.opt.PerSubscription, limit)
			if err != nil && ctx.Err() == nil {
				d.log.Error("sns: claim deliveries", "err", err.Error())
			}
			for _, row := range rows {
				inflight++
				go func() { results <- d.deliver(reqCtx, row) }()
			}
			more = len(rows) == limit
		}
		if ctx.Err() != nil && inflight == 0 {
			flush()
			return
		}
		if more && inflight < d.opt.MaxInFlight {
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d.opt.Poll)
		done := ctx.Done()
		if ctx.Err() != nil {
			done = nil
		}
		select {
		case <-done:
		case <-d.wake:
		case <-timer.C:
		case o := <-results:
			inflight--
			outcomes = append(outcomes, o)
			// Linger a moment for more outcomes, so that under load one
			// transaction records many and the next claim fills many slots;
			// a lone delivery is not delayed (it was sent already).
			linger := time.NewTimer(flushLinger)
		collect:
			for inflight > 0 && len(outcomes) < d.opt.Batch {
				select {
				case o := <-results:
					inflight--
					outcomes = append(outcomes, o)
				case <-linger.C:
					break collect
				}
			}
			linger.Stop()
			flush()
		}
	}
}

// topicPolicy is the topic's delivery policy, or Warden's default.
func topicPolicy(attrs map[string]string) warden.DeliveryPolicy {
	if doc := attrs["DeliveryPolicy"]; doc != "" {
		if p, reason := warden.ParseDeliveryPolicy(doc); reason == "" {
			return p
		}
	}
	return warden.DefaultDeliveryPolicy
}

// policy is the delivery policy of row: the subscription's unless the topic
// disables overrides, else the topic's, else the default.
func (d *Deliverer) policy(row *warden.SNSDelivery) warden.DeliveryPolicy {
	parse := func(doc string) (warden.DeliveryPolicy, bool) {
		if doc == "" {
			return warden.DeliveryPolicy{}, false
		}
		if p, ok := d.policies.Load(doc); ok {
			return p.(warden.DeliveryPolicy), true
		}
		p, reason := warden.ParseDeliveryPolicy(doc)
		if reason != "" {
			return p, false
		}
		d.policies.Store(doc, p)
		return p, true
	}
	p, ok := parse(row.TopicAttributes["DeliveryPolicy"])
	if !ok {
		p = warden.DefaultDeliveryPolicy
	}
	if !p.DisableSubscriptionOverrides {
		if sp, ok := parse(row.SubscriptionAttributes["DeliveryPolicy"]); ok {
			return sp
		}
	}
	return p
}

// deliver makes one attempt and says what became of it.
func (d *Deliverer) deliver(ctx context.Context, row warden.SNSDelivery) warden.SNSOutcome {
	out := warden.SNSOutcome{Seq: row.Seq, LeaseOwner: d.opt.Owner, Attempt: row.Attempt}
	policy := d.policy(&row)
	req, err := d.request(ctx, &row, &policy)
	if err != nil {
		out.Error = err.Error()
		d.log.Warn("sns: delivery dropped", "message_id", row.MessageID, "subscription", row.SubscriptionArn, "err", out.Error)
		return out // not retried: nothing would change
	}
	reqCtx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	// The body is read (up to 64 KiB) so that the connection can be reused.
	_, err = d.opt.Client.Do(req.WithContext(reqCtx), 64<<10, false)
	if err == nil {
		out.Delivered = true
		return out
	}
	// What is stored (and may be shown to the tenant) is the coarse class
	// of the failure; the address and OS error text go to the log only.
	detail := outbound.Detailed(err)
	retryable := true
	var oe *outbound.Error
	if errors.As(err, &oe) {
		switch {
		case oe.Kind == outbound.Refused:
			retryable = false
			err = fmt.Errorf("%w (not retried)", err)
		case oe.Kind == outbound.BadStatus && oe.Status >= 400 && oe.Status < 500 && oe.Status != http.StatusTooManyRequests:
			// As SNS: the subscriber refused the message; trying again
			// would not change its mind.
			retryable = false
			err = fmt.Errorf("%w (a 4xx answer is not retried)", err)
		}
	}
	out.Error = fmt.Sprintf("attempt %d: %v", row.Attempt, err)
	if retryable && row.Attempt < policy.MaxAttempts() {
		out.RetryAt = d.keys.now().Add(d.opt.Jitter(policy.Delay(row.Attempt)))
		d.log.Info("sns: delivery attempt failed", "message_id", row.MessageID, "subscription", row.SubscriptionArn,
			"attempt", row.Attempt, "retry_at", out.RetryAt, "err", out.Error, "detail", detail)
		return out
	}
	d.log.Warn("sns: delivery failed", "message_id", row.MessageID, "subscription", row.SubscriptionArn,
		"attempts", row.Attempt, "err", out.Error, "detail", detail)
	return out
}

// envelope is SNS's JSON message, members in SNS's order.
type envelope struct {
	Type              string                  `json:"Type"`
	MessageID         string                  `json:"MessageId"`
	Token             string                  `json:"Token,omitempty"`
	TopicArn          string                  `json:"TopicArn"`
	Subject           string                  `json:"Subject,omitempty"`
	Message           string                  `json:"Message"`
	SubscribeURL      string                  `json:"SubscribeURL,omitempty"`
	Timestamp         string                  `json:"Timestamp"`
	SignatureVersion  string                  `json:"SignatureVersion"`
	Signature         string                  `json:"Signature"`
	SigningCertURL    string                  `json:"SigningCertURL"`
	UnsubscribeURL    string                  `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]envelopeAttr `json:"MessageAttributes,omitempty"`
}

type envelopeAttr struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// request builds the POST for one delivery: the signed envelope (or the bare
// message for raw delivery) and SNS's x-amz-sns-* headers.
func (d *Deliverer) request(ctx context.Context, row *warden.SNSDelivery, policy *warden.DeliveryPolicy) (*http.Request, error) {
	topicArn := row.Scope.SNSARN(row.Topic)
	protocol, _, _ := strings.Cut(row.Endpoint, ":")
	env := envelope{Type: row.Kind, MessageID: row.MessageID, TopicArn: topicArn, Timestamp: timestamp(row.CreatedAt),
		SignatureVersion: "1", SigningCertURL: d.keys.signingCertURL()}
	if v := row.TopicAttributes["SignatureVersion"]; v != "" {
		env.SignatureVersion = v
	}
	raw := false
	switch row.Kind {
	case warden.SNSNotification:
		if row.Message == "" {
			return nil, errors.New("the message is no longer stored")
		}
		env.Subject, env.Message = row.Subject, row.Message
		if row.Structure == "json" {
			var bodies map[string]string
			if err := json.Unmarshal([]byte(row.Message), &bodies); err != nil {
				return nil, fmt.Errorf("stored JSON message: %w", err)
			}
			env.Message = bodies["default"]
			if m, ok := bodies[protocol]; ok {
				env.Message = m
			}
		}
		env.UnsubscribeURL = d.keys.unsubscribeURL(row.SubscriptionArn)
		for _, a := range row.MessageAttributes {
			if env.MessageAttributes == nil {
				env.MessageAttributes = map[string]envelopeAttr{}
			}
			v := a.StringValue
			if a.BinaryValue != nil {
				v = base64.StdEncoding.EncodeToString(a.BinaryValue)
			}
			env.MessageAttributes[a.Name] = envelopeAttr{Type: a.DataType, Value: v}
		}
		raw = row.SubscriptionAttributes["RawMessageDelivery"] == "true"
	case warden.SNSSubscriptionConfirmation:
		env.Token = row.Token
		env.SubscribeURL = d.keys.subscribeURL(topicArn, row.Token)
		env.Message = "You have chosen to subscribe to the topic " + topicArn +
			".\nTo confirm the subscription, visit the SubscribeURL included in this message."
	case warden.SNSUnsubscribeConfirmation:
		env.Token = row.Token
		env.SubscribeURL = d.keys.subscribeURL(topicArn, row.Token)
		env.Message = "You have chosen to deactivate subscription " + row.SubscriptionArn +
			".\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
	default:
		return nil, fmt.Errorf("unknown message type %q", row.Kind)
	}
	sign := func() (string, error) {
		return d.keys.signer.sign(env.SignatureVersion, stringToSign(map[string]string{
			"Type": env.Type, "MessageId": env.MessageID, "Token": env.Token, "TopicArn": env.TopicArn,
			"Subject": env.Subject, "Message": env.Message, "SubscribeURL": env.SubscribeURL, "Timestamp": env.Timestamp,
		}))
	}
	var sig string
	var err error
	if row.Kind == warden.SNSNotification {
		// Everything signed is fixed by the message, the signature version
		// and (for MessageStructure json) the protocol.
		sig, err = d.sigs.get(row.MessageID+"\x00"+env.SignatureVersion+"\x00"+protocol, sign)
	} else {
		sig, err = sign()
	}
	if err != nil {
		return nil, err
	}
	env.Signature = sig
	var body []byte
	if raw {
		body = []byte(env.Message)
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(env); err != nil {
			return nil, err
		}
		body = bytes.TrimRight(buf.Bytes(), "\n")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, row.Endpoint, bytes.NewReader(body))
	if err != nil {
		// Not the URL parser's text: it quotes the endpoint, password included.
		return nil, errors.New("the endpoint is not a valid URL")
	}
	h := req.Header
	h.Set("Content-Type", policy.HeaderContentType)
	h.Set("User-Agent", "Amazon Simple Notification Service Agent")
	h.Set("x-amz-sns-message-type", row.Kind)
	h.Set("x-amz-sns-message-id", row.MessageID)
	h.Set("x-amz-sns-topic-arn", topicArn)
	if row.Kind != warden.SNSSubscriptionConfirmation {
		h.Set("x-amz-sns-subscription-arn", row.SubscriptionArn)
	}
	if raw {
		h.Set("x-amz-sns-rawdelivery", "true")
	}
	return req, nil
}
