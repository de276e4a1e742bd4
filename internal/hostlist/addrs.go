package hostlist

import (
	"fmt"
	"net/netip"
)

// Addrs assigns n consecutive addresses from prefix, in order, for n hosts
// listed in the same order.
//
// The first address is the prefix's own address when it has host bits set
// ("10.0.1.10/24" starts at 10.0.1.10), else the first host address of the
// network ("10.0.1.0/24" starts at 10.0.1.1; "fd00::/64" at fd00::1). The
// network address and, for IPv4, the broadcast address are never assigned,
// except in /31, /32, /127 and /128 prefixes, where every address is a host
// (RFC 3021). Errors wrap ErrRange: a malformed prefix, or one that runs out
// of addresses before n.
func Addrs(prefix string, n int) ([]netip.Addr, error) {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("%w %q: want a prefix such as 10.0.1.0/24 or 10.0.1.10/23", ErrRange, prefix)
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return nil, fmt.Errorf("%w %q: give a plain IPv4 or IPv6 prefix", ErrRange, prefix)
	}
	if n < 0 || n > MaxHosts {
		return nil, fmt.Errorf("%w: %d addresses asked for", ErrTooMany, n)
	}
	first, last := bounds(p)
	a := p.Addr()
	if a == p.Masked().Addr() {
		a = first
	}
	if a.Less(first) || last.Less(a) {
		return nil, fmt.Errorf("%w %q: %s is the network or broadcast address", ErrRange, prefix, a)
	}
	out := make([]netip.Addr, 0, n)
	for len(out) < n {
		out = append(out, a)
		if a == last && len(out) < n {
			return nil, fmt.Errorf("%w %q: %d addresses from %s to %s, %d needed (use a larger prefix)",
				ErrRange, prefix, len(out), out[0], last, n)
		}
		a = a.Next()
	}
	return out, nil
}

// bounds returns the first and last assignable host address of p.
func bounds(p netip.Prefix) (first, last netip.Addr) {
	first = p.Masked().Addr()
	bits := first.BitLen()
	b := first.AsSlice()
	for i := p.Bits(); i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	if bits-p.Bits() >= 2 {
		first = first.Next()
		if first.Is4() {
			last = last.Prev()
		}
	}
	return first, last
}
