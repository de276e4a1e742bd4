package transport

import (
	"crypto/x509"
	"log/slog"
	"maps"

	"github.com/daskca/daskca/transport/wire"
)

// Live revocation. A CRL reload changes who may connect from then on; a
// revoked peer that is already connected (a worker's stream to its
// scheduler, a pooled comm) would otherwise stay. So endpoints hand their
// established comms to their Security, and every reload that brings new
// revocations closes the comms of the peers it revokes, logging each.

// track watches c until it closes: a reload that revokes its peer's
// certificate (or an intermediate the peer sent) closes it, logging that
// to log (the endpoint's logger). tcp:// comms have no certificate and are
// not tracked.
func (s *Security) track(c *wire.Comm, log *slog.Logger) {
	if s == nil || c.TLSState() == nil {
		return
	}
	s.liveMu.Lock()
	if s.live == nil {
		s.live = map[*wire.Comm]*slog.Logger{}
	}
	s.live[c] = log
	s.liveMu.Unlock()
	c.OnClose(func() {
		s.liveMu.Lock()
		delete(s.live, c)
		s.liveMu.Unlock()
	})
}

// dropRevoked closes every tracked comm whose peer m revokes, when m
// revokes anything old did not.
func (s *Security) dropRevoked(old, m *material) {
	if !revokesMore(old, m) {
		return
	}
	s.liveMu.Lock()
	comms := maps.Clone(s.live)
	s.liveMu.Unlock()
	for c, log := range comms {
		st := c.TLSState()
		if st == nil {
			continue
		}
		if cert := m.revokedAmong(st.PeerCertificates); cert != nil {
			log.Warn("closing the connection of a peer the new CRL revokes",
				append(PeerOf(c).LogAttrs(), "local_role", s.role, "revoked", describeCert(cert))...)
			_ = c.Close()
		}
	}
}

// revokesMore reports whether m revokes a certificate that old did not.
func revokesMore(old, m *material) bool {
	for k := range m.revoked {
		if _, ok := old.revoked[k]; !ok {
			return true
		}
	}
	return false
}

// revokedAmong returns the first of certs (a peer's leaf and the
// intermediates it sent) that m's CRLs list, or nil.
func (m *material) revokedAmong(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if _, ok := m.revoked[revocationKey(c.RawIssuer, c.SerialNumber.String())]; ok {
			return c
		}
	}
	return nil
}
