package identity

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, id := range []ID{
		{"dask.acme.internal", Scheduler, "sched01"},
		{"example.org", Worker, "node-07"},
		{"t", Client, "alice"},
	} {
		got, err := Parse(id.String())
		if err != nil {
			t.Fatalf("Parse(%q): %v", id, err)
		}
		if got != id {
			t.Errorf("Parse(%q) = %+v, want %+v", id, got, id)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"wrong scheme", "https://td/dask/worker/a"},
		{"no trust domain", "spiffe:///dask/worker/a"},
		{"other prefix", "spiffe://td/k8s/worker/a"},
		{"unknown role", "spiffe://td/dask/nanny/a"},
		{"empty name", "spiffe://td/dask/worker/"},
		{"too deep", "spiffe://td/dask/worker/a/b"},
		{"port", "spiffe://td:1/dask/worker/a"},
		{"query", "spiffe://td/dask/worker/a?x=1"},
		{"fragment", "spiffe://td/dask/worker/a#x"},
		{"user", "spiffe://u@td/dask/worker/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.in); !errors.Is(err, ErrBadIdentity) {
				t.Errorf("Parse(%q) error = %v, want ErrBadIdentity", tt.in, err)
			}
		})
	}
}

func TestFromCertificate(t *testing.T) {
	mk := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	if _, err := FromCertificate(mk()); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no URI: err = %v, want ErrNoIdentity", err)
	}
	if _, err := FromCertificate(mk("spiffe://td/other/x")); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("foreign SPIFFE URI: err = %v, want ErrNoIdentity", err)
	}
	if _, err := FromCertificate(mk("spiffe://td/dask/worker/a", "spiffe://td/dask/client/b")); !errors.Is(err, ErrBadIdentity) {
		t.Errorf("two identities: err = %v, want ErrBadIdentity", err)
	}
	id, err := FromCertificate(mk("https://x", "spiffe://td/dask/worker/a"))
	if err != nil || id != (ID{"td", Worker, "a"}) {
		t.Errorf("FromCertificate = %+v, %v", id, err)
	}
}

func TestRole(t *testing.T) {
	if _, err := ParseRole("nanny"); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("ParseRole(nanny) = %v", err)
	}
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%s) = %v, %v", r, got, err)
		}
	}
	if !Scheduler.Listens() || !Worker.Listens() || Client.Listens() {
		t.Error("Listens: scheduler and worker listen, client does not")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("spiffe://td/dask/worker/a")
	f.Add("spiffe://td/dask/x")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(id.String())
		if err != nil || again != id {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func TestValidateTrustDomain(t *testing.T) {
	for td, ok := range map[string]bool{
		"dask.acme.internal": true, "acme-dask_ca": true, "": false, "Acme": false, "a/b": false, "a:1": false,
	} {
		if err := ValidateTrustDomain(td); (err == nil) != ok {
			t.Errorf("ValidateTrustDomain(%q) = %v, want ok=%v", td, err, ok)
		}
	}
}
