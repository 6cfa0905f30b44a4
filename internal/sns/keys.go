package sns

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
)

// keys is what both the handler and the deliverer need: the signer, the
// key that makes UnsubscribeURLs unforgeable, and the public
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

// newToken is a subscription confirmation token: 64 random bytes in hex,
// about as long as SNS's.
func newToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// timestamp formats t as SNS does in envelopes: ISO-8601, milliseconds, Z.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
