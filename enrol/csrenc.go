package enrol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
)

var (
	oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	oidECDSAWithSHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// makeCSR returns a PEM certificate request for key, with name as CN and
// dns and ips as subject alternative names.
//
// An ECDSA key's request is encoded here, byte for byte as
// x509.CreateCertificateRequest encodes it (TestCSREncoding), and signed
// once: x509 also verifies the signature it has just made, a safeguard
// against faulty signers in hardware that costs a second ECDSA operation
// per enrolment for a key this process has just generated; the server
// verifies the request's signature in any case. Other keys go through
// x509.
func makeCSR(key crypto.Signer, name string, dns, ips []string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: dns}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("--ip %q is not an IP address", s)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	var der []byte
	var err error
	if ec, ok := key.Public().(*ecdsa.PublicKey); ok {
		der, err = ecdsaCSR(key, ec, tmpl)
	} else {
		der, err = x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	}
	if err != nil {
		return nil, fmt.Errorf("making the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// csrInfo is PKCS #10's CertificationRequestInfo (RFC 2986), laid out as
// x509 lays it out.
type csrInfo struct {
	Version    int
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue   // a SubjectPublicKeyInfo
	Attributes []asn1.RawValue `asn1:"tag:0"`
}

// csrSigned is PKCS #10's CertificationRequest.
type csrSigned struct {
	Info      asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// ecdsaCSR encodes and signs tmpl's subject, DNS names and IP addresses
// for an ECDSA key, with the signature algorithm x509 picks for its curve.
func ecdsaCSR(key crypto.Signer, pub *ecdsa.PublicKey, tmpl *x509.CertificateRequest) ([]byte, error) {
	var alg asn1.ObjectIdentifier
	var hash crypto.Hash
	switch pub.Curve {
	case elliptic.P256():
		alg, hash = oidECDSAWithSHA256, crypto.SHA256
	case elliptic.P384():
		alg, hash = oidECDSAWithSHA384, crypto.SHA384
	default:
		return x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	subject, err := asn1.Marshal(tmpl.Subject.ToRDNSequence())
	if err != nil {
		return nil, err
	}
	info := csrInfo{Subject: asn1.RawValue{FullBytes: subject}, PublicKey: asn1.RawValue{FullBytes: spki}}
	if len(tmpl.DNSNames)+len(tmpl.IPAddresses) > 0 {
		attr, err := sanRequest(tmpl.DNSNames, tmpl.IPAddresses)
		if err != nil {
			return nil, err
		}
		info.Attributes = []asn1.RawValue{{FullBytes: attr}}
	}
	tbs, err := asn1.Marshal(info)
	if err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := key.Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(csrSigned{
		Info:      asn1.RawValue{FullBytes: tbs},
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: alg},
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}

// sanRequest is the extensionRequest attribute holding one extension,
// subject alternative names: the DNS names, then the IP addresses (IPv4
// in 4 octets), as x509 encodes them.
func sanRequest(dns []string, ips []net.IP) ([]byte, error) {
	names := make([]asn1.RawValue, 0, len(dns)+len(ips))
	for _, d := range dns {
		for i := 0; i < len(d); i++ {
			if d[i] >= 0x80 {
				return nil, fmt.Errorf("DNS name %q is not ASCII", d)
			}
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip})
	}
	san, err := asn1.Marshal(names)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value [][]pkix.Extension `asn1:"set"`
	}{oidExtensionRequest, [][]pkix.Extension{{{Id: oidSAN, Value: san}}}})
}
