package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// verifyServer checks, on the dialing side, the server's chain against the
// CA bundle of m, its hostname when asked to, then authorizes it.
func (s *Security) verifyServer(m *material, cs tls.ConnectionState, host string, expect []identity.Role) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: server sent no certificate", ErrPeerRefused)
	}
	leaf := cs.PeerCertificates[0]
	chains, err := m.cache.chains.verify(cs.PeerCertificates, m.roots, s.now(), x509.ExtKeyUsageServerAuth)
	if err != nil {
		return fmt.Errorf("verifying server certificate %s: %w", describeCert(leaf), err)
	}
	if s.cfg.Daskca.VerifyHostname {
		if host == "" {
			return fmt.Errorf("%w: daskca.verify-hostname is on but the dialed host is unknown "+
				"(use ClientConfigFor, or set ServerName)", ErrPeerRefused)
		}
		if err := leaf.VerifyHostname(host); err != nil {
			return fmt.Errorf("%w: %w", ErrPeerRefused, err)
		}
	}
	return s.authorize(m, leaf, chains, expect, "dialer")
}

// authorize applies revocation and the role policy to a peer whose chains
// are already verified. side is "listener" or "dialer", for messages.
func (s *Security) authorize(m *material, leaf *x509.Certificate, chains [][]*x509.Certificate, allow []identity.Role, side string) error {
	if err := m.checkRevoked(leaf, chains); err != nil {
		return err
	}
	if s.cfg.Daskca.Policy() == daskconfig.PolicyDask {
		return nil
	}
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return fmt.Errorf("%w: certificate %s: %w (the strict role policy needs one; "+
			"daskca.role-policy: dask accepts any certificate from the CA)", ErrPeerRefused, describeCert(leaf), err)
	}
	if id.TrustDomain != m.self.TrustDomain {
		return fmt.Errorf("%w: %s is from trust domain %q, ours is %q", ErrPeerRefused, id, id.TrustDomain, m.self.TrustDomain)
	}
	if !slices.Contains(allow, id.Role) {
		return fmt.Errorf("%w: %s has role %s; this %s %s accepts %v", ErrPeerRefused, id, id.Role, s.role, side, allow)
	}
	return nil
}

// checkRevoked refuses a peer if its certificate or an intermediate in any
// verified chain is listed in a CRL of the issuer that signed it.
func (m *material) checkRevoked(leaf *x509.Certificate, chains [][]*x509.Certificate) error {
	if len(m.revoked) == 0 {
		return nil
	}
	seen := []*x509.Certificate{leaf}
	for _, ch := range chains {
		if len(ch) > 2 {
			seen = append(seen, ch[1:len(ch)-1]...)
		}
	}
	for _, c := range seen {
		if _, ok := m.revoked[revocationKey(c.RawIssuer, c.SerialNumber.String())]; ok {
			return fmt.Errorf("%w: %w: certificate %s", ErrPeerRefused, ErrRevoked, describeCert(c))
		}
	}
	return nil
}

func revocationKey(rawIssuer []byte, serial string) string {
	return string(rawIssuer) + "\x00" + serial
}

// describeCert names a certificate for logs and errors: its subject, serial
// and, when present, its daskca identity.
func describeCert(c *x509.Certificate) string {
	s := fmt.Sprintf("%q (serial %s)", c.Subject.String(), c.SerialNumber.Text(16))
	if id, err := identity.FromCertificate(c); err == nil {
		s += " " + id.String()
	}
	return s
}

// peerIdentity returns the daskca identity and leaf certificate of the peer
// of a completed handshake, for logging who connected. The certificate is
// returned even when it carries no identity (err wraps
// identity.ErrNoIdentity then, as under the "dask" role policy).
func peerIdentity(state tls.ConnectionState) (identity.ID, *x509.Certificate, error) {
	if len(state.PeerCertificates) == 0 {
		return identity.ID{}, nil, errors.New("peer identity: no peer certificate")
	}
	leaf := state.PeerCertificates[0]
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return identity.ID{}, leaf, fmt.Errorf("peer identity of %s: %w", describeCert(leaf), err)
	}
	return id, leaf, nil
}
