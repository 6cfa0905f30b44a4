package protocol

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/warden-iot/warden"
)

// ErrInvalidToken is returned by Open for a token that PageTokens did not
// seal for the same listing. Each protocol answers it with its own code
// (InvalidRequestException, InvalidParameter, ValidationError).
var ErrInvalidToken = errors.New("page token is not valid for this request")

// pageTokenKeyName names the server secret that authenticates page tokens;
// every process on a store shares it, so a token works on any of them.
const pageTokenKeyName = "pagination-token-key"

// macSize is how much of the HMAC-SHA256 a token carries: 128 bits.
const macSize = 16

// PageTokens turns store cursors into the opaque nextTokens and markers of
// list operations: a client can neither forge one nor carry it to another
// operation, account, region or listing, because the cursor is
// authenticated together with all of them.
type PageTokens struct{ key []byte }

// NewPageTokens returns the sealer for key.
func NewPageTokens(key []byte) *PageTokens { return &PageTokens{key: key} }

// SecretStore is the part of warden.Store that holds server secrets.
type SecretStore interface {
	ServerSecret(ctx context.Context, name string, generate func() []byte) ([]byte, error)
}

// LoadPageTokens returns the sealer keyed by the store's page-token secret,
// creating the secret on first use.
func LoadPageTokens(ctx context.Context, st SecretStore) (*PageTokens, error) {
	key, err := st.ServerSecret(ctx, pageTokenKeyName, func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	})
	if err != nil {
		return nil, fmt.Errorf("load the page-token key: %w", err)
	}
	return NewPageTokens(key), nil
}

// Seal returns the token for cursor in listing op of scope s, or "" (no more
// pages) for "". binding names what else the listing depends on (a thing
// name, a topic, a path prefix); "" when nothing. The token is URL-safe
// base64 without padding.
func (p *PageTokens) Seal(op string, s warden.Scope, binding, cursor string) string {
	return p.seal(base64.RawURLEncoding, op, s, binding, cursor)
}

// Open returns the cursor that Seal put into token for the same op, scope
// and binding; "" for no token, ErrInvalidToken for any other token.
func (p *PageTokens) Open(op string, s warden.Scope, binding, token string) (string, error) {
	return p.open(base64.RawURLEncoding, op, s, binding, token)
}

// SealMarker is Seal in standard, padded base64, for IoT's marker members,
// whose model pattern is [A-Za-z0-9+/]+={0,2}.
func (p *PageTokens) SealMarker(op string, s warden.Scope, binding, cursor string) string {
	return p.seal(base64.StdEncoding, op, s, binding, cursor)
}

// OpenMarker is Open for markers made by SealMarker.
func (p *PageTokens) OpenMarker(op string, s warden.Scope, binding, marker string) (string, error) {
	return p.open(base64.StdEncoding, op, s, binding, marker)
}

func (p *PageTokens) seal(enc *base64.Encoding, op string, s warden.Scope, binding, cursor string) string {
	if cursor == "" {
		return ""
	}
	return enc.EncodeToString(append(p.mac(op, s, binding, cursor), cursor...))
}

func (p *PageTokens) open(enc *base64.Encoding, op string, s warden.Scope, binding, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := enc.DecodeString(token)
	if err != nil || len(raw) <= macSize {
		return "", ErrInvalidToken
	}
	mac, cursor := raw[:macSize], string(raw[macSize:])
	if !hmac.Equal(mac, p.mac(op, s, binding, cursor)) {
		return "", ErrInvalidToken
	}
	return cursor, nil
}

// mac authenticates the cursor with everything it is bound to. Each part is
// length-prefixed, so no choice of parts can run into the next.
func (p *PageTokens) mac(op string, s warden.Scope, binding, cursor string) []byte {
	m := hmac.New(sha256.New, p.key)
	for _, part := range []string{op, s.Account, s.Region, binding, cursor} {
		writePart(m, part)
	}
	return m.Sum(nil)[:macSize]
}

func writePart(h hash.Hash, part string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
	h.Write([]byte(part))
}
