package enrol

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// TestEnrolConcurrentUses: 40 hosts enrol at once with one token for 40
// uses; all get distinct certificates, the 41st is refused, and each key
// is only in its host's directory.
func TestEnrolConcurrentUses(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 40, TTL: time.Hour})
	nodes := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	serials := make([]string, 40)
	for i := range 40 {
		wg.Go(func() {
			name := fmt.Sprintf("node%02d", i+1)
			is, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: name, DNS: []string{name + ".dask.internal"}})
			if err == nil {
				serials[i] = is.Serial
				err = WriteDir(filepath.Join(nodes, name), is, State{Server: f.url, Role: is.Role, Name: is.Name})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node%02d: %v", i+1, err)
		}
		if seen[serials[i]] {
			t.Fatalf("serial %s twice", serials[i])
		}
		seen[serials[i]] = true
	}
	_, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node41"})
	var re *RefusedError
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized || re.Body.Code != CodeToken {
		t.Fatalf("41st enrolment: got %v, want a token refusal", err)
	}
	n, err := f.store.Count()
	if err != nil || n != 40 {
		t.Fatalf("inventory holds %d records (%v), want 40", n, err)
	}
	// Every key exists once, in its node's directory; the home has none.
	keys := map[string]string{}
	for i := range 40 {
		name := fmt.Sprintf("node%02d", i+1)
		p := filepath.Join(nodes, name, KeyFile)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", p, fi.Mode().Perm())
		}
		if other, ok := keys[string(b)]; ok {
			t.Fatalf("%s and %s hold the same key", other, name)
		}
		keys[string(b)] = name
		if _, _, _, err := ReadDir(filepath.Join(nodes, name)); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.WalkDir(f.l.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			for k, name := range keys {
				if bytes.Contains(b, []byte(k)) {
					t.Errorf("%s's key is also in the CA home: %s", name, p)
				}
			}
		}
		return nil
	})
}

func postJSON(t *testing.T, f *fixture, path string, body []byte) (int, ErrorBody) {
	t.Helper()
	u, _ := url.Parse(f.url)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pinnedConfig(f.srv.RootFingerprint(), u.Hostname())}}
	defer c.CloseIdleConnections()
	res, err := c.Post(f.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var eb ErrorBody
	_ = json.NewDecoder(res.Body).Decode(&eb)
	return res.StatusCode, eb
}

// TestEnrolRefusals: each request the server must refuse gets a 4xx with a
// JSON error of the right code, is in the audit log, and records nothing.
func TestEnrolRefusals(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	good := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 100, TTL: time.Hour, IPRange: "10.1.0.0/16"})
	expired := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", TTL: time.Minute})
	revoked := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", TTL: time.Hour})
	rt, _ := ParseToken(revoked)
	if _, err := f.store.RevokeToken(rt.ID, "test"); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(2 * time.Minute)
	random, _ := NewToken(f.srv.RootFingerprint())
	otherRoot, _ := NewToken([32]byte{1})
	gt, _ := ParseToken(good)
	otherRoot.ID, otherRoot.Secret = gt.ID, gt.Secret

	ec := mustKey(t, ca.ECP256)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse("spiffe://test-ca.daskca.internal/dask/scheduler/node07")
	bc, _ := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true})
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 4}})
	tests := []struct {
		name   string
		token  string
		role   string
		csr    string
		status int
		code   string
	}{
		{"expired token", expired, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 401, CodeToken},
		{"revoked token", revoked, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 401, CodeToken},
		{"random token", random.String(), "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 401, CodeToken},
		{"token of another root", otherRoot.String(), "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 401, CodeToken},
		{"not a token", "hello", "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 401, CodeToken},
		{"name outside the pattern", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("sched01")}), 403, CodeScope},
		{"role other than the token's", good, "scheduler", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01")}), 403, CodeScope},
		{"role in the CSR's OU", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "node01", OrganizationalUnit: []string{"scheduler"}}}), 403, CodeScope},
		{"extra DNS SAN", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01"), DNSNames: []string{"node01.dask.internal", "sched01.dask.internal"}}), 403, CodeScope},
		{"extra URI SAN", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node07"), URIs: []*url.URL{uri}}), 400, CodeCSR},
		{"extra e-mail SAN", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node07"), EmailAddresses: []string{"a@b.c"}}), 400, CodeCSR},
		{"IP outside the range", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01"), IPAddresses: []net.IP{{10, 2, 0, 1}}}), 403, CodeScope},
		{"RSA-1024 key", good, "", rawCSR(t, rsa1024, &x509.CertificateRequest{Subject: subject("node01")}), 400, CodeCSR},
		{"CA bits", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01"), ExtraExtensions: []pkix.Extension{{Id: oidBasicConstraints, Critical: true, Value: bc}}}), 400, CodeCSR},
		{"other EKU", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: subject("node01"), ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Value: eku}}}), 400, CodeCSR},
		{"other subject attribute", good, "", rawCSR(t, ec, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "node01", Organization: []string{"x"}}}), 400, CodeCSR},
		{"no CN", good, "", rawCSR(t, ec, &x509.CertificateRequest{DNSNames: []string{"node01"}}), 400, CodeCSR},
		{"not a CSR", good, "", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 400, CodeCSR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq, _, _ := f.store.AuditHead()
			body, _ := json.Marshal(EnrolRequest{Token: tc.token, Role: tc.role, CSR: tc.csr})
			status, eb := postJSON(t, f, PathEnrol, body)
			if status != tc.status || eb.Code != tc.code || eb.Error == "" || strings.Contains(eb.Error, "\n") {
				t.Fatalf("got %d %+v, want %d %s", status, eb, tc.status, tc.code)
			}
			if n, _ := f.store.Count(); n != 0 {
				t.Fatalf("a refused request recorded %d certificates", n)
			}
			var last store.Event
			_ = f.store.Events(func(e store.Event) error { last = e; return nil })
			if last.Seq != seq+1 || last.Kind != store.EventRefuse {
				t.Fatalf("audit log: last event %+v, want one refusal after %d", last, seq)
			}
		})
	}
}

// TestEnrolNameConstraints: a DNS name the token allows but the CA's name
// constraints do not is refused by the CA, as for daskca issue.
func TestEnrolNameConstraints(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{PermitDNS: []string{".dask.internal"}})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 2, TTL: time.Hour})
	_, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01", DNS: []string{"node01.example.org"}})
	var re *RefusedError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Body.Code != CodeScope || !strings.Contains(re.Body.Error, "node01.example.org") {
		t.Fatalf("got %v, want a 403 naming the DNS name", err)
	}
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01", DNS: []string{"node01.dask.internal"}}); err != nil {
		t.Fatalf("a permitted name: %v", err)
	}
}
