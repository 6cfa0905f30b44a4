package sns

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// keys is what both the handler and the deliverer need: the signer, the
// key that makes UnsubscribeURLs and NextTokens unforgeable, and the public
// base URL that SubscribeURL, UnsubscribeURL and SigningCertURL start with.
type keys struct {
	signer    *signer
	mac       []byte
	publicURL string
	now       func() time.Time
}

func loadKeys(ctx context.Context, cfg Config) (*keys, error) {
	sg, err := loadSigner(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	mac, err := cfg.Store.ServerSecret(ctx, "sns-url-key", func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	})
	if err != nil {
		return nil, err
	}
	k := &keys{signer: sg, mac: mac, publicURL: strings.TrimRight(cfg.PublicURL, "/"), now: cfg.Now}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

func (k *keys) sum(parts ...string) []byte {
	h := hmac.New(sha256.New, k.mac)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// unsubscribeToken authenticates an UnsubscribeURL: only the subscriber,
// who was sent the URL, can unsubscribe without signing a request.
func (k *keys) unsubscribeToken(subscriptionArn string) string {
	return hex.EncodeToString(k.sum("unsubscribe", subscriptionArn))
}

func (k *keys) validUnsubscribeToken(subscriptionArn, token string) bool {
	return hmac.Equal([]byte(token), []byte(k.unsubscribeToken(subscriptionArn)))
}

// SigningCertURL is the address of the certificate that verifies messages.
func (k *keys) signingCertURL() string {
	return k.publicURL + "/SimpleNotificationService-" + k.signer.certID + ".pem"
}

func (k *keys) subscribeURL(topicArn, token string) string {
	return k.publicURL + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(topicArn) + "&Token=" + url.QueryEscape(token)
}

func (k *keys) unsubscribeURL(subscriptionArn string) string {
	return k.publicURL + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subscriptionArn) +
		"&Token=" + k.unsubscribeToken(subscriptionArn)
}

// seal turns a store cursor into a NextToken bound to the listing it came
// from, so a client can neither forge one nor use it on another listing.
func (k *keys) seal(cursor, op string, s warden.Scope, topic string) string {
	if cursor == "" {
		return ""
	}
	mac := k.sum("next", op, s.Account, s.Region, topic, cursor)[:16]
	return base64.RawURLEncoding.EncodeToString([]byte(cursor)) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

func (k *keys) open(token, op string, s warden.Scope, topic string) (string, error) {
	if token == "" {
		return "", nil
	}
	c, m, ok := strings.Cut(token, ".")
	cursor, err1 := base64.RawURLEncoding.DecodeString(c)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, k.sum("next", op, s.Account, s.Region, topic, string(cursor))[:16]) {
		return "", warden.SNSInvalidParameter("NextToken")
	}
	return string(cursor), nil
}

// newToken is a subscription confirmation token: 64 random bytes in hex,
// about as long as SNS's.
func newToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// timestamp formats t as SNS does in envelopes: ISO-8601, milliseconds, Z.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
