package issue

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/testkit/x509lint"
	"github.com/daskca/daskca/store"
)

var testNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func mustIssuer(t *testing.T, opts ca.Options) *Issuer {
	t.Helper()
	opts.Now = func() time.Time { return testNow }
	if opts.Name == "" {
		opts.Name = "Test CA"
	}
	if opts.TrustDomain == "" {
		opts.TrustDomain = "test.dask"
	}
	a, err := ca.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := home.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(l.Inventory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Issuer{CA: a, Store: s, Layout: l, Now: func() time.Time { return testNow }, Actor: "test"}
}

func readCert(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func TestIssueProfiles(t *testing.T) {
	is := mustIssuer(t, ca.Options{Intermediate: true})
	tests := []struct {
		role identity.Role
		eku  []x509.ExtKeyUsage
	}{
		{identity.Scheduler, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{identity.Worker, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{identity.Client, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			rec, err := is.Issue(context.Background(), Request{
				Role: tt.role, Name: "n1", DNS: []string{"Host.Example", "host.example"}, IPs: []string{"10.0.0.5", "::1"},
				Validity: 90 * 24 * time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			chain := readCert(t, rec.CertFile)
			if len(chain) != 2 {
				t.Fatalf("cert file holds %d certificates, want leaf + intermediate", len(chain))
			}
			leaf := chain[0]
			if !slices.Equal(leaf.ExtKeyUsage, tt.eku) {
				t.Errorf("EKU = %v, want %v", leaf.ExtKeyUsage, tt.eku)
			}
			if !slices.Equal(leaf.DNSNames, []string{"host.example"}) {
				t.Errorf("DNS = %v (want lower-cased, deduplicated)", leaf.DNSNames)
			}
			if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
				t.Errorf("IPs = %v", leaf.IPAddresses)
			}
			id, err := identity.FromCertificate(leaf)
			if err != nil || id != (identity.ID{TrustDomain: "test.dask", Role: tt.role, Name: "n1"}) {
				t.Errorf("identity = %+v, %v", id, err)
			}
			if leaf.Subject.OrganizationalUnit[0] != string(tt.role) || leaf.Subject.CommonName != "n1" {
				t.Errorf("subject = %v", leaf.Subject)
			}
			if !leaf.NotAfter.Equal(testNow.Add(90*24*time.Hour)) || !leaf.NotBefore.Equal(testNow.Add(-Backdate)) {
				t.Errorf("validity %v to %v", leaf.NotBefore, leaf.NotAfter)
			}
			roots := x509.NewCertPool()
			roots.AddCert(is.CA.Root)
			inter := x509.NewCertPool()
			inter.AddCert(chain[1])
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: testNow,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("verify: %v", err)
			}
			if fi, err := os.Stat(rec.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode: %v, %v", fi.Mode(), err)
			}
			if rec.Serial != SerialString(leaf) || rec.Status != store.Active || rec.URI != id.String() {
				t.Errorf("record = %+v", rec)
			}
			// The record is made without parsing the certificate back: it
			// must be what the parsed certificate says.
			want := RecordOf(leaf, ca.KeyType(rec.KeyType), rec.IssuedAt)
			want.CertFile, want.KeyFile, want.CAFile, want.Issuer = rec.CertFile, rec.KeyFile, rec.CAFile, rec.Issuer
			if !reflect.DeepEqual(rec, want) {
				t.Errorf("record\n%+v\nwant, from the parsed certificate,\n%+v", rec, want)
			}
		})
	}
}

func TestIssueRefusals(t *testing.T) {
	is := mustIssuer(t, ca.Options{PermitDNS: []string{".dask.internal"}, PermitIP: []*net.IPNet{mustCIDR(t, "10.0.0.0/8")}, Validity: 365 * 24 * time.Hour})
	ctx := context.Background()
	if _, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1", DNS: []string{"w1.dask.internal"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"active exists", Request{Role: identity.Worker, Name: "w1"}, ErrActive},
		{"dns outside constraints", Request{Role: identity.Worker, Name: "w2", DNS: []string{"w2.example.com"}}, ca.ErrNameConstraint},
		{"ip outside constraints", Request{Role: identity.Worker, Name: "w2", IPs: []string{"192.168.1.1"}}, ca.ErrNameConstraint},
		{"outlives the CA", Request{Role: identity.Worker, Name: "w2", Validity: 2 * 365 * 24 * time.Hour}, ca.ErrOutlivesIssuer},
		{"bad dns", Request{Role: identity.Worker, Name: "w2", DNS: []string{"10.0.0.1"}}, ErrInvalidDNS},
		{"bad ip", Request{Role: identity.Worker, Name: "w2", IPs: []string{"10.0.0.0/24"}}, ErrInvalidIP},
		{"bad name", Request{Role: identity.Worker, Name: "../w2"}, ErrInvalidName},
		{"bad role", Request{Role: "nanny", Name: "w2"}, identity.ErrUnknownRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, is)
			_, err := is.Issue(ctx, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Issue error = %v, want %v", err, tt.want)
			}
			if after := snapshot(t, is); !slices.Equal(before, after) {
				t.Errorf("a refused request changed the home:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestIssueForceSupersedes(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	first, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	old, err := is.Store.Cert(first.Serial)
	if err != nil || old.Status != store.Superseded || old.SupersededBy != second.Serial {
		t.Errorf("old record = %+v, %v", old, err)
	}
	cur, ok, err := is.Store.Active("worker", "w1")
	if err != nil || !ok || cur.Serial != second.Serial || cur.Supersedes != first.Serial {
		t.Errorf("active = %+v %v %v", cur, ok, err)
	}
	if got := readCert(t, second.CertFile)[0]; SerialString(got) != second.Serial {
		t.Errorf("cert file holds serial %s, want %s", SerialString(got), second.Serial)
	}
}

func TestFind(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	w, _ := is.Issue(ctx, Request{Role: identity.Worker, Name: "n1"})
	c, _ := is.Issue(ctx, Request{Role: identity.Client, Name: "n1"})
	only, _ := is.Issue(ctx, Request{Role: identity.Client, Name: "alice"})
	tests := []struct {
		q, want string
		err     error
	}{
		{"alice", only.Serial, nil},
		{"worker/n1", w.Serial, nil},
		{"client/n1", c.Serial, nil},
		{w.Serial, w.Serial, nil},
		{"0x" + w.Serial, w.Serial, nil},
		{"n1", "", ErrAmbiguous},
		{"bob", "", ErrNotFound},
		{"scheduler/n1", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			r, err := Find(is.Store, tt.q)
			if !errors.Is(err, tt.err) || err == nil && r.Serial != tt.want {
				t.Errorf("Find(%q) = %s, %v; want %s, %v", tt.q, r.Serial, err, tt.want, tt.err)
			}
		})
	}
}

// snapshot lists every file under the home with its size, and the inventory's record count.
func snapshot(t *testing.T, is *Issuer) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(is.Layout.Dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || p == is.Layout.Inventory() {
			return err
		}
		b, _ := os.ReadFile(p)
		out = append(out, p+":"+string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := is.Store.Count()
	if err != nil {
		t.Fatal(err)
	}
	return append(out, "records:"+strconv.Itoa(n))
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every role's certificate, as issued, passes the RFC 5280 linter.
func TestIssuedLeavesLint(t *testing.T) {
	for _, kt := range []ca.KeyType{ca.ECP256, ca.RSA2048, ca.Ed25519} {
		is := mustIssuer(t, ca.Options{Intermediate: true, KeyType: kt, PermitDNS: []string{".dask.internal"}, PermitIP: []*net.IPNet{mustCIDR(t, "10.0.0.0/8")}})
		for _, role := range identity.Roles {
			t.Run(string(kt)+"/"+string(role), func(t *testing.T) {
				rec, err := is.Issue(context.Background(), Request{Role: role, Name: "n1", DNS: []string{"n1.dask.internal"}, IPs: []string{"10.0.0.7"}, KeyType: kt})
				if err != nil {
					t.Fatal(err)
				}
				if bad := x509lint.Problems(t, rec.CertFile); len(bad) > 0 {
					t.Errorf("zlint: %v", bad)
				}
			})
		}
	}
}

// A renewal in the same second as the original must not make role/name
// resolve to the superseded record.
func TestFindPrefersActive(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1", Force: i > 0}); err != nil {
			t.Fatal(err)
		}
	}
	cur, _, _ := is.Store.Active("worker", "w1")
	for _, q := range []string{"worker/w1", "w1"} {
		if r, err := Find(is.Store, q); err != nil || r.Serial != cur.Serial {
			t.Errorf("Find(%q) = %s (%s), %v; want the active %s", q, r.Serial, r.Status, err, cur.Serial)
		}
	}
}
