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

// ValidateTrustDomain checks a SPIFFE trust domain name: lower-case letters,
// digits, '.', '-' and '_', at most 255 characters.
func ValidateTrustDomain(td string) error {
	if td == "" || len(td) > 255 {
		return fmt.Errorf("invalid trust domain %q: must be 1 to 255 characters", td)
	}
	for _, c := range td {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("invalid trust domain %q: character %q not allowed (use lower-case letters, digits, '.', '-', '_')", td, c)
		}
	}
	return nil
}
