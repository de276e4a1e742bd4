package ca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests cross-check the package against /usr/bin/openssl.

func TestOpenSSLKeyEncryption(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{ECP256, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			a := fixtureCA(t, kt, false)
			dir := mustSave(t, a, testPassword)
			keyFile := filepath.Join(dir, RootKeyFile)
			out, err := openssl(t, "asn1parse", "-in", keyFile)
			if err != nil {
				t.Fatalf("asn1parse: %v\n%s", err, out)
			}
			for _, want := range []string{":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc"} {
				if !strings.Contains(out, want) {
					t.Errorf("asn1parse of %s lacks %q:\n%s", RootKeyFile, want, out)
				}
			}
			pwFile := filepath.Join(t.TempDir(), "pw")
			mustWrite(t, pwFile, string(testPassword))
			out, err = openssl(t, "pkey", "-in", keyFile, "-passin", "file:"+pwFile, "-pubout")
			if err != nil {
				t.Fatalf("openssl cannot decrypt the key with the password: %v\n%s", err, out)
			}
			der, err := x509.MarshalPKIXPublicKey(a.Root.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); out != want {
				t.Errorf("openssl decrypted another key:\n%s\nwant\n%s", out, want)
			}
			mustWrite(t, pwFile, "wrong")
			if out, err := openssl(t, "pkcs8", "-in", keyFile, "-passin", "file:"+pwFile); err == nil {
				t.Errorf("openssl decrypted the key with a wrong password:\n%s", out)
			}
		})
	}
}

func TestOpenSSLVerify(t *testing.T) {
	t.Parallel()
	for _, kt := range KeyTypes {
		for _, inter := range []bool{false, true} {
			t.Run(string(kt)+map[bool]string{false: "/root", true: "/intermediate"}[inter], func(t *testing.T) {
				a := fixtureCA(t, kt, inter)
				key := mustKey(t, kt)
				leaf := mustSign(t, a, leafTemplate(key.Public(), "w1", []string{"w1.dask.internal", "localhost"},
					[]string{"10.0.0.5", "127.0.0.1", "fd00::5"}), key.Public())
				if out, err := opensslVerify(t, a, leaf, "-x509_strict", "-purpose", "sslserver"); err != nil {
					t.Errorf("openssl verify (sslserver): %v\n%s", err, out)
				}
				if out, err := opensslVerify(t, a, leaf, "-x509_strict", "-purpose", "sslclient"); err != nil {
					t.Errorf("openssl verify (sslclient): %v\n%s", err, out)
				}
			})
		}
	}
}

// opensslVerify runs openssl verify on leaf with the CA's root as the
// trust anchor and its chain as untrusted certificates.
func opensslVerify(t *testing.T, a *Authority, leaf *x509.Certificate, extra ...string) (string, error) {
	t.Helper()
	paths := writeCerts(t, append([]*x509.Certificate{leaf, a.Root}, a.Chain()...)...)
	args := append([]string{"verify"}, extra...)
	args = append(args, "-CAfile", paths[1])
	if len(paths) > 2 {
		args = append(args, "-untrusted", paths[2])
	}
	out, err := openssl(t, append(args, paths[0])...)
	if err == nil && !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify exited 0 without OK:\n%s", out)
	}
	return out, err
}

func TestOpenSSLText(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	paths := writeCerts(t, a.Root, a.Intermediate)
	for i, c := range []*x509.Certificate{a.Root, a.Intermediate} {
		out, err := openssl(t, "x509", "-noout", "-text", "-in", paths[i])
		if err != nil {
			t.Fatal(err, out)
		}
		want := []string{
			"X509v3 Basic Constraints: critical", "CA:TRUE",
			"X509v3 Key Usage: critical", "Certificate Sign, CRL Sign",
			"X509v3 Name Constraints: critical", "Permitted:", "DNS:.dask.internal", "DNS:localhost",
			"IP:10.0.0.0/255.0.0.0", "IP:FD00:0:0:0:0:0:0:0/FF00:0:0:0:0:0:0:0", "URI:" + testTrustDomain,
			"X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier",
		}
		if c == a.Intermediate {
			want = append(want, "pathlen:0")
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: openssl x509 -text lacks %q:\n%s", c.Subject.CommonName, w, out)
			}
		}
	}
	fp, err := openssl(t, "x509", "-noout", "-fingerprint", "-sha256", "-in", paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp[strings.Index(fp, "=")+1:]), ":", "")); got != Fingerprint(a.Root) {
		t.Errorf("Fingerprint = %s, openssl says %s", Fingerprint(a.Root), got)
	}
}

