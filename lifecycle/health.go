package lifecycle

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// Health is the status of a whole home: Evaluate over the inventory plus
// findings about the CA, the CRL, unfinished operations and the rotation.
type Health struct {
	Report
	CAs      []CAState `json:"cas"`
	CRLs     []CRL     `json:"crls"`
	Rotation Rotation  `json:"rotation"`
}

// CAState is one CA certificate of the trust bundle or the signing chain.
type CAState struct {
	Kind        string    `json:"kind"` // root, intermediate, overlap-root
	Subject     string    `json:"subject"`
	Fingerprint string    `json:"fingerprint_sha256"`
	NotAfter    time.Time `json:"not_after"`
}

// Health reads the home without changing it and judges it at m.Now. It
// needs no CA key: m.CA may be nil. within is as for Evaluate.
func (m *Manager) Health(within time.Duration) (Health, error) {
	now := m.now()
	var recs []store.Record
	if err := m.Store.List(store.Filter{}, func(r store.Record) error { recs = append(recs, r); return nil }); err != nil {
		return Health{}, err
	}
	h := Health{Report: Evaluate(recs, now, within, m.filesInUse)}
	var err error
	if h.Rotation, err = m.State(); err != nil {
		return h, err
	}
	a, err := ca.LoadPublic(m.Layout.CADir())
	if err != nil {
		return h, fmt.Errorf("%w (if a CA rotation was interrupted, re-run its last phase)", err)
	}
	m.checkCA(&h, a, now)
	m.checkCRL(&h, recs, now)
	m.checkUnrevoked(&h)
	m.checkBundles(&h, recs, now)
	pend, err := issue.FindPending(m.Layout)
	if err != nil {
		return h, err
	}
	for _, p := range pend {
		if p.Role == "" || p.Name == "" { // known from the record only
			role, name := "?", "?"
			if rec, err := m.Store.Cert(p.Serial); err == nil {
				role, name = rec.Role, rec.Name
			}
			p.Role, p.Name = cmp.Or(p.Role, role), cmp.Or(p.Name, name)
		}
		h.Add(Warning, fmt.Sprintf("files of %s/%s (serial %s) are not in place yet: run daskca renew to finish", p.Role, p.Name, p.Serial))
	}
	if h.Rotation.Phase != PhaseNone {
		h.Add(OK, fmt.Sprintf("CA rotation under way, phase %s: see daskca ca rotate status", h.Rotation.Phase))
	}
	return h, nil
}

// filesInUse reports whether r's certificate file still holds r.
func (m *Manager) filesInUse(r store.Record) bool {
	path := r.CertFile
	if path == "" {
		path = m.Layout.Endpoint(r.Role, r.Name).Cert
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	return block != nil && bytes.Equal(block.Bytes, r.DER)
}

type caCert struct {
	kind string
	c    *x509.Certificate
}

// checkCA reports CA certificates that are expired, or that expire before
// a certificate issued today with the default lifetime would (renewals are
// then cut short: time to rotate the CA).
func (m *Manager) checkCA(h *Health, a *ca.Authority, now time.Time) {
	certs := []caCert{{"root", a.Root}}
	if a.Intermediate != nil {
		certs = append(certs, caCert{"intermediate", a.Intermediate})
	}
	for _, o := range a.Overlap {
		certs = append(certs, caCert{"overlap-root", o})
	}
	for _, c := range certs {
		h.CAs = append(h.CAs, CAState{Kind: c.kind, Subject: c.c.Subject.String(), Fingerprint: ca.Fingerprint(c.c), NotAfter: c.c.NotAfter.UTC()})
		switch {
		case c.kind == "overlap-root":
		case now.After(c.c.NotAfter):
			h.Add(Critical, fmt.Sprintf("CA %s %q expired at %s", c.kind, c.c.Subject.CommonName, c.c.NotAfter.UTC().Format(time.RFC3339)))
		case c.c.NotAfter.Before(now.Add(issue.DefaultValidity)):
			h.Add(Warning, fmt.Sprintf("CA %s %q expires at %s, within a leaf lifetime: rotate the CA (daskca ca rotate begin)",
				c.kind, c.c.Subject.CommonName, c.c.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
}

// checkCRL reports a missing or stale crl.pem, or one that lacks a revoked,
// unexpired certificate, when there is anything to revoke.
func (m *Manager) checkCRL(h *Health, recs []store.Record, now time.Time) {
	listed := map[string]bool{}
	data, err := os.ReadFile(m.Layout.CRL())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.Add(Warning, fmt.Sprintf("reading %s: %v", m.Layout.CRL(), err))
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			h.Add(Warning, fmt.Sprintf("%s: %v: run daskca crl", m.Layout.CRL(), err))
			continue
		}
		h.CRLs = append(h.CRLs, CRL{Issuer: crl.Issuer.String(), Number: crl.Number.Uint64(), Revoked: len(crl.RevokedCertificateEntries),
			ThisUpdate: crl.ThisUpdate.UTC(), NextUpdate: crl.NextUpdate.UTC()})
		if now.After(crl.NextUpdate) {
			h.Add(Warning, fmt.Sprintf("the CRL of %q was due for renewal at %s: run daskca crl", crl.Issuer.CommonName, crl.NextUpdate.UTC().Format(time.RFC3339)))
		}
		for _, e := range crl.RevokedCertificateEntries {
			listed[e.SerialNumber.Text(16)] = true
		}
	}
	for _, r := range recs {
		if r.Status == store.Revoked && !now.After(r.NotAfter) && !listed[r.Serial] {
			h.Add(Warning, fmt.Sprintf("revoked %s/%s (serial %s) is not on %s: run daskca crl", r.Role, r.Name, r.Serial, m.Layout.CRL()))
		}
	}
}

// checkUnrevoked reports, as critical, certificates the published CRLs
// revoke that the inventory holds as not revoked (an older inventory
// restored): the next CRL would let them in again.
func (m *Manager) checkUnrevoked(h *Health) {
	as, err := homefiles.LoadAuthorities(m.Layout)
	if err != nil {
		h.Add(Warning, fmt.Sprintf("checking the CRL against the inventory: %v", err))
		return
	}
	p, err := homefiles.ReadPublished(m.Layout, as)
	if err != nil {
		h.Add(Critical, err.Error())
		return
	}
	for _, d := range homefiles.Unrevoked(m.Store, p) {
		h.Add(Critical, d)
	}
}

// checkBundles checks the home's ca-bundle.pem and the ca.pem of every
// endpoint in use against the CA's own bundle: a foreign CA in one is
// critical (the endpoints loading it trust that CA), a missing root a
// warning.
func (m *Manager) checkBundles(h *Health, recs []store.Record, now time.Time) {
	check, err := homefiles.BundleChecker(m.Layout)
	if err != nil {
		h.Add(Warning, fmt.Sprintf("checking the trust bundles: %v", err))
		return
	}
	report := func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, homefiles.ErrExtraCA):
			h.Add(Critical, err.Error())
		default:
			h.Add(Warning, err.Error())
		}
	}
	report(check(m.Layout.Bundle()))
	for _, r := range recs {
		if r.Status != store.Active || now.After(r.NotAfter) || !m.filesInUse(r) {
			continue
		}
		report(check(m.Layout.Endpoint(r.Role, r.Name).CA))
	}
}
