package enrol

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strings"

	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// ErrScope is wrapped by every refusal for asking more than a token allows.
var ErrScope = errors.New("outside the token's scope")

// checkScope decides whether the token t allows the vetted request f (role
// wanted: the request's role field, "" if none). The scope is strict:
//   - the role is the token's (the request's role and CSR OU, if given,
//     must name it);
//   - the name (the CSR's CN) is the token's --name, or matches its --names
//     pattern;
//   - every DNS name is the endpoint name itself or a name under it
//     (node07, node07.dask.internal for node07), so a token for node* can
//     never be turned into a certificate for another host's name;
//   - every IP lies in the token's --ip-range; without one, no IP SANs.
func checkScope(t store.TokenRecord, wantRole string, f csrFacts) error {
	for _, r := range []string{wantRole, f.role} {
		if r != "" && r != t.Role {
			return fmt.Errorf("%w: role %s asked for, the token is for %s", ErrScope, r, t.Role)
		}
	}
	if err := issue.ValidateName(f.name); err != nil {
		return fmt.Errorf("%w: %w", ErrCSR, err)
	}
	switch {
	case t.Name != "" && f.name != t.Name:
		return fmt.Errorf("%w: name %s, the token is for %s", ErrScope, f.name, t.Name)
	case t.Names != "":
		if ok, err := path.Match(t.Names, f.name); err != nil || !ok {
			return fmt.Errorf("%w: name %s does not match %s", ErrScope, f.name, t.Names)
		}
	}
	lname := strings.ToLower(f.name)
	for _, d := range f.dns {
		n, err := issue.NormalizeDNS(d)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCSR, err)
		}
		if n != lname && !strings.HasPrefix(n, lname+".") {
			return fmt.Errorf("%w: DNS name %s is not %s or a name under it", ErrScope, n, lname)
		}
	}
	var ipnet *net.IPNet
	if t.IPRange != "" {
		_, ipnet, _ = net.ParseCIDR(t.IPRange)
	}
	for _, s := range f.ips {
		ip := net.ParseIP(s)
		if ipnet == nil || ip == nil || !ipnet.Contains(ip) {
			if t.IPRange == "" {
				return fmt.Errorf("%w: IP %s, the token allows no IP addresses", ErrScope, s)
			}
			return fmt.Errorf("%w: IP %s is not in %s", ErrScope, s, t.IPRange)
		}
	}
	return nil
}
