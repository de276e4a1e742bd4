package lifecycle

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/transport/identity"
)

// minLifetime is the shortest lifetime a re-issued certificate gets from an
// old one whose recorded dates say less (a hand-edited or imported record).
const minLifetime = time.Hour

// reissued is a certificate signed to replace a record, with its files.
type reissued struct {
	old   store.Record
	rec   store.Record
	files []leafFile
}

// reissue signs, with a, a certificate with the role, name, DNS names and IP
// addresses of old and the same lifetime (validity, if not zero). The key is
// new unless reuseKey, in which case old's key file is read and must hold
// old's key. NotAfter is cut back to the issuer's own, so renewal keeps
// working in the last months of a CA (status shows the CA's expiry).
func (m *Manager) reissue(a *ca.Authority, old store.Record, reuseKey bool, validity time.Duration) (reissued, error) {
	kt, err := ca.ParseKeyType(old.KeyType)
	if err != nil {
		kt = ca.ECP256
	}
	key, err := m.leafKey(old, kt, reuseKey)
	if err != nil {
		return reissued{}, err
	}
	var ips []net.IP
	for _, s := range old.IPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return reissued{}, fmt.Errorf("re-issuing %s/%s: recorded IP %q does not parse", old.Role, old.Name, s)
		}
		if ip4 := ip.To4(); ip4 != nil {
			ip = ip4
		}
		ips = append(ips, ip)
	}
	if validity <= 0 {
		validity = max(old.NotAfter.Sub(old.NotBefore)-issue.Backdate, minLifetime)
	}
	now := m.now()
	notAfter := now.Add(validity)
	if iss := a.Issuer().NotAfter; notAfter.After(iss) {
		notAfter = iss
	}
	id := identity.ID{TrustDomain: a.TrustDomain, Role: identity.Role(old.Role), Name: old.Name}
	tmpl := issue.Template(id, old.DNS, ips, kt, now.Add(-issue.Backdate), notAfter)
	cert, err := a.Sign(tmpl, key.Public())
	if err != nil {
		return reissued{}, fmt.Errorf("re-issuing %s/%s: %w", old.Role, old.Name, err)
	}
	return m.leafFiles(a, old, cert, key, kt)
}

// leafFiles builds the record and the files of a newly signed certificate.
func (m *Manager) leafFiles(a *ca.Authority, old store.Record, cert *x509.Certificate, key crypto.Signer, kt ca.KeyType) (reissued, error) {
	block, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return reissued{}, fmt.Errorf("re-issuing %s/%s: encoding key: %w", old.Role, old.Name, err)
	}
	keyPEM := pem.EncodeToMemory(block)
	chain := issue.ChainPEM(cert, a.Chain())
	paths := m.Layout.Endpoint(old.Role, old.Name)
	rec := issue.Record(cert, kt, m.now())
	rec.CertFile, rec.KeyFile, rec.CAFile = paths.Cert, paths.Key, paths.CA
	rec.Issuer = ca.Fingerprint(a.Issuer())
	files := []leafFile{
		{"ca.pem", a.BundlePEM(), 0o644},
		{"key.pem", keyPEM, 0o600},
		{"cert.pem", chain, 0o644},
	}
	if _, err := os.Stat(paths.Combined); err == nil {
		// written by `config --combined`: keep it in step too
		files = append(files, leafFile{"combined.pem", append(append([]byte{}, chain...), keyPEM...), 0o600})
	}
	return reissued{old: old, rec: rec, files: files}, nil
}

// leafKey returns a new key of type kt or, with reuse, the key in old's key
// file after checking that it belongs to old's certificate.
func (m *Manager) leafKey(old store.Record, kt ca.KeyType, reuse bool) (crypto.Signer, error) {
	if !reuse {
		return ca.GenerateKey(kt)
	}
	path := old.KeyFile
	if path == "" {
		path = m.Layout.Endpoint(old.Role, old.Name).Key
	}
	data, _, err := fsutil.ReadRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("re-using the key of %s/%s: %w (renew without --reuse-key for a new key)", old.Role, old.Name, err)
	}
	if err != nil {
		return nil, err
	}
	k, err := pemutil.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("re-using the key of %s/%s: %s: %w", old.Role, old.Name, path, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("re-using the key of %s/%s: %s holds a %T", old.Role, old.Name, path, k)
	}
	cert, err := x509.ParseCertificate(old.DER)
	if err != nil {
		return nil, fmt.Errorf("re-using the key of %s/%s: recorded certificate: %w", old.Role, old.Name, err)
	}
	want, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	got, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil || !bytes.Equal(got, want) {
		return nil, fmt.Errorf("re-using the key of %s/%s: %s does not hold the key of certificate %s", old.Role, old.Name, path, old.Serial)
	}
	return signer, nil
}

// commit records the re-issued certificates in one transaction, together
// with meta and notes, then puts their files in place. Files are staged
// before the transaction; if it fails they are removed again.
func (m *Manager) commit(items []reissued, kind store.EventKind, detail string, meta map[string][]byte, notes []store.Note, between func() error) error {
	b := store.Batch{Meta: meta, Notes: notes}
	for _, it := range items {
		if err := m.stage(it.rec, it.files); err != nil {
			m.unstageAll(items)
			return err
		}
		b.Issue = append(b.Issue, store.Replacement{Record: it.rec, Replaces: it.old.Serial, Kind: kind, Detail: detail})
	}
	if len(b.Issue) > 0 || len(b.Meta) > 0 || len(b.Notes) > 0 {
		if err := m.Store.Apply(b, m.Actor); err != nil {
			m.unstageAll(items)
			return err
		}
	}
	if between != nil {
		if err := between(); err != nil {
			return err
		}
	}
	var errs []error
	for _, it := range items {
		errs = append(errs, m.place(it.rec.Role, it.rec.Name, it.rec.Serial))
	}
	return errors.Join(errs...)
}

func (m *Manager) unstageAll(items []reissued) {
	for _, it := range items {
		m.unstage(it.rec)
	}
}
