package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSignEveryKeyType(t *testing.T) {
	t.Parallel()
	for _, caKT := range KeyTypes {
		for _, inter := range []bool{false, true} {
			a := fixtureCA(t, caKT, inter)
			for _, leafKT := range []KeyType{ECP256, Ed25519, RSA2048, caKT} {
				name := string(caKT) + "/" + map[bool]string{false: "root", true: "intermediate"}[inter] + "/leaf-" + string(leafKT)
				t.Run(name, func(t *testing.T) {
					key := mustKey(t, leafKT)
					tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.1.2.3"})
					leaf := mustSign(t, a, tmpl, key.Public())
					if err := goVerify(a, leaf); err != nil {
						t.Fatalf("crypto/x509 verify: %v", err)
					}
					if !bytes.Equal(leaf.AuthorityKeyId, a.Issuer().SubjectKeyId) || len(leaf.SubjectKeyId) == 0 {
						t.Errorf("AKI %x (issuer SKI %x), SKI %x", leaf.AuthorityKeyId, a.Issuer().SubjectKeyId, leaf.SubjectKeyId)
					}
					if KeyTypeOf(leaf.PublicKey) != leafKT {
						t.Errorf("leaf key type %q, want %q", KeyTypeOf(leaf.PublicKey), leafKT)
					}
				})
			}
		}
	}
}

func TestSignLeavesTemplateAlone(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, nil)
	before := *tmpl
	leaf := mustSign(t, a, tmpl, key.Public())
	if !reflect.DeepEqual(*tmpl, before) {
		t.Error("Sign modified the template")
	}
	if leaf.Subject.CommonName != "w1" || leaf.Subject.OrganizationalUnit[0] != "worker" ||
		leaf.URIs[0].String() != "spiffe://dask.acme.internal/dask/worker/w1" || !leaf.NotAfter.Equal(tmpl.NotAfter.Truncate(time.Second)) {
		t.Errorf("leaf does not follow the template: %v %v %v", leaf.Subject, leaf.URIs, leaf.NotAfter)
	}
}

func TestSignSerials(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, false)
	key := mustKey(t, ECP256)
	tmpl := leafTemplate(key.Public(), "w1", nil, []string{"10.0.0.1"})
	seen := map[string]bool{}
	maxLen := 0
	const n = 2000
	for range n {
		c := mustSign(t, a, tmpl, key.Public())
		s := c.SerialNumber
		if s.Sign() <= 0 || s.BitLen() > serialBits {
			t.Fatalf("serial %v: sign %d, %d bits", s, s.Sign(), s.BitLen())
		}
		if seen[s.String()] {
			t.Fatalf("serial %v repeated", s)
		}
		seen[s.String()] = true
		maxLen = max(maxLen, derIntegerLen(t, c.RawTBSCertificate))
	}
	if maxLen > 20 {
		t.Errorf("a DER serial took %d octets, RFC 5280 allows 20", maxLen)
	}
	// Over 2000 serials of 159 random bits, a top byte of 0x40 or more (so
	// 20 octets) is all but certain; none at all would mean fewer bits.
	if maxLen != 20 {
		t.Errorf("longest DER serial %d octets, want 20", maxLen)
	}
}

