package sigv4

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warden-iot/warden"
)

// An access key found in the store is used for keyRecheck, then read again
// (by one request while the others go on with the cached key, up to
// keyMaxAge): a key deleted or deactivated on any node stops working within
// keyMaxAge on every node, and a request reads the store for its key only
// twice a second per key, not every time (see api's BenchmarkLookupKey).
const (
	keyRecheck = 500 * time.Millisecond
	keyMaxAge  = 900 * time.Millisecond
)

// KeyCache is a key source for Verifier: the access keys read reads, kept
// for keyRecheck and read again by one request at a time.
type KeyCache struct {
	read func(ctx context.Context, id string) (warden.AccessKey, bool, error)
	keys sync.Map // access key id → *cachedKey
}

// NewKeyCache returns a cache over read (a Store's AccessKey).
func NewKeyCache(read func(ctx context.Context, id string) (warden.AccessKey, bool, error)) *KeyCache {
	return &KeyCache{read: read}
}

// cachedKey is an active access key as the store had it at checked.
type cachedKey struct {
	secret, account string
	checked         time.Time // with its monotonic reading: the wall clock may jump
	refreshing      atomic.Bool
}

// Lookup is a Lookup: the secret and account of an active key.
func (k *KeyCache) Lookup(ctx context.Context, id string) (secret, account string, ok bool, err error) {
	if v, ok := k.keys.Load(id); ok {
		c := v.(*cachedKey)
		age := time.Since(c.checked)
		if age < keyRecheck || age < keyMaxAge && !c.refreshing.CompareAndSwap(false, true) {
			return c.secret, c.account, true, nil
		}
		defer c.refreshing.Store(false) // in case the read fails: the next request tries again
	}
	key, found, err := k.read(ctx, id)
	if err != nil {
		return "", "", false, fmt.Errorf("reading access key: %w", err)
	}
	if !found || key.Inactive {
		k.keys.Delete(id)
		return "", "", false, nil
	}
	k.keys.Store(id, &cachedKey{secret: key.Secret, account: key.Account, checked: time.Now()})
	return key.Secret, key.Account, true, nil
}
