package enrol

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/daskca/daskca/ca"
)

// ErrCSR is wrapped by every refusal of a certificate request.
var ErrCSR = errors.New("certificate request refused")

var (
	oidSAN              = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidCN               = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOU               = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// csrFacts is what the server takes from a vetted request.
type csrFacts struct {
	csr  *x509.CertificateRequest
	name string // the subject's CN
	role string // the subject's OU, "" if none
	dns  []string
	ips  []string
}

// parseCSR decodes and vets a PEM certificate request: one CERTIFICATE
// REQUEST block, a valid self-signature, a subject of one CN and at most
// one OU, no SANs but DNS names and IP addresses, no extension but the
// SANs (so no CA bit, key usage or extended key usage: the CA decides
// those), and a key of one of ca.KeyTypes (no RSA below 2048 bits).
// Errors wrap ErrCSR and are one line.
func parseCSR(text string) (csrFacts, error) {
	var f csrFacts
	blk, rest := pem.Decode([]byte(text))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return f, fmt.Errorf("%w: csr is not a PEM CERTIFICATE REQUEST", ErrCSR)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return f, fmt.Errorf("%w: data after the CERTIFICATE REQUEST block", ErrCSR)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return f, fmt.Errorf("%w: cannot parse it", ErrCSR)
	}
	if err := csr.CheckSignature(); err != nil {
		return f, fmt.Errorf("%w: its signature does not verify", ErrCSR)
	}
	if err := checkKey(csr); err != nil {
		return f, err
	}
	for _, a := range csr.Subject.Names {
		switch {
		case a.Type.Equal(oidCN), a.Type.Equal(oidOU):
		default:
			return f, fmt.Errorf("%w: subject attribute %s (only CN and OU are accepted)", ErrCSR, a.Type)
		}
	}
	if len(csr.Subject.OrganizationalUnit) > 1 {
		return f, fmt.Errorf("%w: more than one OU", ErrCSR)
	}
	for _, e := range csr.Extensions {
		if err := checkExtension(e.Id); err != nil {
			return f, err
		}
	}
	if len(csr.URIs) > 0 || len(csr.EmailAddresses) > 0 {
		return f, fmt.Errorf("%w: extra SANs (URIs or e-mail addresses); the CA sets the identity URI itself", ErrCSR)
	}
	f.csr, f.name, f.dns = csr, csr.Subject.CommonName, csr.DNSNames
	if f.name == "" {
		return f, fmt.Errorf("%w: no CN (the endpoint name)", ErrCSR)
	}
	if len(csr.Subject.OrganizationalUnit) == 1 {
		f.role = csr.Subject.OrganizationalUnit[0]
	}
	for _, ip := range csr.IPAddresses {
		f.ips = append(f.ips, ip.String())
	}
	return f, nil
}

func checkKey(csr *x509.CertificateRequest) error {
	if k, ok := csr.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return fmt.Errorf("%w: weak key: RSA-%d (use ec-p256, or RSA of 2048 bits or more)", ErrCSR, k.N.BitLen())
	}
	if ca.KeyTypeOf(csr.PublicKey) == "" {
		return fmt.Errorf("%w: key type not accepted (use one of %v)", ErrCSR, ca.KeyTypes)
	}
	return nil
}

func checkExtension(id asn1.ObjectIdentifier) error {
	switch {
	case id.Equal(oidSAN):
		return nil
	case id.Equal(oidBasicConstraints):
		return fmt.Errorf("%w: it asks for basic constraints (CA bits); the CA sets them", ErrCSR)
	case id.Equal(oidExtKeyUsage):
		return fmt.Errorf("%w: it asks for extended key usages; the role decides them", ErrCSR)
	case id.Equal(oidKeyUsage):
		return fmt.Errorf("%w: it asks for key usages; the role decides them", ErrCSR)
	}
	return fmt.Errorf("%w: it asks for extension %s; only subject alternative names are accepted", ErrCSR, id)
}