// derIntegerLen returns the content length of the serial number INTEGER in
// a TBSCertificate, and fails if it is negative or has a redundant byte.
func derIntegerLen(t *testing.T, tbs []byte) int {
	t.Helper()
	// SEQUENCE hdr, [0] version (a0 03 02 01 02), then INTEGER.
	i := 2
	if tbs[1]&0x80 != 0 {
		i += int(tbs[1] & 0x7f)
	}
	i += 5
	if tbs[i] != 0x02 {
		t.Fatalf("no INTEGER at %d", i)
	}
	l, v := int(tbs[i+1]), tbs[i+2:]
	if v[0]&0x80 != 0 || (l > 1 && v[0] == 0 && v[1]&0x80 == 0) {
		t.Fatalf("serial DER % x is negative or not minimal", v[:l])
	}
	return l
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	iss := a.Issuer()
	tests := []struct {
		name   string
		edit   func(*x509.Certificate)
		want   error
		inText []string
	}{
		{"CA template", func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = true, true }, ErrBadTemplate, nil},
		{"no NotAfter", func(c *x509.Certificate) { c.NotAfter = time.Time{} }, ErrBadTemplate, []string{"NotAfter"}},
		{"no NotBefore", func(c *x509.Certificate) { c.NotBefore = time.Time{} }, ErrBadTemplate, []string{"NotBefore"}},
		{"inverted", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = c.NotAfter, c.NotBefore }, ErrBadTemplate, nil},
		{"outlives issuer", func(c *x509.Certificate) { c.NotAfter = iss.NotAfter.Add(time.Second) },
			ErrOutlivesIssuer, []string{stamp(iss.NotAfter.Add(time.Second)), stamp(iss.NotAfter)}},
		{"predates issuer", func(c *x509.Certificate) { c.NotBefore = iss.NotBefore.Add(-time.Second) },
			ErrOutlivesIssuer, []string{stamp(iss.NotBefore.Add(-time.Second)), stamp(iss.NotBefore)}},
		{"DNS outside", func(c *x509.Certificate) { c.DNSNames = []string{"w1.dask.internal", "evil.example.com"} },
			ErrNameConstraint, []string{`"evil.example.com"`, ".dask.internal, localhost"}},
		{"DNS apex of dotted constraint", func(c *x509.Certificate) { c.DNSNames = []string{"dask.internal"} },
			ErrNameConstraint, []string{`"dask.internal"`}},
		{"DNS suffix lookalike", func(c *x509.Certificate) { c.DNSNames = []string{"evildask.internal"} }, ErrNameConstraint, nil},
		{"IP outside", func(c *x509.Certificate) { c.IPAddresses = append(c.IPAddresses, mustIP("192.168.1.1")) },
			ErrNameConstraint, []string{"192.168.1.1", "10.0.0.0/8, 127.0.0.0/8, fd00::/8"}},
		{"IPv6 outside", func(c *x509.Certificate) { c.IPAddresses = []net.IP{mustIP("2001:db8::1")} },
			ErrNameConstraint, []string{"2001:db8::1"}},
		{"IPv4-mapped IPv6 outside", func(c *x509.Certificate) { c.IPAddresses = []net.IP{mustIP("::ffff:192.168.1.1")} },
			ErrNameConstraint, []string{"192.168.1.1"}},
		{"URI of another trust domain", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL("spiffe://other.org/dask/worker/w1")} },
			ErrNameConstraint, []string{"spiffe://other.org/dask/worker/w1", testTrustDomain}},
		{"URI under the trust domain", func(c *x509.Certificate) {
			c.URIs = []*url.URL{mustURL("spiffe://x.dask.acme.internal/dask/worker/w1")}
		},
			ErrNameConstraint, nil},
		{"URI with IP host", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL("https://10.0.0.1/")} }, ErrNameConstraint, nil},
		{"hostname CN outside, no DNS SANs", func(c *x509.Certificate) { c.Subject.CommonName, c.DNSNames = "www.example.com", nil },
			ErrNameConstraint, []string{"www.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1"})
			tt.edit(tmpl)
			c, err := a.Sign(tmpl, key.Public())
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("Sign = %v, %v; want error %v", c, err, tt.want)
			}
			for _, s := range tt.inText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := a.Sign(leafTemplate(key.Public(), "w1", nil, nil), nil); !errors.Is(err, ErrBadTemplate) {
		t.Errorf("Sign with nil key: %v, want ErrBadTemplate", err)
	}
}

func TestSignPermits(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	tests := []struct {
		name string
		edit func(*x509.Certificate)
	}{
		{"subdomain", func(c *x509.Certificate) { c.DNSNames = []string{"a.b.dask.internal"} }},
		{"upper case", func(c *x509.Certificate) { c.DNSNames = []string{"W1.Dask.Internal"} }},
		{"wildcard", func(c *x509.Certificate) { c.DNSNames = []string{"*.dask.internal"} }},
		{"undotted constraint apex", func(c *x509.Certificate) { c.DNSNames = []string{"localhost"} }},
		{"IPv6 inside", func(c *x509.Certificate) { c.IPAddresses = []net.IP{mustIP("fd12::7")} }},
		{"loopback", func(c *x509.Certificate) { c.IPAddresses = []net.IP{mustIP("127.0.0.1")} }},
		{"IP only, plain CN", func(c *x509.Certificate) { c.DNSNames = nil; c.Subject.CommonName = "worker 1" }},
		{"hostname CN ignored when DNS SANs exist", func(c *x509.Certificate) { c.Subject.CommonName = "www.example.com" }},
		{"no SANs at all", func(c *x509.Certificate) { c.DNSNames, c.IPAddresses, c.URIs = nil, nil, nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1"})
			tt.edit(tmpl)
			leaf := mustSign(t, a, tmpl, key.Public())
			if err := goVerify(a, leaf); err != nil {
				t.Errorf("crypto/x509 rejects what Sign signed: %v", err)
			}
		})
	}
}

