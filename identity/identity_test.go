package identity

import (
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
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
	long := strings.Repeat("a", 63)
	tests := []struct {
		td   string
		ok   bool
		want string // part of the error
	}{
		{"dask.acme.internal", true, ""},
		{"acme-dask-ca.daskca.internal", true, ""},
		{"lab.example.org", true, ""},
		{"q.io", true, ""},
		{long + "." + long + "." + long + "." + strings.Repeat("b", 61), true, ""},
		{"", false, "empty"},
		{"acme-dask-ca", false, "acme-dask-ca.daskca.internal"},
		{"acme_dask.example.org", false, `'_'`},
		{"Acme.example.org", false, `'A'`},
		{"a/b.org", false, `'/'`},
		{"a:1.org", false, `':'`},
		{"a..org", false, "empty label"},
		{".a.org", false, "empty label"},
		{"a.org.", false, "empty label"},
		{"-a.org", false, "starts or ends with '-'"},
		{"a-.org", false, "starts or ends with '-'"},
		{long + "a.org", false, "longer than 63"},
		{strings.Repeat(long+".", 4) + "org", false, "more than 253"},
		{"a.b", false, "top-level domain"},
		{"x.y1", false, "top-level domain"},
		{"x.x-y", false, "top-level domain"},
		{"10.0.0.1", false, "top-level domain"},
		{"x.xn--p1ai", false, "top-level domain"},
	}
	for _, tt := range tests {
		t.Run(tt.td, func(t *testing.T) {
			err := ValidateTrustDomain(tt.td)
			if (err == nil) != tt.ok || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidateTrustDomain(%q) = %v, want ok=%v and %q", tt.td, err, tt.ok, tt.want)
			}
		})
	}
}
