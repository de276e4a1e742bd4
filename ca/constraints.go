package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// constraints are the permitted subtrees New puts on the CA certificates.
type constraints struct {
	dns  []string
	ips  []*net.IPNet
	uris []string
}

// newConstraints derives the name constraints of a new CA from its options.
// URIs are constrained only alongside DNS or IP constraints: a CA without
// name constraints stays unconstrained.
func newConstraints(o Options) constraints {
	var nc constraints
	for _, d := range o.PermitDNS {
		nc.dns = append(nc.dns, strings.ToLower(d))
	}
	for _, n := range o.PermitIP {
		nc.ips = append(nc.ips, normalizeNet(n))
	}
	if (len(nc.dns) > 0 || len(nc.ips) > 0) && o.TrustDomain != "" {
		// An exact host, not ".domain": OpenSSL matches a URI constraint
		// without a leading dot against the URI's host exactly, Go also
		// accepts its subdomains, so the exact host is what both pass.
		nc.uris = []string{o.TrustDomain}
	}
	return nc
}

func (nc constraints) apply(t *x509.Certificate) {
	if len(nc.dns) == 0 && len(nc.ips) == 0 && len(nc.uris) == 0 {
		return
	}
	t.PermittedDNSDomainsCritical = true
	t.PermittedDNSDomains = nc.dns
	t.PermittedIPRanges = nc.ips
	t.PermittedURIDomains = nc.uris
}

// normalizeNet returns n in canonical form (4-byte IPv4, the network
// address, a mask of the address's length), or nil when n is not a CIDR.
func normalizeNet(n *net.IPNet) *net.IPNet {
	ip, mask := n.IP, n.Mask
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
		if len(mask) == net.IPv6len {
			mask = mask[12:]
		}
	}
	if len(ip) != len(mask) || (len(ip) != net.IPv4len && len(ip) != net.IPv6len) {
		return nil
	}
	if ones, bits := mask.Size(); ones == 0 && bits == 0 {
		return nil // not a canonical prefix mask
	}
	return &net.IPNet{IP: ip.Mask(mask), Mask: mask}
}

// validDomain reports whether s is a lower-case DNS name (letters, digits,
// '-', '_'; non-empty labels), optionally with one leading dot.
func validDomain(s string, leadingDot bool) bool {
	if leadingDot {
		s = strings.TrimPrefix(s, ".")
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkNames refuses a template with a DNS name, IP address or URI outside
// the name constraints of any CA certificate in chain. The matching is the
// stricter of Go's crypto/x509 and OpenSSL's, so whatever passes here
// verifies under both.
func checkNames(tmpl *x509.Certificate, chain []*x509.Certificate) error {
	dnsNames, dnsKind := tmpl.DNSNames, "DNS name"
	if len(dnsNames) == 0 && hostnameLike(tmpl.Subject.CommonName) {
		// OpenSSL checks a leaf's hostname-like CN against DNS
		// constraints when the leaf has no DNS SANs.
		dnsNames, dnsKind = []string{tmpl.Subject.CommonName}, "common name (taken as a DNS name without DNS SANs)"
	}
	for _, ca := range chain {
		for _, d := range dnsNames {
			if len(ca.PermittedDNSDomains) > 0 && !anyMatch(ca.PermittedDNSDomains, d, matchDomain) ||
				anyMatch(ca.ExcludedDNSDomains, d, matchDomain) {
				return nameError(dnsKind, d, ca, ca.PermittedDNSDomains)
			}
		}
		for _, ip := range tmpl.IPAddresses {
			if len(ca.PermittedIPRanges) > 0 && !anyNet(ca.PermittedIPRanges, ip) || anyNet(ca.ExcludedIPRanges, ip) {
				return nameError("IP address", ip.String(), ca, netStrings(ca.PermittedIPRanges))
			}
		}
		for _, u := range tmpl.URIs {
			if len(ca.PermittedURIDomains) > 0 && !anyMatch(ca.PermittedURIDomains, u.String(), matchURI) ||
				anyMatch(ca.ExcludedURIDomains, u.String(), matchURI) {
				return nameError("URI", u.String(), ca, ca.PermittedURIDomains)
			}
		}
	}
	return nil
}

func nameError(kind, name string, ca *x509.Certificate, permitted []string) error {
	p := "none of this type"
	if len(permitted) > 0 {
		p = strings.Join(permitted, ", ")
	}
	return fmt.Errorf("%s %q is not permitted by %q (permitted: %s): %w",
		kind, name, ca.Subject.CommonName, p, ErrNameConstraint)
}

func anyMatch(constraints []string, name string, match func(name, constraint string) bool) bool {
	for _, c := range constraints {
		if match(name, c) {
			return true
		}
	}
	return false
}

// matchDomain matches a DNS name against a DNS constraint: "a.b" covers a.b
// and names under it, ".a.b" only names under it, "" everything.
func matchDomain(name, constraint string) bool {
	name, constraint = strings.ToLower(name), strings.ToLower(constraint)
	switch {
	case constraint == "":
		return true
	case strings.HasPrefix(constraint, "."):
		return len(name) > len(constraint) && strings.HasSuffix(name, constraint)
	default:
		return name == constraint || strings.HasSuffix(name, "."+constraint)
	}
}

// matchURI matches a URI against a URI constraint by its host: "a.b" only
// that host, ".a.b" hosts under it. URIs without a DNS host match nothing.
func matchURI(raw, constraint string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if strings.HasPrefix(constraint, ".") {
		return matchDomain(host, constraint)
	}
	return host == strings.ToLower(constraint)
}

func anyNet(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if inNet(ip, n) {
			return true
		}
	}
	return false
}

// inNet reports whether ip is in n the way certificates compare them:
// IPv4 addresses (and IPv4-mapped IPv6 ones, which certificates carry as
// IPv4) only against 4-byte ranges, IPv6 only against 16-byte ones.
func inNet(ip net.IP, n *net.IPNet) bool {
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	if len(ip) != len(n.IP) || len(ip) != len(n.Mask) {
		return false
	}
	for i := range ip {
		if ip[i]&n.Mask[i] != n.IP[i]&n.Mask[i] {
			return false
		}
	}
	return true
}

func netStrings(nets []*net.IPNet) []string {
	s := make([]string, len(nets))
	for i, n := range nets {
		s[i] = n.String()
	}
	return s
}

// hostnameLike reports whether OpenSSL would take a common name for a DNS
// name: letters, digits, '_', inner '-' and '.', at least two labels.
func hostnameLike(cn string) bool {
	dot := false
	for i := 0; i < len(cn); i++ {
		c := cn[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case i == 0 || i == len(cn)-1:
			return false
		case c == '-':
		case c == '.' && cn[i+1] != '.' && cn[i+1] != '-' && cn[i-1] != '-':
			dot = true
		default:
			return false
		}
	}
	return dot
}

// CheckNames reports whether a leaf template's DNS names, IP addresses and
// URIs (and a host-name-like common name without DNS names) are within the
// name constraints of a's chain: the check SignDER makes, without signing,
// for a plan that must refuse what a real run would (ErrNameConstraint).
func (a *Authority) CheckNames(tmpl *x509.Certificate) error {
	return checkNames(tmpl, a.caChain())
}
