package audit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// CRL fetching defaults.
const (
	DefaultCRLTimeout  = 10 * time.Second
	DefaultCRLMaxBytes = 16 << 20
	DefaultCRLMaxAge   = time.Hour
)

// CRL is a certificate revocation list as fetched from one URL.
type CRL struct {
	URL  string
	List *x509.RevocationList
	// Revoked maps the lower-case hex serial number of each revoked
	// certificate (as warden.X509Facts.Serial writes it) to its revocation time.
	Revoked map[string]time.Time
}

// CRLFetcher fetches CRLs over HTTP with a timeout and a size cap, and
// keeps each until its nextUpdate or MaxAge, whichever comes first.
// Concurrent requests for one URL share one fetch. Failures are not kept:
// the next audit tries again.
type CRLFetcher struct {
	client   *http.Client
	maxBytes int64
	maxAge   time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]*crlEntry
}

type crlEntry struct {
	ready   chan struct{}
	crl     *CRL
	err     error
	expires time.Time
}

// CRLOptions tune a CRLFetcher; zero values take the defaults.
type CRLOptions struct {
	// Client makes the requests; its Timeout bounds each fetch (default
	// DefaultCRLTimeout when Client is nil).
	Client   *http.Client
	MaxBytes int64
	MaxAge   time.Duration
	Now      func() time.Time
}

// NewCRLFetcher returns a fetcher with an empty cache.
func NewCRLFetcher(o CRLOptions) *CRLFetcher {
	f := &CRLFetcher{client: o.Client, maxBytes: o.MaxBytes, maxAge: o.MaxAge, now: o.Now, cache: map[string]*crlEntry{}}
	if f.client == nil {
		f.client = &http.Client{Timeout: DefaultCRLTimeout}
	}
	if f.maxBytes <= 0 {
		f.maxBytes = DefaultCRLMaxBytes
	}
	if f.maxAge <= 0 {
		f.maxAge = DefaultCRLMaxAge
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f
}

// Fetch returns the CRL at rawURL, from the cache when it is still fresh.
func (f *CRLFetcher) Fetch(ctx context.Context, rawURL string) (*CRL, error) {
	f.mu.Lock()
	if e, ok := f.cache[rawURL]; ok {
		select {
		case <-e.ready:
			if e.err == nil && f.now().Before(e.expires) {
				f.mu.Unlock()
				return e.crl, nil
			}
		default:
			f.mu.Unlock()
			select {
			case <-e.ready:
				return e.crl, e.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	e := &crlEntry{ready: make(chan struct{})}
	f.cache[rawURL] = e
	f.mu.Unlock()

	e.crl, e.err = f.fetch(ctx, rawURL)
	if e.err == nil {
		e.expires = f.now().Add(f.maxAge)
		if next := e.crl.List.NextUpdate; !next.IsZero() && next.Before(e.expires) {
			e.expires = next
		}
	}
	close(e.ready)
	if e.err != nil {
		f.mu.Lock()
		if f.cache[rawURL] == e {
			delete(f.cache, rawURL)
		}
		f.mu.Unlock()
	}
	return e.crl, e.err
}

func (f *CRLFetcher) fetch(ctx context.Context, rawURL string) (*CRL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("only http and https CRL distribution points can be fetched, not %s", u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("the CRL is larger than %d bytes", f.maxBytes)
	}
	return ParseCRL(rawURL, body)
}

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
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("not a valid CRL: %w", err)
	}
	c := &CRL{URL: rawURL, List: list, Revoked: make(map[string]time.Time, len(list.RevokedCertificateEntries))}
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber == nil {
			continue
		}
		serial := hex.EncodeToString(e.SerialNumber.Bytes())
		if serial == "" {
			serial = "00"
		}
		c.Revoked[serial] = e.RevocationTime
	}
	return c, nil
}
