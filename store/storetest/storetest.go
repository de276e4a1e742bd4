// Package storetest makes large, realistic-looking inventories for tests and
// benchmarks of the store package and its users.
//
// The records are fake but well formed: each carries a DER certificate that
// parses with crypto/x509, whose serial and validity match the record, cut
// from one self-signed template. Its signature is therefore NOT valid; the
// certificates must never be trusted or served. Generation costs no
// signing, so a million records take seconds.
package storetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/url"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// Options shape generated records. The zero value is usable.
type Options struct {
	Seed        uint64        // same seed, same serials and times; vary it to Fill one store twice
	Now         time.Time     // reference time; zero means 2026-01-01T00:00:00Z
	Lifetime    time.Duration // certificate lifetime; zero means 90 days
	TrustDomain string        // zero means "example.test"
	Batch       int           // records per Put in Fill; zero means 10000
}

// utcTimeLayout is ASN.1 UTCTime, which x509 uses for years before 2050.
const utcTimeLayout = "060102150405Z"

// Gen produces records. It is not safe for concurrent use.
type Gen struct {
	o        Options
	rng      *mrand.Rand
	der      []byte // template certificate
	serialAt int    // offset of the template's 16-byte serial
	notAfter int    // offset of the template's NotAfter UTCTime
	notBef   int    // offset of the template's NotBefore UTCTime
	issuer   string
	n        int
}

// NewGen builds the template certificate and returns a generator.
func NewGen(o Options) (*Gen, error) {
	if o.Now.IsZero() {
		o.Now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Lifetime == 0 {
		o.Lifetime = 90 * 24 * time.Hour
	}
	if o.TrustDomain == "" {
		o.TrustDomain = "example.test"
	}
	if o.Batch <= 0 {
		o.Batch = 10000
	}
	g := &Gen{o: o, rng: mrand.New(mrand.NewPCG(o.Seed, 0x5eed))}
	return g, g.template()
}

func (g *Gen) template() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("template key: %w", err)
	}
	serial := bytes.Repeat([]byte{0x5a}, 16)
	nb, na := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC), time.Date(2032, 3, 4, 5, 6, 7, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: "template", OrganizationalUnit: []string{"worker"}},
		NotBefore:    nb, NotAfter: na,
		DNSNames:    []string{"worker-0000000.cluster.example.test", "worker.example.test"},
		URIs:        []*url.URL{identity.ID{TrustDomain: g.o.TrustDomain, Role: identity.Worker, Name: "template"}.URI()},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	g.der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("template certificate: %w", err)
	}
	g.serialAt = bytes.Index(g.der, serial)
	g.notBef = bytes.Index(g.der, []byte(nb.Format(utcTimeLayout)))
	g.notAfter = bytes.Index(g.der, []byte(na.Format(utcTimeLayout)))
	if g.serialAt < 0 || g.notBef < 0 || g.notAfter < 0 {
		return fmt.Errorf("template certificate: fields not found")
	}
	sum := sha256.Sum256(g.der)
	g.issuer = hex.EncodeToString(sum[:])
	return nil
}

// Next returns a new record: roles mostly worker (1% scheduler, 10%
// client), names unique per generator, NotAfter spread uniformly from
// Lifetime/2 before Now to one Lifetime after it, status Active.
func (g *Gen) Next() store.Record {
	g.n++
	role := identity.Worker
	switch {
	case g.n%100 == 0:
		role = identity.Scheduler
	case g.n%10 == 1:
		role = identity.Client
	}
	name := fmt.Sprintf("%s-%07d", role, g.n)
	span := int64(g.o.Lifetime/time.Second) * 3 / 2
	na := g.o.Now.Add(-g.o.Lifetime/2 + time.Duration(g.rng.Int64N(span))*time.Second).UTC().Truncate(time.Second)
	nb := na.Add(-g.o.Lifetime)
	der := bytes.Clone(g.der)
	serial := der[g.serialAt : g.serialAt+16]
	for i := range serial {
		serial[i] = byte(g.rng.Uint32())
	}
	serial[0] = serial[0]&0x7f | 0x01 // positive, no leading zero byte: length unchanged
	copy(der[g.notBef:], nb.Format(utcTimeLayout))
	copy(der[g.notAfter:], na.Format(utcTimeLayout))
	sum := sha256.Sum256(der)
	return store.Record{
		Serial: new(big.Int).SetBytes(serial).Text(16), Role: string(role), Name: name,
		Status: store.Active, NotBefore: nb, NotAfter: na,
		DNS: []string{name + ".cluster.example.test"}, IPs: []string{fmt.Sprintf("10.%d.%d.%d", g.n>>16&255, g.n>>8&255, g.n&255)},
		URI:               identity.ID{TrustDomain: g.o.TrustDomain, Role: role, Name: name}.String(),
		FingerprintSHA256: hex.EncodeToString(sum[:]), KeyType: "ECDSA-P256", Issuer: g.issuer, DER: der,
		CertFile: "/var/lib/daskca/" + name + ".pem", KeyFile: "/var/lib/daskca/" + name + "-key.pem",
		CAFile: "/var/lib/daskca/ca.pem", IssuedAt: nb,
	}
}

// Records returns the next n records.
func (g *Gen) Records(n int) []store.Record {
	out := make([]store.Record, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// Fill adds n generated records to s in batches of o.Batch, with "import"
// events by actor "storetest".
func Fill(s *store.Store, n int, o Options) error {
	g, err := NewGen(o)
	if err != nil {
		return err
	}
	for n > 0 {
		k := min(n, g.o.Batch)
		if err := s.Apply(store.Batch{Issue: store.Imports(g.Records(k))}, "storetest"); err != nil {
			return fmt.Errorf("filling inventory: %w", err)
		}
		n -= k
	}
	return nil
}
