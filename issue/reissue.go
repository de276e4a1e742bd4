package issue

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/store"
)

// minLifetime is the shortest lifetime a re-issued certificate gets from an
// old one whose recorded dates say less (a hand-edited or imported record).
const minLifetime = time.Hour

// ReissueOptions tune PlanReissue.
type ReissueOptions struct {
	// Validity is the lifetime of every new certificate; zero: that of the
	// certificate it replaces.
	Validity time.Duration
	// ReuseKey keeps each endpoint's key: its key file must hold the key of
	// the certificate it replaces. Otherwise every endpoint gets a new key.
	ReuseKey bool
}

// PlanReissue plans replacing each of recs (active records) with a new
// certificate from is.CA: same role, name, DNS names, IP addresses and key
// type, the lifetime o.Validity or the old one's. IssueBulk carries the
// plan out through the same pipeline as a bulk issue, so renewals and the
// re-issue of a CA rotation are batched, crash-safe and as fast.
//
// A record is refused (ActionRefuse, with the reason) when its recorded
// names no longer parse or the CA's name constraints refuse them, and when
// the new certificate would outlive the issuing CA certificate: the CA
// never cuts a lifetime short (see ca.Authority.SignDER), so the fix is a
// shorter validity or a CA rotation, and the reason says so. Making a plan
// writes nothing.
func (is *Issuer) PlanReissue(recs []store.Record, o ReissueOptions) Plan {
	p := Plan{Items: make([]PlanItem, len(recs))}
	now := is.now()
	issuerEnd := is.CA.Issuer().NotAfter
	for i, old := range recs {
		it := &p.Items[i]
		cur := old
		it.Current = &cur
		it.Request = Request{
			Role: identity.Role(old.Role), Name: old.Name, DNS: old.DNS, IPs: old.IPs,
			KeyType: ca.KeyType(old.KeyType), Validity: o.Validity, Force: true,
		}
		if it.Request.Validity <= 0 {
			it.Request.Validity = max(old.NotAfter.Sub(old.NotBefore)-Backdate, minLifetime)
		}
		if _, err := ca.ParseKeyType(old.KeyType); err != nil {
			it.Request.KeyType = ca.ECP256 // an imported record of an unknown type
		}
		c, err := it.Request.check()
		if err == nil {
			err = is.checkConstraints(c, now)
		}
		if err == nil && now.Add(c.Validity).After(issuerEnd) {
			err = fmt.Errorf("a certificate valid for %s would outlive the issuing CA certificate, which expires %s: %w; give a shorter validity or rotate the CA (daskca ca rotate begin)",
				c.Validity, stamp(issuerEnd), ca.ErrOutlivesIssuer)
		}
		if err != nil {
			it.Err = fmt.Errorf("re-issuing %s/%s (serial %s): %w", old.Role, old.Name, old.Serial, err)
			it.Action, it.Reason = ActionRefuse, it.Err.Error()
			continue
		}
		c.reuseKey = o.ReuseKey
		it.c, it.Action, it.Reason = c, ActionIssue, "replaces "+old.Serial
	}
	return p
}

// reusedKey returns the key in the key file of old after checking that it
// belongs to old's certificate.
func (is *Issuer) reusedKey(old *store.Record) (crypto.Signer, error) {
	path := old.KeyFile
	if path == "" {
		path = is.Layout.Endpoint(old.Role, old.Name).Key
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
