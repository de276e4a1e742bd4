package lifecycle

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// DefaultNextUpdate is how long a CRL is current when the caller does not
// say: a week, with `daskca crl` run daily from cron, leaves six days to
// notice a failing job before endpoints warn of a stale CRL.
const DefaultNextUpdate = 7 * 24 * time.Hour

// CRL is one signed revocation list.
type CRL struct {
	DER        []byte    `json:"-"`
	Issuer     string    `json:"issuer"`
	Number     uint64    `json:"number"`
	Revoked    int       `json:"revoked"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
}

// CRLs signs a CRL for the signing CA and, during a rotation, for the other
// CA in the bundle, each listing the revoked, unexpired certificates it
// issued. nextUpdate is how long they are current; zero means
// DefaultNextUpdate.
func (m *Manager) CRLs(nextUpdate time.Duration) ([]CRL, error) {
	if _, err := m.signer(); err != nil {
		return nil, err
	}
	if nextUpdate <= 0 {
		nextUpdate = DefaultNextUpdate
	}
	cas := []*ca.Authority{m.CA}
	peer, err := m.peerCA()
	if err != nil {
		return nil, err
	}
	if peer != nil {
		cas = append(cas, peer)
	}
	var out []CRL
	for _, a := range cas {
		c, err := m.crlFor(a, nextUpdate)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// crlFor signs a's CRL.
func (m *Manager) crlFor(a *ca.Authority, nextUpdate time.Duration) (CRL, error) {
	now := m.now().UTC().Truncate(time.Second)
	var entries []x509.RevocationListEntry
	by := signedBy(a)
	err := m.Store.List(store.Filter{Status: store.Revoked}, func(r store.Record) error {
		if !by(r) || now.After(r.NotAfter) {
			return nil
		}
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return fmt.Errorf("record serial %q is not hex", r.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber: serial, RevocationTime: r.RevokedAt, ReasonCode: Reason(r.RevocationReason).Code(),
		})
		return nil
	})
	if err != nil {
		return CRL{}, err
	}
	// RFC 5280 cRLNumber must grow for each CRL an issuer publishes; one
	// number for all issuers keeps that true for each, and taking it above
	// what the home has ever published keeps it true after a restore.
	n, err := homefiles.NextCRLNumber(m.Layout, m.Store)
	if err != nil {
		return CRL{}, err
	}
	der, err := a.CRL(entries, new(big.Int).SetUint64(n), now, now.Add(nextUpdate))
	if err != nil {
		return CRL{}, err
	}
	return CRL{DER: der, Issuer: a.Issuer().Subject.String(), Number: n, Revoked: len(entries),
		ThisUpdate: now, NextUpdate: now.Add(nextUpdate)}, nil
}

// CRLsPEM encodes CRLs as consecutive "X509 CRL" PEM blocks, the form
// daskca.crl-file reads.
func CRLsPEM(crls []CRL) []byte {
	var out []byte
	for _, c := range crls {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.DER})...)
	}
	return out
}

// PublishCRL signs fresh CRLs (see CRLs) and writes them atomically to the
// home's crl.pem, the file endpoints' daskca.crl-file points at.
func (m *Manager) PublishCRL(nextUpdate time.Duration) ([]CRL, error) {
	crls, err := m.CRLs(nextUpdate)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(m.Layout.CRL(), CRLsPEM(crls), 0o644); err != nil {
		return nil, err
	}
	return crls, nil
}

// Revocation is what RevokeEndpoint did.
type Revocation struct {
	// Record is the certificate the query named, as now stored.
	Record store.Record
	// Earlier are the endpoint's superseded certificates that were still
	// valid and were revoked with it (only when the query named the
	// endpoint rather than a serial).
	Earlier []store.Record
	// CRLs are the lists published to the home's crl.pem.
	CRLs []CRL
}

// Revoke is RevokeEndpoint, returning the named record and the CRLs.
func (m *Manager) Revoke(query string, reason Reason) (store.Record, []CRL, error) {
	r, err := m.RevokeEndpoint(query, reason)
	return r.Record, r.CRLs, err
}

// RevokeEndpoint marks the certificate query names (as issue.Find reads
// it) revoked for reason and publishes fresh CRLs to the home's crl.pem.
// When the query names an endpoint (NAME or ROLE/NAME) rather than a
// serial, the endpoint's superseded certificates that have not expired are
// revoked too: a renewal leaves its predecessor valid until it expires, and
// an operator who revokes node07 means every certificate node07 could
// still present. A serial revokes that certificate alone. The records are
// revoked even if publishing fails; the error then says so.
func (m *Manager) RevokeEndpoint(query string, reason Reason) (Revocation, error) {
	rec, err := issue.Find(m.Store, query)
	if err != nil {
		return Revocation{}, err
	}
	var earlier []store.Record
	if !namesSerial(query, rec.Serial) {
		if earlier, err = m.validSuperseded(rec); err != nil {
			return Revocation{}, err
		}
	}
	rec, err = m.Store.Revoke(rec.Serial, string(reason), m.now(), m.Actor)
	already := errors.Is(err, store.ErrAlreadyRevoked)
	if err != nil && !already {
		return Revocation{Record: rec}, err
	}
	out := Revocation{Record: rec}
	for _, e := range earlier {
		r, err := m.Store.Revoke(e.Serial, string(reason), m.now(), m.Actor)
		if err != nil && !errors.Is(err, store.ErrAlreadyRevoked) {
			return out, fmt.Errorf("revoking %s/%s's earlier certificate %s: %w", e.Role, e.Name, e.Serial, err)
		}
		if err == nil {
			out.Earlier = append(out.Earlier, r)
		}
	}
	if already && len(out.Earlier) == 0 {
		return out, err
	}
	crls, perr := m.PublishCRL(0)
	if perr != nil {
		return out, fmt.Errorf("%s/%s is revoked, but the CRL was not updated (run daskca crl): %w", rec.Role, rec.Name, perr)
	}
	out.CRLs = crls
	return out, nil
}

// namesSerial reports whether query is serial written as a serial (hex,
// with or without colons), not a name.
func namesSerial(query, serial string) bool {
	s, err := store.NormalizeSerial(query)
	return err == nil && s == serial
}

// validSuperseded returns the superseded, unexpired certificates of rec's
// endpoint.
func (m *Manager) validSuperseded(rec store.Record) ([]store.Record, error) {
	recs, err := m.Store.ByName(rec.Name)
	if err != nil {
		return nil, err
	}
	now := m.now()
	var out []store.Record
	for _, r := range recs {
		if r.Role == rec.Role && r.Serial != rec.Serial && r.Status == store.Superseded && now.Before(r.NotAfter) {
			out = append(out, r)
		}
	}
	return out, nil
}
