package ca

import (
	"cmp"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lifetimes and clock allowances of the CA certificates.
const (
	// DefaultValidity is the root's lifetime when Options.Validity is
	// zero. An organisation CA is rolled over rarely; ten years keeps that
	// a planned event rather than an outage.
	DefaultValidity = 10 * 365 * 24 * time.Hour

	// Backdate is how far before creation the CA certificates' NotBefore
	// is set. Cluster hosts whose clocks run behind the CA host would
	// otherwise reject a freshly made CA (and every leaf it signs) as
	// "not yet valid"; an hour covers ordinary skew and lets callers
	// backdate leaves by a few minutes for the same reason without
	// predating their issuer.
	Backdate = time.Hour

	// intermediateMarginDivisor sets how much earlier than the root an
	// intermediate expires: a tenth of the root's lifetime (one year of
	// the default ten). Leaves cannot outlive the intermediate, so this
	// leaves the last tenth of the root's life for rolling over to a new
	// root while the old one still verifies everything issued.
	intermediateMarginDivisor = 10
)

// Options describes a new CA. Only Name is required.
type Options struct {
	// Name is the root's subject common name and organisation, such as
	// "Acme Dask CA". The intermediate is named Name + " Intermediate".
	Name string

	// KeyType of the root and intermediate keys; zero means ECP256.
	KeyType KeyType

	// Validity is the root's lifetime from now; zero means
	// DefaultValidity. The intermediate ends a tenth of Validity before
	// the root, so it never outlives it.
	Validity time.Duration

	// Intermediate asks for an intermediate CA, signed by the root, that
	// signs the leaves. The root key can then be kept offline
	// (ExportRootKey, ForgetRootKey).
	Intermediate bool

	// PermitDNS and PermitIP, when either is set, put a critical name
	// constraints extension on the root and the intermediate. PermitDNS
	// entries are domains: "dask.internal" permits that name and every
	// name under it, ".dask.internal" only the names under it. As RFC 5280
	// says and every verifier does, a name type without permitted
	// subtrees is not limited: with PermitDNS alone, IP addresses are
	// unconstrained.
	PermitDNS []string
	PermitIP  []*net.IPNet

	// TrustDomain is the SPIFFE trust domain recorded with the CA. When
	// name constraints are set and TrustDomain is too, URIs are constrained
	// to exactly that host, which is what spiffe://<TrustDomain>/... leaf
	// URIs carry (Go and OpenSSL both accept them then; other URIs are
	// refused).
	TrustDomain string

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Authority is one organisation CA: a self-signed root and, optionally, an
// intermediate that signs the leaves.
//
// An Authority is safe for concurrent use by SignDER and CRL as long as no
// goroutine modifies its fields. Certificates it returns must not be
// modified.
type Authority struct {
	Root *x509.Certificate
	// RootKey is nil when the root key was forgotten or not loaded.
	RootKey crypto.Signer
	// Intermediate is nil when the CA has none; IntermediateKey then too.
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
	// Overlap are roots trusted alongside Root while a CA rotation is
	// under way (see OverlapFile); nil otherwise.
	Overlap []*x509.Certificate
	// TrustDomain is the SPIFFE trust domain of the CA's leaves.
	TrustDomain string
	// Insecure records that the keys are stored unencrypted.
	Insecure bool

	created time.Time // when New ran; zero for an Authority built by hand
}

// New creates a CA: generates the keys and self-signs the root, then signs
// the intermediate if asked. Nothing is written to disk; see Save.
func New(opts Options) (*Authority, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	created := now().UTC().Truncate(time.Second)
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	nc := newConstraints(opts)
	rootTmpl := caTemplate(pkix.Name{CommonName: opts.Name, Organization: []string{opts.Name}},
		created.Add(-Backdate), created.Add(validity), -1, nc)
	root, rootKey, err := makeCA(rootTmpl, nil, nil, opts.KeyType)
	if err != nil {
		return nil, fmt.Errorf("creating root %q: %w", opts.Name, err)
	}
	a := &Authority{Root: root, RootKey: rootKey, TrustDomain: opts.TrustDomain, created: created}
	if !opts.Intermediate {
		return a, nil
	}
	name := opts.Name + " Intermediate"
	intTmpl := caTemplate(pkix.Name{CommonName: name, Organization: []string{opts.Name}},
		root.NotBefore, root.NotAfter.Add(-validity/intermediateMarginDivisor), 0, nc)
	a.Intermediate, a.IntermediateKey, err = makeCA(intTmpl, root, rootKey, opts.KeyType)
	if err != nil {
		return nil, fmt.Errorf("creating intermediate %q: %w", name, err)
	}
	return a, nil
}

// MaxNameLen is the longest CA name: the upper bound of an X.520 common
// name (RFC 5280, ub-common-name).
const MaxNameLen = 64

// validate reports the first problem with opts, wrapping ErrInvalidOptions.
func (o Options) validate() error {
	switch {
	case o.Name == "":
		return fmt.Errorf("CA name is empty: %w", ErrInvalidOptions)
	case !utf8.ValidString(o.Name) || strings.ContainsFunc(o.Name, unicode.IsControl):
		return fmt.Errorf("CA name %q holds control characters or invalid UTF-8: %w", o.Name, ErrInvalidOptions)
	case utf8.RuneCountInString(o.Name) > MaxNameLen:
		return fmt.Errorf("CA name is %d characters long, more than %d: %w", utf8.RuneCountInString(o.Name), MaxNameLen, ErrInvalidOptions)
	case o.Validity < 0:
		return fmt.Errorf("validity %s is negative: %w", o.Validity, ErrInvalidOptions)
	}
	if _, err := ParseKeyType(string(o.KeyType.orDefault())); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.TrustDomain != "" && !validDomain(o.TrustDomain, false) {
		return fmt.Errorf("trust domain %q is not a lower-case DNS name: %w", o.TrustDomain, ErrInvalidOptions)
	}
	for _, d := range o.PermitDNS {
		if !validDomain(d, true) {
			return fmt.Errorf("permitted DNS domain %q is not a lower-case DNS name: %w", d, ErrInvalidOptions)
		}
	}
	for _, n := range o.PermitIP {
		if n == nil || normalizeNet(n) == nil {
			return fmt.Errorf("permitted IP range %v is not a valid CIDR: %w", n, ErrInvalidOptions)
		}
	}
	return nil
}

// caTemplate returns the profile shared by the root and the intermediate.
// maxPathLen -1 leaves the path length unconstrained.
func caTemplate(subject pkix.Name, notBefore, notAfter time.Time, maxPathLen int, nc constraints) *x509.Certificate {
	t := &x509.Certificate{
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}
	nc.apply(t)
	return t
}

// makeCA generates a key and signs tmpl with it (self-signed when parent is
// nil) or with parentKey.
func makeCA(tmpl, parent *x509.Certificate, parentKey crypto.Signer, kt KeyType) (*x509.Certificate, crypto.Signer, error) {
	key, err := GenerateKey(kt)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, err
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(key.Public()); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		// Self-signed: the AKI names the root itself, which strict
		// verifiers (OpenSSL's X509_STRICT, as Python 3.13 enables) accept
		// and path builders use to pick the right root among several.
		parent, parentKey = tmpl, key
		tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	}
	cert, err := createCertificate(tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// Issuer returns the certificate that signs leaves: the intermediate if
// there is one, otherwise the root.
func (a *Authority) Issuer() *x509.Certificate {
	if a.Intermediate != nil {
		return a.Intermediate
	}
	return a.Root
}

// CanSign reports whether the key of Issuer is loaded: false for an
// Authority from LoadPublic.
func (a *Authority) CanSign() bool { return a.issuerKey() != nil }

// issuerKey returns the private key of Issuer, or nil.
func (a *Authority) issuerKey() crypto.Signer {
	if a.Intermediate != nil {
		return a.IntermediateKey
	}
	return a.RootKey
}

// Chain returns the certificates a leaf presents after itself: the
// intermediate, or nil without one. The slice is new on every call.
func (a *Authority) Chain() []*x509.Certificate {
	if a.Intermediate == nil {
		return nil
	}
	return []*x509.Certificate{a.Intermediate}
}

// BundlePEM returns the trust anchors to distribute to every endpoint (the
// Dask tls.ca-file), PEM-encoded: the root certificate and, during a CA
// rotation, the overlap roots (see Roots), the oldest first (by NotBefore,
// then fingerprint). The order does not follow which CA signs, so the
// bundle's bytes stay the same when a rotation moves signing from the old
// root to the new one, and no endpoint's file is rewritten, or reloaded,
// for that.
func (a *Authority) BundlePEM() []byte {
	roots := slices.DeleteFunc(a.Roots(), func(c *x509.Certificate) bool { return c == nil })
	slices.SortStableFunc(roots, func(x, y *x509.Certificate) int {
		return cmp.Or(x.NotBefore.Compare(y.NotBefore), strings.Compare(Fingerprint(x), Fingerprint(y)))
	})
	return BundleOf(roots...)
}

// Fingerprint returns the lower-case hex SHA-256 of the certificate's DER.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
