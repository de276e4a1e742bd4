package homefiles

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Shipped are the files of one endpoint, checked, ready to be shipped to
// its host.
type Shipped struct {
	Cert []byte // cert.pem: the recorded certificate, then its chain
	Key  []byte // key.pem: the certificate's private key, PEM
	CA   []byte // the CA's own trust bundle (not the endpoint's ca.pem)
}

// ErrNotShippable: an endpoint's files are not what its record says, so
// nothing of them is shipped.
var ErrNotShippable = errors.New("refusing to ship the endpoint's files")

// ReadEndpoint reads the files of rec's endpoint for export, config
// --format k8s-secret and the combined file, and checks them first: the
// directories from the home down to the endpoint's are plain directories
// of the user that no one else can write (home.Layout.SafeDir); cert.pem
// and key.pem are regular files, read without following a link; cert.pem
// is the recorded certificate followed only by CA certificates of this
// home; key.pem has no permission bits for group or others and holds the
// private key of that certificate. The CA bundle shipped is the CA's own
// (CABundle), whatever the endpoint's ca.pem holds. Errors wrap
// ErrNotShippable.
func ReadEndpoint(l home.Layout, rec store.Record) (Shipped, error) {
	fail := func(err error) (Shipped, error) {
		return Shipped{}, fmt.Errorf("%s/%s: %w: %w", rec.Role, rec.Name, ErrNotShippable, err)
	}
	if err := l.SafeEndpointDir(rec.Role, rec.Name, false); err != nil {
		return fail(err)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return fail(fmt.Errorf("recorded certificate: %w", err))
	}
	as, err := LoadAuthorities(l)
	if err != nil {
		return fail(err)
	}
	f := l.Endpoint(rec.Role, rec.Name)
	var out Shipped
	if out.Cert, err = readChain(f.Cert, cert, as); err != nil {
		return fail(err)
	}
	if out.Key, err = readKey(f.Key, cert); err != nil {
		return fail(err)
	}
	if out.CA, err = CABundle(l); err != nil {
		return fail(err)
	}
	return out, nil
}

// CABundle is the trust bundle the CA in use defines
// (ca.Authority.BundlePEM: its root, and during a rotation the other
// root): what ca-bundle.pem and every endpoint's ca.pem must hold.
func CABundle(l home.Layout) ([]byte, error) {
	a, err := ca.LoadPublic(l.CADir())
	if err != nil {
		return nil, err
	}
	return a.BundlePEM(), nil
}

// readChain reads a certificate file that must start with cert and hold
// nothing but CA certificates of as after it.
func readChain(path string, cert *x509.Certificate, as Authorities) ([]byte, error) {
	data, _, err := fsutil.ReadRegular(path)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertsData(data)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	case !certs[0].Equal(cert):
		return nil, fmt.Errorf("%s holds serial %s, not the recorded certificate", path, certs[0].SerialNumber.Text(16))
	}
	for _, c := range certs[1:] {
		if as[ca.Fingerprint(c)] == nil {
			return nil, fmt.Errorf("%s: %q after the certificate is not a CA certificate of this home", path, c.Subject.String())
		}
	}
	return data, nil
}

// readKey reads a key file that must be private to its owner and hold
// cert's private key.
func readKey(path string, cert *x509.Certificate) ([]byte, error) {
	data, mode, err := fsutil.ReadRegular(path)
	if err != nil {
		return nil, err
	}
	if mode.Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o, want no bits of 0077 (chmod 0600 %s)", path, mode.Perm(), path)
	}
	if err := checkKey(path, data, cert); err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(data); b == nil {
		return nil, fmt.Errorf("%s: not PEM", path)
	}
	return data, nil
}
