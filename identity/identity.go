// Package identity is the one definition of who a daskca endpoint is.
//
// Every leaf certificate daskca issues names its endpoint twice: in a URI SAN
// of the form
//
//	spiffe://<trust-domain>/dask/<role>/<name>
//
// (SPIFFE-compatible, so Envoy and SPIRE-aware tools understand it) and in the
// subject's OU for humans. The issue package writes identities; the transport
// package reads them back to authorize peers by role. Both go through this
// package, so the format exists in exactly one place.
//
// The package imports nothing but the standard library.
package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Role is the part an endpoint plays in a Dask cluster.
type Role string

// The roles of a Dask cluster. Schedulers and workers both listen and dial,
// clients only dial.
const (
	Scheduler Role = "scheduler"
	Worker    Role = "worker"
	Client    Role = "client"
)

// Roles lists every role in a stable order.
var Roles = []Role{Scheduler, Worker, Client}

// Errors returned by this package.
var (
	ErrUnknownRole = errors.New("unknown role")
	ErrNoIdentity  = errors.New("certificate carries no daskca identity")
	ErrBadIdentity = errors.New("malformed daskca identity")
)

// ParseRole returns the role named s, or ErrUnknownRole.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w %q (want scheduler, worker or client)", ErrUnknownRole, s)
}

// Listens reports whether endpoints of this role accept connections, and so
// need the serverAuth extended key usage.
func (r Role) Listens() bool { return r == Scheduler || r == Worker }

// ID identifies one endpoint: the trust domain of its CA, its role and its
// name. The zero value is not a valid identity.
type ID struct {
	TrustDomain string
	Role        Role
	Name        string
}

// pathPrefix is the first path segment of every daskca SPIFFE ID, so that the
// IDs of other workloads in the same trust domain are never mistaken for ours.
const pathPrefix = "dask"

// URI returns the SPIFFE URI of the identity.
func (id ID) URI() *url.URL {
	return &url.URL{
		Scheme: "spiffe",
		Host:   id.TrustDomain,
		Path:   "/" + pathPrefix + "/" + string(id.Role) + "/" + id.Name,
	}
}

// String returns the URI form of the identity.
func (id ID) String() string { return id.URI().String() }

// Parse reads an identity from its URI form.
func Parse(s string) (ID, error) {
	u, err := url.Parse(s)
	if err != nil {
		return ID{}, fmt.Errorf("%w: %v", ErrBadIdentity, err)
	}
	return FromURI(u)
}

// FromURI reads an identity from a parsed URI.
func FromURI(u *url.URL) (ID, error) {
	if u.Scheme != "spiffe" || u.Host == "" || u.User != nil || u.Port() != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ID{}, fmt.Errorf("%w: %q is not a spiffe://trust-domain/dask/role/name URI", ErrBadIdentity, u.String())
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != pathPrefix || parts[2] == "" {
		return ID{}, fmt.Errorf("%w: %q is not a spiffe://trust-domain/dask/role/name URI", ErrBadIdentity, u.String())
	}
	role, err := ParseRole(parts[1])
	if err != nil {
		return ID{}, fmt.Errorf("%w: %w", ErrBadIdentity, err)
	}
	return ID{TrustDomain: u.Host, Role: role, Name: parts[2]}, nil
}

// FromCertificate returns the daskca identity of a certificate: the single
// spiffe:// URI SAN under /dask/. It returns ErrNoIdentity when there is none
// and ErrBadIdentity when there is more than one or it is malformed.
func FromCertificate(cert *x509.Certificate) (ID, error) {
	var found []ID
	for _, u := range cert.URIs {
		if u.Scheme != "spiffe" || !strings.HasPrefix(u.Path, "/"+pathPrefix+"/") {
			continue
		}
		id, err := FromURI(u)
		if err != nil {
			return ID{}, err
		}
		found = append(found, id)
	}
	switch len(found) {
	case 0:
		return ID{}, ErrNoIdentity
	case 1:
		return found[0], nil
	default:
		return ID{}, fmt.Errorf("%w: %d daskca URIs in one certificate", ErrBadIdentity, len(found))
	}
}

// MaxTrustDomainLen is the longest trust domain: the longest DNS name.
const MaxTrustDomainLen = 253

// ValidateTrustDomain checks the trust domain of a new CA. RFC 5280
// §4.2.1.6 requires the host of a URI SAN, and of a URI name constraint, to
// be a fully qualified domain name or an IP address, so a trust domain must
// be an RFC 1123 host name of at least two labels: lower-case letters,
// digits and '-' (not first or last in a label), labels of 1 to 63
// characters, at most 253 in all, and a last label of two or more letters,
// as every top-level domain has (zlint's FQDN check insists on it too).
// SPIFFE allows more (one label, '_'); a CA whose trust domain was set
// before this rule keeps it, since every certificate it issued carries it.
//
// The error names the fix.
func ValidateTrustDomain(td string) error {
	if td == "" {
		return fmt.Errorf("invalid trust domain: empty (use a DNS name such as dask.example.org)")
	}
	if len(td) > MaxTrustDomainLen {
		return fmt.Errorf("invalid trust domain %.20q...: %d characters, more than %d", td, len(td), MaxTrustDomainLen)
	}
	for _, c := range td {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("invalid trust domain %q: character %q not allowed (use lower-case letters, digits, '-' and '.')", td, c)
		}
	}
	labels := strings.Split(td, ".")
	if len(labels) < 2 {
		return fmt.Errorf("invalid trust domain %q: not a fully qualified domain name, which RFC 5280 requires of a URI's host (use one such as %s.daskca.internal)", td, td)
	}
	for _, l := range labels {
		switch {
		case l == "":
			return fmt.Errorf("invalid trust domain %q: empty label (remove the extra '.')", td)
		case len(l) > 63:
			return fmt.Errorf("invalid trust domain %q: label %.20q... is longer than 63 characters", td, l)
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("invalid trust domain %q: label %q starts or ends with '-'", td, l)
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || strings.ContainsFunc(tld, func(c rune) bool { return c < 'a' || c > 'z' }) {
		return fmt.Errorf("invalid trust domain %q: the last label %q is not a top-level domain of two or more letters (end it with one such as .internal or .org)", td, tld)
	}
	return nil
}