func TestSignWithoutKey(t *testing.T) {
	t.Parallel()
	full := fixtureCA(t, ECP256, true)
	pub := &Authority{Root: full.Root, Intermediate: full.Intermediate, RootKey: full.RootKey}
	key := mustKey(t, ECP256)
	if _, err := pub.Sign(leafTemplate(key.Public(), "w1", nil, nil), key.Public()); !errors.Is(err, ErrNoKey) {
		t.Errorf("Sign without the intermediate key: %v, want ErrNoKey", err)
	}
}

func mustIP(s string) net.IP {
	ip := net.ParseIP(s)
	if ip == nil {
		panic("bad IP " + s)
	}
	return ip
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func BenchmarkSignP256(b *testing.B) {
	a := fixtureCA(b, ECP256, true)
	key := mustKey(b, ECP256)
	tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1"})
	for b.Loop() {
		if _, err := a.Sign(tmpl, key.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignDERMatchesParse: what SignDER says it signed is what the DER
// holds, for every key type, with and without an intermediate, with a
// validity in another time zone and with fractions of a second; and
// SignDER refuses what Sign refuses.
func TestSignDERMatchesParse(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	for _, caKT := range []KeyType{ECP256, Ed25519, RSA2048} {
		for _, inter := range []bool{false, true} {
			a := fixtureCA(t, caKT, inter)
			for _, leafKT := range []KeyType{ECP256, Ed25519, RSA2048} {
				t.Run(fmt.Sprintf("%s/%v/%s", caKT, inter, leafKT), func(t *testing.T) {
					key := mustKey(t, leafKT)
					tmpl := leafTemplate(key.Public(), "w1", []string{"w1.dask.internal", "localhost"}, []string{"10.1.2.3", "fd00::1"})
					tmpl.NotBefore = tmpl.NotBefore.In(paris).Add(123456789 * time.Nanosecond)
					signed, err := a.SignDER(tmpl, key.Public())
					if err != nil {
						t.Fatal(err)
					}
					got, err := x509.ParseCertificate(signed.Raw)
					if err != nil {
						t.Fatal(err)
					}
					if err := goVerify(a, got); err != nil {
						t.Fatalf("crypto/x509 verify: %v", err)
					}
					for _, c := range []struct {
						what      string
						got, want any
					}{
						{"serial", got.SerialNumber.String(), signed.SerialNumber.String()},
						{"subject", got.Subject.String(), signed.Subject.String()},
						{"NotBefore", got.NotBefore, signed.NotBefore},
						{"NotAfter", got.NotAfter, signed.NotAfter},
						{"DNS", got.DNSNames, signed.DNSNames},
						{"URIs", fmt.Sprint(got.URIs), fmt.Sprint(signed.URIs)},
						{"SKI", got.SubjectKeyId, signed.SubjectKeyId},
						{"AKI", got.AuthorityKeyId, signed.AuthorityKeyId},
					} {
						if !reflect.DeepEqual(c.got, c.want) {
							t.Errorf("%s: certificate has %v, SignDER says %v", c.what, c.got, c.want)
						}
					}
					if len(got.IPAddresses) != len(signed.IPAddresses) {
						t.Fatalf("IPs: certificate has %v, SignDER says %v", got.IPAddresses, signed.IPAddresses)
					}
					for i := range got.IPAddresses {
						if !got.IPAddresses[i].Equal(signed.IPAddresses[i]) {
							t.Errorf("IP %d: certificate has %v, SignDER says %v", i, got.IPAddresses[i], signed.IPAddresses[i])
						}
					}
				})
			}
		}
	}
	a := fixtureCA(t, ECP256, false)
	key := mustKey(t, ECP256)
	bad := leafTemplate(key.Public(), "w1", []string{"w1.elsewhere.example"}, nil)
	if _, err := a.SignDER(bad, key.Public()); !errors.Is(err, ErrNameConstraint) {
		t.Errorf("SignDER outside the name constraints: %v, want ErrNameConstraint", err)
	}
}
