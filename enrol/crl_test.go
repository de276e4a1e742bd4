package enrol

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
)

// TestAnswersCarryTheCurrentCRL: every answer carries the CRL the file
// holds at that moment: none before one is published, the new one as soon
// as a new file is renamed into place (as daskca crl and revoke publish),
// none once it is gone, and never one read through a symbolic link.
func TestAnswersCarryTheCurrentCRL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crl.pem")
	f := newFixture(t, Config{CRLFile: path}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour})
	crl := func(n int64) string {
		der, err := f.ca.CRL(nil, big.NewInt(n), f.clock.now(), f.clock.now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	}
	publish := func(data string) func(t *testing.T) {
		return func(t *testing.T) {
			if err := fsutil.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, second := crl(1), crl(2)
	tests := []struct {
		name   string
		change func(t *testing.T) // nil: none
		want   string
	}{
		{"none published", nil, ""},
		{"published", publish(first), first},
		{"unchanged", nil, first},
		{"republished", publish(second), second},
		{"removed", func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"a link", func(t *testing.T) {
			other := filepath.Join(dir, "elsewhere.pem")
			if err := os.WriteFile(other, []byte(first), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change(t)
			}
			got, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node" + string(rune('a'+i))})
			if err != nil {
				t.Fatal(err)
			}
			if got.CRL != tc.want {
				t.Fatalf("answer's CRL:\n%s\nwant:\n%s", got.CRL, tc.want)
			}
			if got.CRL != "" {
				b, _ := pem.Decode([]byte(got.CRL))
				if _, err := x509.ParseRevocationList(b.Bytes); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
