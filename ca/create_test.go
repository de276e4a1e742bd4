package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"go.step.sm/crypto/x509util"
)

// The CA creates certificates with crypto/x509 rather than through
// go.step.sm/crypto/x509util (see create.go). These tests hold it to what
// x509util gives for the same inputs: the same key identifiers and the same
// certificate contents (the to-be-signed part, byte for byte).

func TestSubjectKeyIDMatchesX509util(t *testing.T) {
	t.Parallel()
	// The larger RSA sizes would only make the test slower: the identifier
	// is a hash of the key's encoding whatever its size.
	for _, kt := range []KeyType{ECP256, ECP384, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			pub := mustKey(t, kt).Public()
			got, err := subjectKeyID(pub)
			if err != nil {
				t.Fatal(err)
			}
			want, err := x509util.GenerateSubjectKeyID(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("subjectKeyID = %x, x509util.GenerateSubjectKeyID = %x", got, want)
			}
		})
	}
}

func TestCreateCertificateMatchesX509util(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{ECP256, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			a := fixtureCA(t, kt, true)
			now := time.Now()
			rootKey := mustKey(t, kt)
			root := caTemplate(pkix.Name{CommonName: "Equal CA", Organization: []string{"Equal CA"}},
				now.Add(-time.Hour), now.Add(24*time.Hour), -1,
				newConstraints(Options{PermitDNS: []string{".dask.internal"}, TrustDomain: testTrustDomain}))
			mustComplete(t, root, rootKey.Public())
			root.AuthorityKeyId = root.SubjectKeyId
			inter := caTemplate(pkix.Name{CommonName: "Equal CA Intermediate", Organization: []string{"Equal CA"}},
				a.Root.NotBefore, a.Root.NotAfter.Add(-time.Hour), 0, newConstraints(Options{}))
			interKey := mustKey(t, kt)
			mustComplete(t, inter, interKey.Public())
			inter.AuthorityKeyId = a.Root.SubjectKeyId
			leafKey := mustKey(t, ECP256)
			leaf, err := a.complete(leafTemplate(leafKey.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1"}), leafKey.Public())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name         string
				tmpl, parent *x509.Certificate
				pub          crypto.PublicKey
				signer       crypto.Signer
			}{
				{"self-signed root", root, root, rootKey.Public(), rootKey},
				{"intermediate", inter, a.Root, interKey.Public(), a.RootKey},
				{"leaf", leaf, a.Issuer(), leafKey.Public(), a.issuerKey()},
			} {
				t.Run(c.name, func(t *testing.T) {
					mine, theirs := *c.tmpl, *c.tmpl
					got, err := createCertificate(&mine, c.parent, c.pub, c.signer)
					if err != nil {
						t.Fatal(err)
					}
					want, err := x509util.CreateCertificate(&theirs, c.parent, c.pub, c.signer)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got.RawTBSCertificate, want.RawTBSCertificate) {
						t.Errorf("contents differ from x509util's:\n got %x\nwant %x", got.RawTBSCertificate, want.RawTBSCertificate)
					}
					parent := c.parent
					if parent == c.tmpl {
						parent = got
					}
					if err := got.CheckSignatureFrom(parent); err != nil {
						t.Errorf("signature: %v", err)
					}
				})
			}
		})
	}
}

// mustComplete sets a CA template's serial number and subject key
// identifier, as makeCA does.
func mustComplete(t *testing.T, tmpl *x509.Certificate, pub crypto.PublicKey) {
	t.Helper()
	var err error
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		t.Fatal(err)
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(pub); err != nil {
		t.Fatal(err)
	}
}
