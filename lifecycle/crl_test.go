package lifecycle

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/daskca/daskca/store"
)

func TestRevokeAndCRLWithOpenSSL(t *testing.T) {
	for _, inter := range []bool{false, true} {
		t.Run(map[bool]string{false: "root signs", true: "intermediate signs"}[inter], func(t *testing.T) {
			f := newFixture(t, inter)
			w1, w2 := f.active("worker", "w1"), f.active("worker", "w2")
			rec, crls, err := f.m.Revoke("worker/w1", KeyCompromise)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != store.Revoked || rec.RevocationReason != "keyCompromise" || len(crls) != 1 || crls[0].Revoked != 1 {
				t.Fatalf("revoke = %+v, crls %+v", rec, crls)
			}
			if _, _, err := f.m.Revoke(w1.Serial, Unspecified); !errors.Is(err, store.ErrAlreadyRevoked) {
				t.Errorf("second revoke: %v, want ErrAlreadyRevoked", err)
			}
			// trust store for openssl: the bundle plus the issuing CA
			trust := filepath.Join(t.TempDir(), "trust.pem")
			data := append(mustRead(t, f.m.Layout.Bundle()), pemOf(f.m.CA.Issuer())...)
			if err := os.WriteFile(trust, data, 0o644); err != nil {
				t.Fatal(err)
			}
			crlFile := f.m.Layout.CRL()
			if out, err := openssl(t, "crl", "-in", crlFile, "-CAfile", trust, "-noout"); err != nil || !strings.Contains(out, "verify OK") {
				t.Errorf("openssl crl: %v\n%s", err, out)
			}
			out, _ := openssl(t, "crl", "-in", crlFile, "-noout", "-text")
			if !strings.Contains(out, "Key Compromise") || !strings.Contains(out, "X509v3 CRL Number") || !strings.Contains(out, "Next Update") {
				t.Errorf("CRL text lacks reason, number or next update:\n%s", out)
			}
			verify := func(r store.Record) (string, error) {
				return openssl(t, "verify", "-attime", strconv.FormatInt(f.now.Unix(), 10), "-crl_check", "-CRLfile", crlFile, "-CAfile", trust, "-untrusted", r.CertFile, r.CertFile)
			}
			if out, err := verify(w1); err == nil || !strings.Contains(out, "certificate revoked") {
				t.Errorf("openssl accepted the revoked leaf: %v\n%s", err, out)
			}
			if out, err := verify(w2); err != nil {
				t.Errorf("openssl refused a good leaf: %v\n%s", err, out)
			}
		})
	}
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func TestCRLNumbersAndExpiry(t *testing.T) {
	f := newFixture(t, false)
	if _, _, err := f.m.Revoke("w1", Superseded); err != nil {
		t.Fatal(err)
	}
	a, err := f.m.CRLs(0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.m.CRLs(day)
	if err != nil {
		t.Fatal(err)
	}
	if b[0].Number <= a[0].Number || !b[0].NextUpdate.Equal(b[0].ThisUpdate.Add(day)) || !a[0].NextUpdate.Equal(a[0].ThisUpdate.Add(DefaultNextUpdate)) {
		t.Errorf("CRLs %+v then %+v: numbers must grow, next update follow the argument", a[0], b[0])
	}
	parsed, err := x509.ParseRevocationList(b[0].DER)
	if err != nil || parsed.CheckSignatureFrom(f.m.CA.Issuer()) != nil || len(parsed.RevokedCertificateEntries) != 1 {
		t.Fatalf("CRL: %v", err)
	}
	if parsed.RevokedCertificateEntries[0].ReasonCode != 4 {
		t.Errorf("reason code %d, want 4", parsed.RevokedCertificateEntries[0].ReasonCode)
	}
	f.now = t0.Add(91 * day) // the revoked certificate has expired: it leaves the CRL
	c, err := f.m.CRLs(0)
	if err != nil || c[0].Revoked != 0 {
		t.Errorf("after expiry: %+v, %v; want an empty CRL", c, err)
	}
}

func TestRevokeEndpointRevokesEarlierCertificates(t *testing.T) {
	tests := []struct {
		name        string
		query       func(old, cur store.Record) string
		wantEarlier bool
	}{
		{"by name", func(_, _ store.Record) string { return "w1" }, true},
		{"by role/name", func(_, _ store.Record) string { return "worker/w1" }, true},
		{"by serial", func(_, cur store.Record) string { return cur.Serial }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			old := f.active("worker", "w1")
			if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"worker/w1"}}, RenewOptions{}); err != nil {
				t.Fatal(err)
			}
			cur := f.active("worker", "w1")
			other := f.active("worker", "w2")
			rev, err := f.m.RevokeEndpoint(tt.query(old, cur), KeyCompromise)
			if err != nil {
				t.Fatal(err)
			}
			if rev.Record.Serial != cur.Serial || rev.Record.Status != store.Revoked {
				t.Errorf("revoked %s (%s), want the current %s", rev.Record.Serial, rev.Record.Status, cur.Serial)
			}
			listed := crlSerials(t, f.m.Layout.CRL())
			if got := listed[old.Serial]; got != tt.wantEarlier {
				t.Errorf("superseded %s on the CRL: %v, want %v", old.Serial, got, tt.wantEarlier)
			}
			if tt.wantEarlier && (len(rev.Earlier) != 1 || rev.Earlier[0].Serial != old.Serial) {
				t.Errorf("Earlier = %+v, want the superseded %s", rev.Earlier, old.Serial)
			}
			if !listed[cur.Serial] || listed[other.Serial] {
				t.Errorf("CRL lists %v: want %s and not %s", listed, cur.Serial, other.Serial)
			}
		})
	}
}

// crlSerials returns the serials (lower-case hex) the PEM CRLs in path list.
func crlSerials(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	rest := mustRead(t, path)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range crl.RevokedCertificateEntries {
			out[e.SerialNumber.Text(16)] = true
		}
	}
}
