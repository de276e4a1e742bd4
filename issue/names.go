package issue

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxNameLen bounds endpoint names: they become a URI path segment, a
// directory name and a certificate CN (which RFC 5280 caps at 64 characters).
const maxNameLen = 64

// ValidateName checks an endpoint name. Names become a directory under the
// home and a segment of the SPIFFE URI, so only letters, digits, '.', '-' and
// '_' are allowed, starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty (give the endpoint a name such as node07)", ErrInvalidName)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w %.20q...: longer than %d characters", ErrInvalidName, name, maxNameLen)
	}
	if c := name[0]; c == '.' || c == '-' || c == '_' {
		return fmt.Errorf("%w %q: must start with a letter or digit", ErrInvalidName, name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("%w %q: character %q not allowed (use letters, digits, '.', '-' and '_')", ErrInvalidName, name, c)
		}
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%w %q: \"..\" not allowed", ErrInvalidName, name)
	}
	return nil
}

// NormalizeDNS validates a DNS SAN and returns it in lower case. It accepts
// RFC 1123 host names and a wildcard only as the whole left-most label of a
// name with at least two more labels.
func NormalizeDNS(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidDNS)
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", fmt.Errorf("%w %q: an IP address (pass it with --ip)", ErrInvalidDNS, s)
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return "", fmt.Errorf("%w %q: contains a port (give the host name alone)", ErrInvalidDNS, s)
	}
	if len(s) > 253 {
		return "", fmt.Errorf("%w %.20q...: longer than 253 characters", ErrInvalidDNS, s)
	}
	if strings.HasSuffix(s, ".") {
		return "", fmt.Errorf("%w %q: trailing dot (remove it)", ErrInvalidDNS, s)
	}
	name := strings.ToLower(s)
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if l == "*" && i == 0 {
			if len(labels) < 3 {
				return "", fmt.Errorf("%w %q: a wildcard needs at least two labels after it", ErrInvalidDNS, s)
			}
			continue
		}
		if err := checkLabel(l); err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrInvalidDNS, s, err)
		}
	}
	return name, nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("empty label")
	case len(l) > 63:
		return fmt.Errorf("label longer than 63 characters")
	case strings.Contains(l, "*"):
		return fmt.Errorf("wildcard allowed only as the whole left-most label")
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with '-'", l)
	}
	for _, c := range l {
		if c > 0x7f {
			return fmt.Errorf("non-ASCII character %q (use the xn-- punycode form)", c)
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("character %q not allowed in a host name", c)
		}
	}
	return nil
}

// ParseIP parses one IPv4 or IPv6 address for an IP SAN. IPv4-mapped IPv6
// addresses become plain IPv4. Ranges, zones and ports are refused.
func ParseIP(s string) (net.IP, error) {
	if strings.Contains(s, "/") {
		return nil, fmt.Errorf("%w %q: a range, not an address (give single addresses, one --ip each)", ErrInvalidIP, s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if _, _, perr := net.SplitHostPort(s); perr == nil {
			return nil, fmt.Errorf("%w %q: contains a port (give the address alone)", ErrInvalidIP, s)
		}
		return nil, fmt.Errorf("%w %q (want e.g. 10.0.0.5 or fd00::5)", ErrInvalidIP, s)
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("%w %q: zone %q not allowed in a certificate", ErrInvalidIP, s, a.Zone())
	}
	return net.IP(a.Unmap().AsSlice()), nil
}
