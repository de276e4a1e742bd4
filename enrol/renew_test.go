package enrol

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
)

// enrolDir enrols name into a new directory and returns it.
func enrolDir(t *testing.T, f *fixture, tok, name string) string {
	t.Helper()
	is, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: name, DNS: []string{name + ".dask.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := WriteDir(dir, is, State{Server: f.url, Role: is.Role, Name: is.Name}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRenew(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour, Validity: time.Hour})
	dir := enrolDir(t, f, tok, "node01")
	_, before, _, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte("# the user's own Dask settings\n")
	if err := os.WriteFile(filepath.Join(dir, YAMLFile), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	is, err := RenewDir(context.Background(), dir, "", f.clock.now)
	if err != nil {
		t.Fatal(err)
	}
	_, after, _, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Leaf.SerialNumber.Cmp(before.Leaf.SerialNumber) == 0 {
		t.Fatal("the renewed directory still holds the old certificate")
	}
	if after.Leaf.PublicKeyAlgorithm != before.Leaf.PublicKeyAlgorithm || equalKeys(before, after) {
		t.Fatal("renewal must make a new key of the same type")
	}
	if got := after.Leaf.DNSNames; len(got) != 1 || got[0] != "node01.dask.internal" {
		t.Fatalf("renewed DNS names %v", got)
	}
	if d := after.Leaf.NotAfter.Sub(after.Leaf.NotBefore); d < time.Hour || d > time.Hour+10*time.Minute {
		t.Fatalf("renewed lifetime %v, want the enrolled one (1h + backdate)", d)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, YAMLFile)); string(b) != string(edited) {
		t.Fatalf("renewal rewrote dask.yaml: %q", b)
	}
	old, err := f.store.Cert(before.Leaf.SerialNumber.Text(16))
	if err != nil || old.SupersededBy != is.Serial {
		t.Fatalf("old record %+v (%v), want superseded by %s", old, err, is.Serial)
	}
}

func equalKeys(a, b tls.Certificate) bool {
	return string(a.Leaf.RawSubjectPublicKeyInfo) == string(b.Leaf.RawSubjectPublicKeyInfo)
}

// TestRenewRefusals: a revoked, superseded or expired certificate cannot
// renew, nor can a client without a certificate.
func TestRenewRefusals(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour, Validity: time.Hour})
	load := func(dir string) Renewal {
		st, cert, roots, err := ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return Renewal{Server: st.Server, Cert: cert, Roots: roots, Name: st.Name, Now: f.clock.now}
	}
	revokedDir := enrolDir(t, f, tok, "node01")
	r := load(revokedDir)
	if _, err := f.store.Revoke(r.Cert.Leaf.SerialNumber.Text(16), "keyCompromise", time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	supersededDir := enrolDir(t, f, tok, "node02")
	oldCert := load(supersededDir)
	if _, err := RenewDir(context.Background(), supersededDir, "", f.clock.now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    Renewal
	}{
		{"revoked", r},
		{"superseded", oldCert},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Renew(context.Background(), tc.r)
			var re *RefusedError
			if !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Body.Code != CodeRenew {
				t.Fatalf("got %v, want a 403 renew refusal", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		r := load(enrolDir(t, f, tok, "node03"))
		r.Now = func() time.Time { return r.Cert.Leaf.NotAfter.Add(time.Second) }
		if _, err := Renew(context.Background(), r); !errors.Is(err, ErrExpired) {
			t.Fatalf("got %v, want ErrExpired", err)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		body := []byte(`{"csr":""}`)
		status, eb := postJSON(t, f, PathRenew, body)
		if status != http.StatusUnauthorized || eb.Code != CodeRenew {
			t.Fatalf("got %d %+v", status, eb)
		}
	})
	t.Run("certificate of another CA", func(t *testing.T) {
		other := newFixture(t, Config{}, ca.Options{Name: "Other CA", TrustDomain: "other.daskca.internal"})
		otok := other.token(t, TokenSpec{Role: identity.Worker, TTL: time.Hour})
		r := load(enrolDir(t, other, otok, "node04"))
		r.Server = f.url
		pool := x509.NewCertPool()
		pool.AddCert(f.ca.Root)
		r.Roots = pool
		if _, err := Renew(context.Background(), r); err == nil {
			t.Fatal("a certificate of another CA renewed")
		}
	})
}

func TestRenewAt(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := nb.Add(3*time.Hour + 5*time.Minute) // 3 h, backdated 5 min
	tests := []struct {
		name     string
		notAfter time.Time
		jitter   float64
		want     time.Time
	}{
		{"two thirds after issue", long, 0, nb.Add(5*time.Minute + 2*time.Hour)},
		{"latest jitter", long, 1, nb.Add(5*time.Minute + 2*time.Hour + 9*time.Minute)},
		{"earliest jitter", long, -1, nb.Add(5*time.Minute + 2*time.Hour - 9*time.Minute)},
		// Without counting from issue it would be due at once.
		{"a certificate of 6 s", nb.Add(5*time.Minute + 6*time.Second), 0, nb.Add(5*time.Minute + 4*time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RenewAt(nb, tc.notAfter, tc.jitter); !got.Equal(tc.want) {
				t.Errorf("RenewAt = %v, want %v", got, tc.want)
			}
		})
	}
}
