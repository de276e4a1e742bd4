package enrol

import (
	"bytes"
	"crypto/x509"
	"runtime"
	"strings"
	"testing"

	"github.com/daskca/daskca/ca"
)

// FuzzParseToken: no input panics; an accepted token prints back as the
// input (one spelling per token), and a refusal never quotes the input.
func FuzzParseToken(f *testing.F) {
	tok, _ := NewToken([32]byte{7})
	f.Add(tok.String())
	f.Add("daskca1.0011223344556677.AAAA.00")
	f.Add("daskca1...")
	f.Add(strings.Repeat("daskca1.", 100))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if tok.String() != strings.TrimSpace(s) {
			t.Fatalf("%q parsed and printed as %q", s, tok.String())
		}
	})
}

// FuzzParseCSR: no input panics, and an accepted request has a name, a
// key of an accepted type and nothing but DNS and IP SANs.
func FuzzParseCSR(f *testing.F) {
	k, _ := ca.GenerateKey(ca.ECP256)
	f.Add(rawCSR(f, k, &x509.CertificateRequest{Subject: subject("node01"), DNSNames: []string{"node01.x"}}))
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCSR(s)
		if err != nil {
			return
		}
		if c.name == "" || ca.KeyTypeOf(c.csr.PublicKey) == "" || len(c.csr.URIs)+len(c.csr.EmailAddresses) > 0 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzDecodeRequest: the JSON reader accepts exactly one object of known
// fields and never more than its input.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"token":"x","csr":"y"}`))
	f.Add([]byte(`{"token":"x"} {}`))
	f.Add([]byte(`{"role":[1,2,3]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeJSON[EnrolRequest](bytes.NewReader(b))
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(r.Token)+len(r.CSR)+len(r.Role) > len(b) {
			t.Fatal("decoded more than the input")
		}
	})
}

// TestParsersBoundedAllocation: the request, CSR and token parsers
// allocate in proportion to their input, at most MaxBody at a time, for
// the hostile shapes a client can send in one body.
func TestParsersBoundedAllocation(t *testing.T) {
	big := strings.Repeat("A", MaxBody-64)
	inputs := map[string]string{
		"deep nesting":    strings.Repeat("[", MaxBody),
		"long string":     `{"token":"` + big + `"}`,
		"many keys":       "{" + strings.Repeat(`"a":1,`, MaxBody/6-2) + `"b":1}`,
		"PEM of garbage":  "-----BEGIN CERTIFICATE REQUEST-----\n" + big + "\n-----END CERTIFICATE REQUEST-----\n",
		"many PEM blocks": strings.Repeat("-----BEGIN X-----\nAA==\n-----END X-----\n", MaxBody/40),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			allocs := func(f func()) uint64 {
				var a, b runtime.MemStats
				runtime.ReadMemStats(&a)
				f()
				runtime.ReadMemStats(&b)
				return b.TotalAlloc - a.TotalAlloc
			}
			n := allocs(func() {
				_, _ = decodeJSON[EnrolRequest](strings.NewReader(in))
				_, _ = parseCSR(in)
				_, _ = ParseToken(in)
			})
			if limit := uint64(32 * len(in)); n > limit {
				t.Fatalf("%d bytes allocated for %d bytes of input (limit %d)", n, len(in), limit)
			}
		})
	}
}
