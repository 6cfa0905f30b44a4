package audit

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/warden-iot/warden/internal/outbound"
)

// CRL fetching defaults.
const (
	DefaultCRLTimeout  = 10 * time.Second
	DefaultCRLMaxBytes = 16 << 20
	DefaultCRLMaxAge   = time.Hour
	// DefaultCRLCacheBytes bounds the memory of the CRL cache, which every
	// account shares.
	DefaultCRLCacheBytes = 64 << 20
)

// CRL is a certificate revocation list as fetched from one URL.
type CRL struct {
	URL string
	// List is the parsed list without its entries (they are in Revoked)
	// and without its raw DER: what checking its issuer and signature
	// needs (RawTBSRevocationList, Signature, Issuer) and its dates.
	List *x509.RevocationList
	// Revoked maps the lower-case hex serial number of each revoked
	// certificate (as warden.X509Facts.Serial writes it) to its revocation time.
	Revoked map[string]time.Time

	// size is what the list and its revoked set take in memory, about.
	size int64
}

// CRLFetcher fetches CRLs through the outbound client with a timeout and a
// size cap, and keeps each until its nextUpdate or MaxAge, whichever comes
// first, in a cache bounded in bytes (least recently used go first; expired
// ones are dropped when they expire). URLs that serve the same CRL share
// one copy. Concurrent requests for one URL share one fetch. Failures are
// not kept: the next audit tries again.
type CRLFetcher struct {
	client     *outbound.Client
	timeout    time.Duration
	maxBytes   int64
	maxAge     time.Duration
	cacheBytes int64
	now        func() time.Time
	log        *slog.Logger

	mu       sync.Mutex
	inflight map[string]*crlCall
	cache    map[string]*list.Element // of *crlEntry; front = most recently used
	lru      list.List
	bodies   map[[sha256.Size]byte]*crlBody
	used     int64 // bytes accounted to the cache
}

// crlCall is a fetch in progress that concurrent callers wait for.
type crlCall struct {
	ready chan struct{}
	crl   *CRL
	err   error
}

// crlEntry is one cached URL.
type crlEntry struct {
	url     string
	crl     *CRL
	body    *crlBody
	expires time.Time
	timer   *time.Timer // drops the entry when it expires
}

// crlBody is one distinct CRL, shared by the URLs that serve it.
type crlBody struct {
	digest [sha256.Size]byte
	crl    *CRL
	refs   int
}

// entryOverhead is what a cache entry takes besides its CRL: the entry,
// its list element, map slots, the URL's copy and its timer.
const entryOverhead = 320

// CRLOptions tune a CRLFetcher; zero values take the defaults.
type CRLOptions struct {
	// Client makes the requests: the process's one outbound client, with
	// its address policy. nil means one with the default policy.
	Client *outbound.Client
	// Timeout bounds each fetch, body included (default DefaultCRLTimeout).
	Timeout  time.Duration
	MaxBytes int64
	MaxAge   time.Duration
	// CacheBytes bounds the memory of the cached CRLs (default
	// DefaultCRLCacheBytes).
	CacheBytes int64
	Now        func() time.Time
	// Logger gets the detail of failed fetches (addresses, OS errors) that
	// audit results do not show.
	Logger *slog.Logger
}

// NewCRLFetcher returns a fetcher with an empty cache.
func NewCRLFetcher(o CRLOptions) *CRLFetcher {
	f := &CRLFetcher{client: o.Client, timeout: o.Timeout, maxBytes: o.MaxBytes, maxAge: o.MaxAge, cacheBytes: o.CacheBytes,
		now: o.Now, log: o.Logger, inflight: map[string]*crlCall{}, cache: map[string]*list.Element{},
		bodies: map[[sha256.Size]byte]*crlBody{}}
	if f.client == nil {
		f.client = outbound.New(outbound.Options{})
	}
	if f.timeout <= 0 {
		f.timeout = DefaultCRLTimeout
	}
	if f.maxBytes <= 0 {
		f.maxBytes = DefaultCRLMaxBytes
	}
	if f.maxAge <= 0 {
		f.maxAge = DefaultCRLMaxAge
	}
	if f.cacheBytes <= 0 {
		f.cacheBytes = DefaultCRLCacheBytes
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return f
}

// CacheStats is what the CRL cache holds.
type CacheStats struct {
	// URLs is how many URLs are cached; Lists how many distinct CRLs.
	URLs, Lists int
	// Bytes is the memory accounted to them, at most the cache size.
	Bytes int64
}

// Stats says what the cache holds now.
func (f *CRLFetcher) Stats() CacheStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return CacheStats{URLs: len(f.cache), Lists: len(f.bodies), Bytes: f.used}
}

