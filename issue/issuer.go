package issue

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Issuer issues endpoint certificates from one CA into one inventory and home.
// It is safe for concurrent use if its Store is.
type Issuer struct {
	CA     *ca.Authority
	Store  *store.Store
	Layout home.Layout
	Now    func() time.Time // zero: time.Now
	Actor  string           // recorded in audit events
	// Logf, if set, gets a line for each pending directory Recover
	// discards.
	Logf func(format string, args ...any)
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// Issue validates req, signs a new certificate, records it and writes its
// files. It refuses a (role, name) that has an active certificate unless
// req.Force is set, in which case the old record is marked superseded in the
// same transaction. On any error nothing is recorded and no file changes.
func (is *Issuer) Issue(ctx context.Context, req Request) (store.Record, error) {
	c, err := req.check()
	if err != nil {
		return store.Record{}, err
	}
	old, exists, err := is.Store.Active(string(c.Role), c.Name)
	if err != nil {
		return store.Record{}, err
	}
	if exists && !c.Force {
		return store.Record{}, fmt.Errorf("%s %s: %w (serial %s, expires %s)",
			c.Role, c.Name, ErrActive, old.Serial, old.NotAfter.UTC().Format(time.RFC3339))
	}
	it := PlanItem{Request: req, Action: ActionIssue, c: c}
	if exists {
		it.Current = &old
	}
	var rec store.Record
	_, err = is.IssueBulk(ctx, Plan{Items: []PlanItem{it}}, BulkOptions{
		Workers: 1, BatchSize: 1, OnIssued: func(r store.Record) { rec = r },
	})
	return rec, err
}

// signed is a certificate with everything needed to record and write it.
type signed struct {
	rec   store.Record
	files []file
}

type file struct {
	path string
	data []byte
	mode fs.FileMode
}

// caFacts are what every certificate of one run takes from the CA.
type caFacts struct {
	bundle   []byte // the trust bundle, PEM
	issuerFP string // the issuing CA certificate's fingerprint
}

func (is *Issuer) caFacts() caFacts {
	return caFacts{bundle: is.CA.BundlePEM(), issuerFP: ca.Fingerprint(is.CA.Issuer())}
}

// signWith generates a key of c's type, unless key is a key generated ahead
// or the one re-used, signs its certificate with the CA's facts computed
// once for a whole run, and returns the files of the endpoint: the
// certificate with its chain, the key, the trust bundle and, if combined,
// the certificate chain and key in one file (config --combined).
func (is *Issuer) signWith(c checked, f caFacts, key crypto.Signer, combined bool) (signed, error) {
	id := identity.ID{TrustDomain: is.CA.TrustDomain, Role: c.Role, Name: c.Name}
	if key == nil {
		var err error
		if key, err = ca.GenerateKey(c.KeyType); err != nil {
			return signed{}, err
		}
	}
	cert, rec, err := is.signPublic(id, c, f, key.Public())
	if err != nil {
		return signed{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return signed{}, err
	}
	paths := is.Layout.Endpoint(string(c.Role), c.Name)
	rec.CertFile, rec.KeyFile, rec.CAFile = paths.Cert, paths.Key, paths.CA
	chain := ChainPEM(cert, is.CA.Chain())
	s := signed{
		rec: rec,
		files: []file{
			{paths.Cert, chain, 0o644},
			{paths.Key, keyPEM, 0o600},
			{paths.CA, f.bundle, 0o644},
		},
	}
	if combined {
		s.files = append(s.files, file{paths.Combined, append(slices.Clip(chain), keyPEM...), 0o600})
	}
	return s, nil
}

// signPublic signs the certificate of identity id for the public key pub
// with the request's names, key type and validity: the one place where an
// endpoint certificate is made, whether its key was generated here (issue,
// bulk issue) or on the endpoint's host (enrolment).
func (is *Issuer) signPublic(id identity.ID, c checked, f caFacts, pub crypto.PublicKey) (*x509.Certificate, store.Record, error) {
	now := is.now()
	tmpl := Template(id, c.dns, c.ips, c.KeyType, now.Add(-Backdate), now.Add(c.Validity))
	cert, err := is.CA.SignDER(tmpl, pub)
	if err != nil {
		return nil, store.Record{}, fmt.Errorf("issuing %s/%s: %w", c.Role, c.Name, err)
	}
	rec := RecordOf(cert, c.KeyType, now)
	rec.Issuer = f.issuerFP
	return cert, rec, nil
}

// RecordOf describes a signed certificate for the inventory. File paths
// are left for the caller.
func RecordOf(cert *x509.Certificate, kt ca.KeyType, issuedAt time.Time) store.Record {
	rec := store.Record{
		Serial:            SerialString(cert),
		Role:              firstOr(cert.Subject.OrganizationalUnit, ""),
		Name:              cert.Subject.CommonName,
		Status:            store.Active,
		NotBefore:         cert.NotBefore.UTC(),
		NotAfter:          cert.NotAfter.UTC(),
		DNS:               append([]string{}, cert.DNSNames...),
		FingerprintSHA256: ca.Fingerprint(cert),
		KeyType:           string(kt),
		DER:               cert.Raw,
		IssuedAt:          issuedAt.UTC().Truncate(time.Second),
	}
	if id, err := identity.FromCertificate(cert); err == nil {
		rec.URI = id.String()
		rec.Role = string(id.Role)
		rec.Name = id.Name
	}
	for _, ip := range cert.IPAddresses {
		rec.IPs = append(rec.IPs, ip.String())
	}
	return rec
}

// SerialString is the inventory's form of a serial number: lower-case hex.
func SerialString(cert *x509.Certificate) string { return cert.SerialNumber.Text(16) }

// ChainPEM encodes a leaf followed by its chain, as Dask reads a cert file.
func ChainPEM(leaf *x509.Certificate, chain []*x509.Certificate) []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	for _, c := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// encodeKey writes a leaf key as unencrypted PKCS#8 PEM: Dask loads it
// without a password, so its protection is the file mode.
func encodeKey(key crypto.Signer) ([]byte, error) {
	blk, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	return pem.EncodeToMemory(blk), nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
