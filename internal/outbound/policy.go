// Package outbound is the one HTTP client for every request Warden makes to
// the outside (SNS confirmations and deliveries, CRL fetches). It checks the
// address it connects to against an address policy at dial time, never
// follows redirects, caps response bodies, and words its errors so that a
// tenant learns the class of a failure but no address, port or OS error
// text; the detail is for the server log.
package outbound

import (
	"fmt"
	"net/netip"
	"strings"
)

// alwaysRefused are refused unless a prefix of the allow list covers them:
// link-local (where cloud metadata services live), the AWS IPv6 metadata
// address, and the unspecified / "this host" ranges, which reach the local
// host and would otherwise sidestep a deny list for loopback.
var alwaysRefused = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
}

// Policy decides which addresses outbound requests may connect to. By
// default every address may be reached (loopback and private ranges
// included: subscribers on the same host or network are the common case
// for a self-hosted server) except link-local and metadata addresses. An
// allow list re-admits addresses of those; a deny list refuses more. When
// both lists cover an address, the longer prefix decides; on a tie, deny.
type Policy struct {
	allow, deny []netip.Prefix
}

// NewPolicy parses the allow and deny lists: CIDR prefixes or single
// addresses, IPv4 or IPv6.
func NewPolicy(allow, deny []string) (*Policy, error) {
	p := &Policy{}
	var err error
	if p.allow, err = parsePrefixes(allow); err != nil {
		return nil, fmt.Errorf("outbound allow list: %w", err)
	}
	if p.deny, err = parsePrefixes(deny); err != nil {
		return nil, fmt.Errorf("outbound deny list: %w", err)
	}
	return p, nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR prefix nor an IP address", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix (such as 10.0.0.0/8 or fd00::/8)", s)
		}
		if pfx.Addr().Is4In6() {
			if pfx.Bits() < 96 {
				return nil, fmt.Errorf("%q: an IPv4-mapped prefix needs at least 96 bits", s)
			}
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// longest is the length of the longest prefix in list that contains a, or -1.
func longest(list []netip.Prefix, a netip.Addr) int {
	best := -1
	for _, p := range list {
		if p.Bits() > best && p.Contains(a) {
			best = p.Bits()
		}
	}
	return best
}

// Allowed reports whether a connection to a may be made.
func (p *Policy) Allowed(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	allow := -1
	deny := -1
	if p != nil {
		allow, deny = longest(p.allow, a), longest(p.deny, a)
	}
	if allow >= 0 || deny >= 0 {
		return allow > deny
	}
	return longest(alwaysRefused, a) < 0
}
