package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestNewProfile(t *testing.T) {
	t.Parallel()
	for _, kt := range KeyTypes {
		for _, inter := range []bool{false, true} {
			name := string(kt) + map[bool]string{false: "/root-only", true: "/intermediate"}[inter]
			t.Run(name, func(t *testing.T) {
				a := fixtureCA(t, kt, inter)
				checkCA(t, a.Root, a.Root, -1)
				if KeyTypeOf(a.Root.PublicKey) != kt {
					t.Errorf("root key type %q, want %q", KeyTypeOf(a.Root.PublicKey), kt)
				}
				if !inter {
					if a.Intermediate != nil || a.IntermediateKey != nil || a.Chain() != nil || a.Issuer() != a.Root {
						t.Fatal("root-only CA has an intermediate")
					}
					return
				}
				checkCA(t, a.Intermediate, a.Root, 0)
				if a.Issuer() != a.Intermediate || len(a.Chain()) != 1 || a.Chain()[0] != a.Intermediate {
					t.Error("Issuer/Chain do not name the intermediate")
				}
				if KeyTypeOf(a.Intermediate.PublicKey) != kt {
					t.Errorf("intermediate key type %q, want %q", KeyTypeOf(a.Intermediate.PublicKey), kt)
				}
			})
		}
	}
}

// checkCA checks the CA profile of c, issued by parent.
func checkCA(t *testing.T, c, parent *x509.Certificate, pathLen int) {
	t.Helper()
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != pathLen || (pathLen == 0) != c.MaxPathLenZero {
		t.Errorf("%s: IsCA=%t valid=%t MaxPathLen=%d zero=%t, want CA with path length %d",
			c.Subject.CommonName, c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero, pathLen)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("%s: key usage %b, want certSign|cRLSign", c.Subject.CommonName, c.KeyUsage)
	}
	critical := map[string]bool{}
	for _, e := range c.Extensions {
		critical[e.Id.String()] = e.Critical
	}
	for _, oid := range []string{"2.5.29.19", "2.5.29.15", "2.5.29.30"} { // basicConstraints, keyUsage, nameConstraints
		if !critical[oid] {
			t.Errorf("%s: extension %s missing or not critical", c.Subject.CommonName, oid)
		}
	}
	if len(c.SubjectKeyId) == 0 || !bytes.Equal(c.AuthorityKeyId, parent.SubjectKeyId) {
		t.Errorf("%s: SKI %x, AKI %x, want AKI = issuer SKI %x", c.Subject.CommonName, c.SubjectKeyId, c.AuthorityKeyId, parent.SubjectKeyId)
	}
	if err := c.CheckSignatureFrom(parent); err != nil {
		t.Errorf("%s: not signed by %s: %v", c.Subject.CommonName, parent.Subject.CommonName, err)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > serialBits {
		t.Errorf("%s: serial %v", c.Subject.CommonName, c.SerialNumber)
	}
}

func TestNewValidity(t *testing.T) {
	t.Parallel()
	const validity = 2 * 365 * 24 * time.Hour
	a := mustNew(t, Options{Name: "Clock CA", Validity: validity, Intermediate: true, Now: func() time.Time { return testNow }})
	if want := testNow.Add(-Backdate); !a.Root.NotBefore.Equal(want) || !a.Intermediate.NotBefore.Equal(want) {
		t.Errorf("NotBefore root %s, intermediate %s; want %s", a.Root.NotBefore, a.Intermediate.NotBefore, want)
	}
	if want := testNow.Add(validity); !a.Root.NotAfter.Equal(want) {
		t.Errorf("root NotAfter %s, want %s", a.Root.NotAfter, want)
	}
	if want := testNow.Add(validity - validity/10); !a.Intermediate.NotAfter.Equal(want) {
		t.Errorf("intermediate NotAfter %s, want %s", a.Intermediate.NotAfter, want)
	}
	if a.Root.Subject.CommonName != "Clock CA" || a.Root.Subject.Organization[0] != "Clock CA" ||
		a.Intermediate.Subject.CommonName != "Clock CA Intermediate" {
		t.Errorf("subjects %q, %q", a.Root.Subject, a.Intermediate.Subject)
	}
	if len(a.Root.PermittedDNSDomains)+len(a.Root.PermittedIPRanges)+len(a.Root.PermittedURIDomains) != 0 {
		t.Error("CA without PermitDNS/PermitIP carries name constraints")
	}
	d := mustNew(t, Options{Name: "Default", Now: func() time.Time { return testNow }})
	if want := testNow.Add(DefaultValidity); !d.Root.NotAfter.Equal(want) || KeyTypeOf(d.RootKey) != ECP256 {
		t.Errorf("default CA: NotAfter %s (want %s), key %s", d.Root.NotAfter, want, KeyTypeOf(d.RootKey))
	}
}

func TestNewConstraints(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	for _, c := range []*x509.Certificate{a.Root, a.Intermediate} {
		if got := c.PermittedDNSDomains; len(got) != 2 || got[0] != ".dask.internal" || got[1] != "localhost" {
			t.Errorf("%s: DNS constraints %q", c.Subject.CommonName, got)
		}
		if got := netStrings(c.PermittedIPRanges); len(got) != 3 || got[0] != "10.0.0.0/8" || got[2] != "fd00::/8" {
			t.Errorf("%s: IP constraints %q", c.Subject.CommonName, got)
		}
		if got := c.PermittedURIDomains; len(got) != 1 || got[0] != testTrustDomain {
			t.Errorf("%s: URI constraints %q", c.Subject.CommonName, got)
		}
	}
	// A host address with its mask is stored as the network.
	b := mustNew(t, Options{Name: "n", PermitIP: []*net.IPNet{{IP: net.ParseIP("192.168.7.9"), Mask: net.CIDRMask(16, 32)}}})
	if got := netStrings(b.Root.PermittedIPRanges); len(got) != 1 || got[0] != "192.168.0.0/16" {
		t.Errorf("IP constraint %q, want 192.168.0.0/16", got)
	}
	if b.Root.PermittedURIDomains != nil {
		t.Errorf("URI constraint without a trust domain: %q", b.Root.PermittedURIDomains)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"no name", Options{}},
		{"negative validity", Options{Name: "x", Validity: -time.Hour}},
		{"unknown key type", Options{Name: "x", KeyType: "dsa"}},
		{"bad trust domain", Options{Name: "x", TrustDomain: "Acme Corp"}},
		{"trust domain with scheme", Options{Name: "x", TrustDomain: "spiffe://td"}},
		{"wildcard DNS", Options{Name: "x", PermitDNS: []string{"*.dask.internal"}}},
		{"empty DNS", Options{Name: "x", PermitDNS: []string{""}}},
		{"upper-case DNS", Options{Name: "x", PermitDNS: []string{"Dask.Internal"}}},
		{"nil IP range", Options{Name: "x", PermitIP: []*net.IPNet{nil}}},
		{"non-prefix mask", Options{Name: "x", PermitIP: []*net.IPNet{{IP: net.IPv4(10, 0, 0, 0), Mask: net.IPv4Mask(255, 0, 255, 0)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New error = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestBundlePEMAndFingerprint(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	block, rest := pem.Decode(a.BundlePEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 || !bytes.Equal(block.Bytes, a.Root.Raw) {
		t.Fatalf("BundlePEM is not exactly the root certificate")
	}
	fp := Fingerprint(a.Root)
	if len(fp) != 64 || fp != Fingerprint(a.Root) || fp == Fingerprint(a.Intermediate) {
		t.Errorf("Fingerprint = %q", fp)
	}
	// Cross-checked against openssl below (TestOpenSSLFingerprint).
}