// Fetch returns the CRL at rawURL, from the cache when it is still fresh.
func (f *CRLFetcher) Fetch(ctx context.Context, rawURL string) (*CRL, error) {
	f.mu.Lock()
	if el, ok := f.cache[rawURL]; ok {
		e := el.Value.(*crlEntry)
		if f.now().Before(e.expires) {
			f.lru.MoveToFront(el)
			f.mu.Unlock()
			return e.crl, nil
		}
		f.remove(el)
	}
	if c, ok := f.inflight[rawURL]; ok {
		f.mu.Unlock()
		select {
		case <-c.ready:
			return c.crl, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &crlCall{ready: make(chan struct{})}
	f.inflight[rawURL] = c
	f.mu.Unlock()

	crl, digest, err := f.fetch(ctx, rawURL)
	f.mu.Lock()
	delete(f.inflight, rawURL)
	if err == nil {
		crl = f.add(rawURL, crl, digest)
	}
	f.mu.Unlock()
	c.crl, c.err = crl, err
	close(c.ready)
	return crl, err
}

// add caches crl as fetched from rawURL (sharing the copy of an identical
// CRL already cached) and evicts what no longer fits. It returns the CRL
// to use. f.mu is held.
func (f *CRLFetcher) add(rawURL string, crl *CRL, digest [sha256.Size]byte) *CRL {
	now := f.now()
	f.removeExpired(now)
	expires := now.Add(f.maxAge)
	if next := crl.List.NextUpdate; !next.IsZero() && next.Before(expires) {
		expires = next
	}
	if !now.Before(expires) {
		return crl // stale already: used once, not kept
	}
	b := f.bodies[digest]
	if b != nil {
		crl = &CRL{URL: rawURL, List: b.crl.List, Revoked: b.crl.Revoked, size: b.crl.size}
	} else {
		b = &crlBody{digest: digest, crl: crl}
	}
	cost := int64(entryOverhead + len(rawURL))
	if b.refs == 0 {
		cost += crl.size
	}
	if cost > f.cacheBytes {
		return crl // larger than the whole cache: used, not kept
	}
	if b.refs == 0 {
		f.bodies[digest] = b
	}
	b.refs++
	f.used += cost
	e := &crlEntry{url: rawURL, crl: crl, body: b, expires: expires}
	el := f.lru.PushFront(e)
	f.cache[rawURL] = el
	e.timer = time.AfterFunc(expires.Sub(now), func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if cur, ok := f.cache[rawURL]; ok && cur == el {
			f.remove(el)
		}
	})
	for f.used > f.cacheBytes {
		f.remove(f.lru.Back())
	}
	return crl
}

// removeExpired drops the entries that expired by now. f.mu is held.
func (f *CRLFetcher) removeExpired(now time.Time) {
	for el := f.lru.Front(); el != nil; {
		next := el.Next()
		if !now.Before(el.Value.(*crlEntry).expires) {
			f.remove(el)
		}
		el = next
	}
}

// remove drops a cache entry, and its CRL when no other URL shares it.
// f.mu is held.
func (f *CRLFetcher) remove(el *list.Element) {
	e := el.Value.(*crlEntry)
	f.lru.Remove(el)
	delete(f.cache, e.url)
	if e.timer != nil {
		e.timer.Stop()
	}
	f.used -= int64(entryOverhead + len(e.url))
	if e.body.refs--; e.body.refs == 0 {
		f.used -= e.body.crl.size
		delete(f.bodies, e.body.digest)
	}
}

// crlBudget bounds the bytes of the CRLs one audit phase holds while it
// runs (the cache may evict them meanwhile), so that many certificates
// naming distinct large CRLs cannot make one audit hold them all: past the
// cache's size, further CRLs fail with a clear reason.
type crlBudget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	held  map[*x509.RevocationList]bool // URLs serving one CRL count once
}

