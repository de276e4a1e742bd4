package transport

import (
	"crypto/x509"
	"fmt"
)

// CheckOwnRevoked returns an error wrapping ErrBadMaterial and ErrRevoked
// when the loaded CRL lists our own certificate (or an intermediate of its
// chain): a process started with it would be refused by every peer that
// reads the same CRL. It is nil when no CRL is configured.
func (s *Security) CheckOwnRevoked() error {
	m := s.cur.Load()
	if len(m.revoked) == 0 {
		return nil
	}
	for _, c := range append([]*x509.Certificate{m.leaf()}, intermediates(m.cert)...) {
		if _, ok := m.revoked[revocationKey(c.RawIssuer, c.SerialNumber.String())]; ok {
			return fmt.Errorf("%w: %w: our certificate %s is listed in %s", ErrBadMaterial, ErrRevoked, describeCert(c), shortName(s.cfg.Daskca.CRLFile))
		}
	}
	return nil
}
