package enrol

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"net"
	"testing"

	"github.com/daskca/daskca/ca"
)

// TestCSREncoding checks that makeCSR's requests are, but for the
// signature, the bytes x509.CreateCertificateRequest makes for the same
// key and names, and that their signature verifies.
func TestCSREncoding(t *testing.T) {
	names := []struct {
		name string
		cn   string
		dns  []string
		ips  []string
	}{
		{"cn only", "node01", nil, nil},
		{"dns", "node01", []string{"node01.dask.internal"}, nil},
		{"dns and ips", "node01", []string{"node01.dask.internal", "node01"}, []string{"10.0.0.7", "2001:db8::7", "::ffff:192.0.2.1"}},
		{"ip only", "sched", nil, []string{"127.0.0.1"}},
		{"long cn", "worker-with-a-rather-long-name-0000000000000000000000000001", []string{"a.b"}, nil},
	}
	for _, kt := range ca.KeyTypes {
		if kt == ca.RSA3072 || kt == ca.RSA4096 {
			continue // as RSA2048 (x509's own path), only slower
		}
		key := mustKey(t, kt)
		for _, n := range names {
			t.Run(string(kt)+"/"+n.name, func(t *testing.T) {
				got, err := makeCSR(key, n.cn, n.dns, n.ips)
				if err != nil {
					t.Fatal(err)
				}
				blk, rest := pem.Decode(got)
				if blk == nil || blk.Type != "CERTIFICATE REQUEST" || len(rest) != 0 {
					t.Fatalf("not one PEM CERTIFICATE REQUEST:\n%s", got)
				}
				ours, err := x509.ParseCertificateRequest(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if err := ours.CheckSignature(); err != nil {
					t.Fatalf("signature: %v", err)
				}
				tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: n.cn}, DNSNames: n.dns}
				for _, s := range n.ips {
					tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
				}
				der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
				if err != nil {
					t.Fatal(err)
				}
				want, err := x509.ParseCertificateRequest(der)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ours.RawTBSCertificateRequest, want.RawTBSCertificateRequest) {
					t.Errorf("request info differs from x509's:\n got %x\nwant %x", ours.RawTBSCertificateRequest, want.RawTBSCertificateRequest)
				}
				if ours.SignatureAlgorithm != want.SignatureAlgorithm {
					t.Errorf("signature algorithm %v, x509 uses %v", ours.SignatureAlgorithm, want.SignatureAlgorithm)
				}
				// The outer layout: x509's request rebuilt with csrSigned is
				// x509's request.
				var outer struct {
					Info      asn1.RawValue
					Algorithm pkix.AlgorithmIdentifier
					Signature asn1.BitString
				}
				if _, err := asn1.Unmarshal(der, &outer); err != nil {
					t.Fatal(err)
				}
				re, err := asn1.Marshal(csrSigned(outer))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(re, der) {
					t.Errorf("csrSigned does not lay out x509's request:\n got %x\nwant %x", re, der)
				}
				if _, err := parseCSR(string(got)); err != nil {
					t.Errorf("the server refuses it: %v", err)
				}
			})
		}
	}
	t.Run("bad input", func(t *testing.T) {
		key := mustKey(t, ca.ECP256)
		if _, err := makeCSR(key, "n", []string{"nœud.example"}, nil); err == nil {
			t.Error("a DNS name that is not ASCII was encoded")
		}
		if _, err := makeCSR(key, "n", nil, []string{"10.0.0.300"}); err == nil {
			t.Error("a bad IP was encoded")
		}
	})
}