func (f *CRLFetcher) newBudget() *crlBudget {
	return &crlBudget{limit: f.cacheBytes, held: map[*x509.RevocationList]bool{}}
}

// hold counts crl against the budget; over it, the CRL is let go and an
// error says why.
func (b *crlBudget) hold(crl *CRL, err error) (*CRL, error) {
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[crl.List] {
		return crl, nil
	}
	if b.used+crl.size > b.limit {
		return nil, fmt.Errorf("not consulted: this audit's CRLs would take more than %s of memory, the size of the CRL cache (--crl-cache-size)", outbound.FormatSize(b.limit))
	}
	b.used += crl.size
	b.held[crl.List] = true
	return crl, nil
}

// fetch GETs and parses one CRL. Its errors are what the audit's check
// shows the tenant: the class of the failure, no address, port or OS error
// text (that goes to the log).
func (f *CRLFetcher) fetch(ctx context.Context, rawURL string) (*CRL, [sha256.Size]byte, error) {
	var digest [sha256.Size]byte
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, digest, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, digest, fmt.Errorf("only http and https CRL distribution points can be fetched, not %s", u.Scheme)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, digest, errors.New("not a URL")
	}
	resp, err := f.client.Do(req, f.maxBytes, true)
	if err != nil {
		f.log.Info("audit: CRL fetch failed", "url", u.Redacted(), "err", err.Error(), "detail", outbound.Detailed(err))
		var oe *outbound.Error
		if errors.As(err, &oe) && oe.Kind == outbound.TooLarge {
			return nil, digest, fmt.Errorf("the CRL is larger than %s, the most Warden fetches", outbound.FormatSize(f.maxBytes))
		}
		return nil, digest, err
	}
	digest = sha256.Sum256(resp.Body)
	crl, err := ParseCRL(rawURL, resp.Body)
	return crl, digest, err
}

// What a CRL takes in memory besides its bytes: a revoked serial's map
// slot (string header, time.Time, hash table slack), and the list's
// struct with its issuer name.
const (
	revokedEntryOverhead = 80
	listOverhead         = 1024
)

// ParseCRL parses a DER or PEM ("X509 CRL") revocation list.
func ParseCRL(rawURL string, body []byte) (*CRL, error) {
	der := body
	if trimmed := bytes.TrimSpace(body); bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		block, _ := pem.Decode(trimmed)
		if block == nil || block.Type != "X509 CRL" {
			return nil, errors.New("the PEM document is not an X509 CRL")
		}
		der = block.Bytes
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("not a valid CRL: %w", err)
	}
	c := &CRL{URL: rawURL, Revoked: make(map[string]time.Time, len(rl.RevokedCertificateEntries))}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber == nil {
			continue
		}
		serial := hex.EncodeToString(e.SerialNumber.Bytes())
		if serial == "" {
			serial = "00"
		}
		c.Revoked[serial] = e.RevocationTime
		c.size += int64(len(serial)) + revokedEntryOverhead
	}
	// Keep only what verifying the rl needs: the parsed entries take
	// many times the DER's size, and the DER itself is not needed once
	// the signed part is copied out of it.
	c.List = &x509.RevocationList{
		RawIssuer:            bytes.Clone(rl.RawIssuer),
		RawTBSRevocationList: bytes.Clone(rl.RawTBSRevocationList),
		Signature:            bytes.Clone(rl.Signature),
		SignatureAlgorithm:   rl.SignatureAlgorithm,
		Issuer:               rl.Issuer,
		AuthorityKeyId:       bytes.Clone(rl.AuthorityKeyId),
		Number:               rl.Number,
		ThisUpdate:           rl.ThisUpdate,
		NextUpdate:           rl.NextUpdate,
	}
	c.size += int64(len(c.List.RawTBSRevocationList)+len(c.List.Signature)+2*len(c.List.RawIssuer)) + listOverhead
	return c, nil
}
