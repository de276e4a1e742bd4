package issue

import (
	"crypto/x509"
	"time"

	"github.com/daskca/daskca/ca"
)

// CACert is the public view of one CA certificate, as `ca show` prints it.
type CACert struct {
	Kind              string    `json:"kind"` // root or intermediate
	Subject           string    `json:"subject"`
	Serial            string    `json:"serial"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	KeyType           string    `json:"key_type"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	PermittedDNS      []string  `json:"permitted_dns"`
	PermittedIPs      []string  `json:"permitted_ips"`
	PermittedURIs     []string  `json:"permitted_uri_domains"`
	MaxPathLen        int       `json:"max_path_len"` // -1: unlimited
	KeyPresent        bool      `json:"key_present"`
}

// CAInfo is the public view of the whole CA.
type CAInfo struct {
	TrustDomain  string   `json:"trust_domain"`
	KeyEncrypted bool     `json:"key_encrypted"`
	Chain        []CACert `json:"chain"` // root first
}

// DescribeCA builds the public view of a CA. keyEncrypted says how its keys
// are stored, rootKey whether the root key is kept in the home (the
// intermediate's always is).
func DescribeCA(a *ca.Authority, keyEncrypted, rootKey bool) CAInfo {
	info := CAInfo{TrustDomain: a.TrustDomain, KeyEncrypted: keyEncrypted}
	info.Chain = append(info.Chain, describeCert("root", a.Root, rootKey))
	if a.Intermediate != nil {
		info.Chain = append(info.Chain, describeCert("intermediate", a.Intermediate, true))
	}
	return info
}

func describeCert(kind string, c *x509.Certificate, keyPresent bool) CACert {
	out := CACert{
		Kind: kind, Subject: c.Subject.String(), Serial: SerialString(c),
		FingerprintSHA256: ca.Fingerprint(c), KeyType: string(ca.KeyTypeOf(c.PublicKey)),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		PermittedDNS: nonNil(c.PermittedDNSDomains), PermittedIPs: []string{},
		PermittedURIs: nonNil(c.PermittedURIDomains), MaxPathLen: -1, KeyPresent: keyPresent,
	}
	for _, n := range c.PermittedIPRanges {
		out.PermittedIPs = append(out.PermittedIPs, n.String())
	}
	if c.MaxPathLen > 0 || c.MaxPathLenZero {
		out.MaxPathLen = c.MaxPathLen
	}
	return out
}
