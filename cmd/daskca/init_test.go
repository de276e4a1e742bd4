package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/testkit/x509lint"
)

func TestDefaultTrustDomain(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Acme Dask CA", "acme-dask-ca.daskca.internal"},
		{"  Lab -- CA 2 ", "lab-ca-2.daskca.internal"},
		{"Ünïcödé", "n-c-d.daskca.internal"},
		{"日本", "daskca.internal"},
		{strings.Repeat("a", 62) + " b", strings.Repeat("a", 62) + ".daskca.internal"},
		{strings.Repeat("a", 64), strings.Repeat("a", 63) + ".daskca.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultTrustDomain(tt.name)
			if got != tt.want {
				t.Errorf("defaultTrustDomain(%q) = %q, want %q", tt.name, got, tt.want)
			}
			if err := identity.ValidateTrustDomain(got); err != nil {
				t.Errorf("defaultTrustDomain(%q) = %q: %v", tt.name, got, err)
			}
		})
	}
}

// TestInitDefaultsLintClean: a CA made with init's defaults, and the
// certificates it issues, pass zlint's RFC and community lints, name
// constraints or not. A one-label trust domain fails
// e_ext_san_uri_host_not_fqdn_or_ip and e_name_constraint_not_fqdn.
func TestInitDefaultsLintClean(t *testing.T) {
	x509lint.Require(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"constrained", []string{"--intermediate", "--permit-dns", ".dask.internal", "--permit-ip", "10.0.0.0/8"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "home")
			mustCLI(t, dir, append([]string{"init", "--name", "Acme Dask CA", "--insecure-no-password"}, tt.args...)...)
			mustCLI(t, dir, "issue", "worker", "node07", "--dns", "node07.dask.internal", "--ip", "10.0.1.7")
			mustCLI(t, dir, "issue", "client", "alice")
			l, _ := home.New(dir)
			files := []string{filepath.Join(l.CADir(), ca.RootCertFile), l.Endpoint("worker", "node07").Cert, l.Endpoint("client", "alice").Cert}
			if len(tt.args) > 0 {
				files = append(files, filepath.Join(l.CADir(), ca.IntermediateCertFile))
			}
			for _, f := range files {
				if bad := x509lint.Problems(t, f); len(bad) > 0 {
					t.Errorf("%s: zlint: %v", filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), bad)
				}
			}
			if out := mustCLI(t, dir, "show", "node07"); !strings.Contains(out, "spiffe://acme-dask-ca.daskca.internal/dask/worker/node07") {
				t.Errorf("show node07 lacks the default trust domain:\n%s", out)
			}
		})
	}
}

// TestQuickstartLintClean: the demo PKI passes the same lints.
func TestQuickstartLintClean(t *testing.T) {
	x509lint.Require(t)
	dir := filepath.Join(t.TempDir(), "home")
	mustCLI(t, dir, "quickstart")
	l, _ := home.New(dir)
	files := []string{filepath.Join(l.CADir(), ca.RootCertFile)}
	for _, e := range [][2]string{{"scheduler", "scheduler"}, {"worker", "worker1"}, {"client", "client"}} {
		files = append(files, l.Endpoint(e[0], e[1]).Cert)
	}
	for _, f := range files {
		if bad := x509lint.Problems(t, f); len(bad) > 0 {
			t.Errorf("%s: zlint: %v", f, bad)
		}
	}
}

// TestInitRefusesTrustDomain: a --trust-domain whose certificates RFC 5280
// (and zlint) would reject is a usage error that names the fix.
func TestInitRefusesTrustDomain(t *testing.T) {
	for _, tt := range []struct{ td, want string }{
		{"acme-dask-ca", "use one such as acme-dask-ca.daskca.internal"},
		{"dask.acme.1", "end it with one such as .internal"},
		{"dask_acme.internal", "'_' not allowed"},
		{"Dask.acme.internal", "lower-case"},
		{"10.0.0.1", "top-level domain"},
	} {
		t.Run(tt.td, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "home")
			code, _, stderr := runCLI(t, dir, nil, "init", "--name", "x", "--insecure-no-password", "--trust-domain", tt.td)
			if code != exitUsage || !strings.Contains(stderr, "--trust-domain") || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestInitNameTooLong: an overlong --name is blamed on --name, with the
// limit, as a usage error; not on the trust domain derived from it.
func TestInitNameTooLong(t *testing.T) {
	for name, args := range map[string][]string{
		"5000":         {"init", "--name", strings.Repeat("x", 5000), "--insecure-no-password"},
		"65 with td":   {"init", "--name", strings.Repeat("x", 65), "--insecure-no-password", "--trust-domain", "a.example.org"},
		"control":      {"init", "--name", "bad\x07name", "--insecure-no-password"},
		"rotate begin": {"ca", "rotate", "begin", "--name", strings.Repeat("y", 300)},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, filepath.Join(t.TempDir(), "home"), nil, args...)
			if code != exitUsage || !strings.Contains(stderr, "--name") || strings.Contains(stderr, "trust") || len(stderr) > 300 {
				t.Errorf("exit %d, stderr %q; want exit %d blaming --name", code, stderr, exitUsage)
			}
		})
	}
	t.Run("limit named", func(t *testing.T) {
		_, _, stderr := runCLI(t, filepath.Join(t.TempDir(), "home"), nil, "init", "--name", strings.Repeat("x", 5000), "--insecure-no-password")
		if !strings.Contains(stderr, "5000 characters") || !strings.Contains(stderr, "at most 64") {
			t.Errorf("stderr %q does not name the length and the limit", stderr)
		}
	})
}

// TestLegacyTrustDomainHome: a home made before trust domains had to be
// FQDNs (ca.json holds a one-label trust domain) still loads and issues.
func TestLegacyTrustDomainHome(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	l, _ := home.New(dir)
	a, err := ca.New(ca.Options{Name: "Old CA", TrustDomain: "old-ca"})
	if err != nil {
		t.Fatal(err)
	}
	a.Insecure = true
	if err := createHome(l, a, nil); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, dir, "issue", "worker", "w1")
	if out := mustCLI(t, dir, "show", "w1"); !strings.Contains(out, "spiffe://old-ca/dask/worker/w1") {
		t.Errorf("show w1:\n%s", out)
	}
	if out := mustCLI(t, dir, "ca", "show"); !strings.Contains(out, "old-ca") || !strings.Contains(out, "not a fully qualified domain name") {
		t.Errorf("ca show does not point out the one-label trust domain:\n%s", out)
	}
}
