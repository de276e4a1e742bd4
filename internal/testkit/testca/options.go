package testca

import (
	"crypto/x509"
	"net"
	"time"
)

// KeyType selects the algorithm of a generated key.
type KeyType int

// Key types. P256 is the default for the CA and for leaves, as it is for
// daskca itself.
const (
	P256 KeyType = iota
	P384
	Ed25519
	RSA2048
)

// String returns a short name of the key type, usable as a subtest name.
func (k KeyType) String() string {
	switch k {
	case P256:
		return "P-256"
	case P384:
		return "P-384"
	case Ed25519:
		return "Ed25519"
	case RSA2048:
		return "RSA-2048"
	default:
		return "unknown"
	}
}

// KeyEncoding selects the PEM form of a private key.
type KeyEncoding int

// Key encodings. PKCS8 ("PRIVATE KEY") works for every key type; SEC1 ("EC
// PRIVATE KEY") only for ECDSA keys and PKCS1 ("RSA PRIVATE KEY") only for RSA
// keys.
const (
	PKCS8 KeyEncoding = iota
	SEC1
	PKCS1
)

// defaultLifetime is long enough for any test run and short enough that a
// leaked test certificate is worthless soon.
const defaultLifetime = 24 * time.Hour

// backdate tolerates small clock differences between the test and the
// processes it starts.
const backdate = time.Hour

// config is what options act on. The zero value is completed by defaults.
type config struct {
	keyType     KeyType
	encoding    KeyEncoding
	notBefore   time.Time
	notAfter    time.Time
	eku         []x509.ExtKeyUsage
	ekuSet      bool
	dns         []string
	ips         []net.IP
	sansSet     bool
	noIdentity  bool
	commonName  string
	trustDomain string
}

// Option changes how a CA or a leaf is made. Options that make no sense for
// a CA (EKU, SANs, identity) are ignored by New.
type Option func(*config)

// WithKeyType selects the key algorithm (default P256).
func WithKeyType(k KeyType) Option { return func(c *config) { c.keyType = k } }

// WithKeyEncoding selects the PEM form of the leaf key (default PKCS8). A
// combination the key type cannot have (SEC1 for RSA) fails the test.
func WithKeyEncoding(e KeyEncoding) Option { return func(c *config) { c.encoding = e } }

// WithValidity sets the validity window exactly, so tests can make expired
// or not-yet-valid certificates. By default it is one hour ago to one day
// from now.
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(c *config) { c.notBefore, c.notAfter = notBefore, notAfter }
}

// WithEKU replaces the role's extended key usages. WithEKU() with no
// arguments leaves the extension out entirely, which Dask accepts for any
// role.
func WithEKU(eku ...x509.ExtKeyUsage) Option {
	return func(c *config) { c.eku, c.ekuSet = eku, true }
}

// WithSANs replaces the DNS and IP SANs (default localhost, 127.0.0.1, ::1).
// Empty lists leave those SANs out.
func WithSANs(dns []string, ips []net.IP) Option {
	return func(c *config) { c.dns, c.ips, c.sansSet = dns, ips, true }
}

// WithoutIdentity leaves out the SPIFFE URI SAN, making a certificate that
// is valid for Dask but carries no daskca identity.
func WithoutIdentity() Option { return func(c *config) { c.noIdentity = true } }

// WithCommonName sets the subject common name (default: the endpoint name
// for leaves, "daskca test CA" for the CA).
func WithCommonName(cn string) Option { return func(c *config) { c.commonName = cn } }

// WithTrustDomain sets the trust domain of the CA, used in the SPIFFE URIs of
// its leaves (default "test.daskca.invalid"). Only New reads it.
func WithTrustDomain(td string) Option { return func(c *config) { c.trustDomain = td } }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.notBefore.IsZero() && c.notAfter.IsZero() {
		now := time.Now()
		c.notBefore, c.notAfter = now.Add(-backdate), now.Add(defaultLifetime)
	}
	if !c.sansSet {
		c.dns = []string{"localhost"}
		c.ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	return c
}
