package issue

import (
	"fmt"
	"net"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
)

// Request asks for one endpoint certificate.
type Request struct {
	Role     identity.Role
	Name     string
	DNS      []string      // host names for DNS SANs, as typed
	IPs      []string      // addresses for IP SANs, as typed
	Validity time.Duration // zero: DefaultValidity
	KeyType  ca.KeyType    // zero: ca.ECP256
	Force    bool          // replace an active certificate of the same role and name
	// Origin names where the request was read from a file, such as
	// "hosts_file nodes.txt line 12". A plan refusing such a request names
	// the place instead of echoing what the file holds there.
	Origin string
}

// checked is a Request after validation: names normalized, duplicates dropped.
type checked struct {
	Request
	dns      []string
	ips      []net.IP
	reuseKey bool // re-issue with the key of the certificate replaced (PlanReissue)
}

// check validates the request and normalizes its names.
func (r Request) check() (checked, error) {
	c := checked{Request: r}
	if _, err := identity.ParseRole(string(r.Role)); err != nil {
		return c, err
	}
	if err := ValidateName(r.Name); err != nil {
		return c, err
	}
	if r.Validity < 0 {
		return c, fmt.Errorf("validity %v is negative", r.Validity)
	}
	if c.Validity == 0 {
		c.Validity = DefaultValidity
	}
	if c.KeyType == "" {
		c.KeyType = ca.ECP256
	}
	if _, err := ca.ParseKeyType(string(c.KeyType)); err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for _, d := range r.DNS {
		n, err := NormalizeDNS(d)
		if err != nil {
			return c, err
		}
		if !seen[n] {
			seen[n] = true
			c.dns = append(c.dns, n)
		}
	}
	for _, s := range r.IPs {
		ip, err := ParseIP(s)
		if err != nil {
			return c, err
		}
		if !seen[ip.String()] {
			seen[ip.String()] = true
			c.ips = append(c.ips, ip)
		}
	}
	return c, nil
}

// Validate reports whether the request is well-formed, without issuing.
func (r Request) Validate() error {
	_, err := r.check()
	return err
}
