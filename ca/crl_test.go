package ca

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

func TestCRL(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{ECP256, Ed25519, RSA2048} {
		for _, inter := range []bool{false, true} {
			t.Run(string(kt)+map[bool]string{false: "/root", true: "/intermediate"}[inter], func(t *testing.T) {
				a := fixtureCA(t, kt, inter)
				key := mustKey(t, ECP256)
				leaf := mustSign(t, a, leafTemplate(key.Public(), "w1", nil, nil), key.Public())
				this := time.Now().UTC().Truncate(time.Second)
				revoked := []x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: this.Add(-time.Hour), ReasonCode: 1}}
				der, err := a.CRL(revoked, big.NewInt(7), this, this.Add(24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				crl, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := crl.CheckSignatureFrom(a.Issuer()); err != nil {
					t.Errorf("CRL signature: %v", err)
				}
				if crl.Number.Int64() != 7 || !crl.ThisUpdate.Equal(this) || !crl.NextUpdate.Equal(this.Add(24*time.Hour)) ||
					len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 ||
					string(crl.AuthorityKeyId) != string(a.Issuer().SubjectKeyId) || string(crl.RawIssuer) != string(a.Issuer().RawSubject) {
					t.Errorf("CRL contents: %+v", crl)
				}
			})
		}
	}
}

func TestCRLRefuses(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	now := time.Now()
	if _, err := a.CRL(nil, nil, now, now.Add(time.Hour)); err == nil {
		t.Error("CRL without a number")
	}
	if _, err := a.CRL(nil, big.NewInt(1), now, now); err == nil {
		t.Error("CRL with nextUpdate == thisUpdate")
	}
	pub := &Authority{Root: a.Root, Intermediate: a.Intermediate}
	if _, err := pub.CRL(nil, big.NewInt(1), now, now.Add(time.Hour)); err == nil {
		t.Error("CRL without a key")
	}
}