// TestConstraintsAgreeWithVerifiers makes leaves with the CA key directly,
// bypassing Sign, and checks Sign's decision against both verifiers: what
// Sign signs, Go and OpenSSL must accept; what Sign refuses, at least one
// of them must reject (both, except where their rules differ).
func TestConstraintsAgreeWithVerifiers(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	tests := []struct {
		name           string
		cn             string
		dns, ips, uris []string
		signs          bool
		goOK, sslOK    bool
	}{
		{"all inside", "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1", "fd00::1"},
			[]string{"spiffe://" + testTrustDomain + "/dask/worker/w1"}, true, true, true},
		{"DNS outside", "w1", []string{"w1.example.com"}, nil, nil, false, false, false},
		{"DNS apex of .dask.internal", "w1", []string{"dask.internal"}, nil, nil, false, false, false},
		{"IPv4 outside", "w1", nil, []string{"192.168.0.1"}, nil, false, false, false},
		{"IPv6 outside", "w1", nil, []string{"2001:db8::1"}, nil, false, false, false},
		{"URI of another domain", "w1", nil, nil, []string{"spiffe://evil.org/dask/worker/w1"}, false, false, false},
		{"URI below the trust domain", "w1", nil, nil, []string{"spiffe://a." + testTrustDomain + "/x"}, false, true, false},
		{"hostname CN outside without DNS SAN", "w1.example.com", nil, []string{"10.0.0.1"}, nil, false, true, false},
		{"hostname CN inside without DNS SAN", "w1.dask.internal", nil, []string{"10.0.0.1"}, nil, true, true, true},
		{"plain CN without SANs", "alice", nil, nil, nil, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := leafTemplate(key.Public(), tt.cn, tt.dns, tt.ips)
			tmpl.URIs = nil
			for _, u := range tt.uris {
				tmpl.URIs = append(tmpl.URIs, mustURL(u))
			}
			_, signErr := a.Sign(tmpl, key.Public())
			if (signErr == nil) != tt.signs {
				t.Errorf("Sign error = %v, want signed=%t", signErr, tt.signs)
			}
			leaf := forceSign(t, a, tmpl, key.Public())
			goErr := goVerify(a, leaf)
			sslOut, sslErr := opensslVerify(t, a, leaf)
			t.Logf("Sign: %v\nGo: %v\nopenssl: %s", signErr, goErr, sslOut)
			if (goErr == nil) != tt.goOK || (sslErr == nil) != tt.sslOK {
				t.Errorf("Go verify: %v (want ok=%t); openssl: %v %s(want ok=%t)", goErr, tt.goOK, sslErr, sslOut, tt.sslOK)
			}
			if tt.signs && (goErr != nil || sslErr != nil) || !tt.signs && goErr == nil && sslErr == nil {
				t.Errorf("Sign (signed=%t) disagrees with the verifiers", tt.signs)
			}
		})
	}
}

// forceSign signs tmpl with the issuer key without any of Sign's checks.
func forceSign(t *testing.T, a *Authority, tmpl *x509.Certificate, pub any) *x509.Certificate {
	t.Helper()
	c := *tmpl
	c.SerialNumber = big.NewInt(time.Now().UnixNano())
	der, err := x509.CreateCertificate(rand.Reader, &c, a.Issuer(), pub, a.issuerKey())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestOpenSSLCRL(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	leaf := mustSign(t, a, leafTemplate(key.Public(), "w1", nil, []string{"10.0.0.1"}), key.Public())
	now := time.Now()
	der, err := a.CRL([]x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: now}},
		big.NewInt(1), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(t.TempDir(), "crl.pem")
	if err := os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := writeCerts(t, a.Intermediate)[0]
	if out, err := openssl(t, "crl", "-in", crlFile, "-CAfile", issuer, "-noout"); err != nil || !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl: %v\n%s", err, out)
	}
	out, err := opensslVerify(t, a, leaf, "-crl_check", "-CRLfile", crlFile)
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify -crl_check of a revoked leaf: %v\n%s", err, out)
	}
	other := mustSign(t, a, leafTemplate(key.Public(), "w2", nil, []string{"10.0.0.2"}), key.Public())
	if out, err := opensslVerify(t, a, other, "-crl_check", "-CRLfile", crlFile); err != nil {
		t.Errorf("openssl verify -crl_check of a good leaf: %v\n%s", err, out)
	}
}
