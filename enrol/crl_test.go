package enrol

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
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
// none once it is gone. A crl.pem that is there but cannot be read (a
// symbolic link, which is never followed) refuses the request, with 503
// crl, before a token's use is spent, until a CRL is published again.
func TestAnswersCarryTheCurrentCRL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crl.pem")
	f := newFixture(t, Config{CRLFile: path}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour})
	parsed, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
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
	first, second, third := crl(1), crl(2), crl(3)
	tests := []struct {
		name    string
		change  func(t *testing.T) // nil: none
		want    string
		refused bool
	}{
		{"none published", nil, "", false},
		{"published", publish(first), first, false},
		{"unchanged", nil, first, false},
		{"republished", publish(second), second, false},
		{"removed", func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "", false},
		{"a link", func(t *testing.T) {
			other := filepath.Join(dir, "elsewhere.pem")
			if err := os.WriteFile(other, []byte(first), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}, "", true},
		{"published over the link", publish(third), third, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change(t)
			}
			before, err := f.store.Token(parsed.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node" + string(rune('a'+i))})
			if tc.refused {
				var re *RefusedError
				if !errors.As(err, &re) || re.Status != http.StatusServiceUnavailable || re.Body.Code != CodeCRL {
					t.Fatalf("Enrol = %v, want a 503 %s refusal", err, CodeCRL)
				}
				if after, err := f.store.Token(parsed.ID); err != nil || after.UsesLeft != before.UsesLeft {
					t.Errorf("uses left %d -> %d (%v): a refused request spent a use", before.UsesLeft, after.UsesLeft, err)
				}
				return
			}
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
