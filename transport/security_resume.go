package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// TLS 1.3 session resumption, scoped to one material.
//
// A Dask cluster opens many short connections between the same endpoints;
// resuming a session skips the certificate signatures and most of their
// verification. daskca allows it only where it changes nothing about who
// is accepted:
//   - Session tickets are encrypted with keys derived from a secret of the
//     material that issued them, one key per day (tickets of the current
//     and the previous day are accepted). A reload (new certificate, CA
//     bundle or CRL) makes a new material, whose keys decrypt no older
//     ticket, and whose client session cache starts empty: the first
//     connection after a reload is a full handshake.
//   - VerifyConnection runs on resumed connections too (crypto/tls
//     guarantees it). The dialer verifies the server's chain against the
//     current CA bundle on every connection anyway; the listener verifies
//     a resumed client's chain against it again (a full handshake has crypto/tls
//     do that). Revocation and the role policy are applied to every
//     connection, resumed or not.

// ticketDay is how long one session ticket key encrypts new tickets.
const ticketDay = 24 * time.Hour

// clientSessions is how many sessions a dialer keeps per material (one per
// server it dialed).
const clientSessions = 256

// materialCache is what one material keeps across handshakes: the secret of
// its session ticket keys, a dialer's sessions, and the peer chains that
// verified against its CA bundle.
type materialCache struct {
	secret   [32]byte
	sessions tls.ClientSessionCache
	chains   chainCache
}

func newMaterialCache() (*materialCache, error) {
	r := &materialCache{sessions: tls.NewLRUClientSessionCache(clientSessions)}
	if _, err := rand.Read(r.secret[:]); err != nil {
		return nil, fmt.Errorf("session ticket secret: %w", err)
	}
	return r, nil
}

// ticketKeys returns the keys of the day of now (first: it encrypts new
// tickets) and of the day before.
func (r *materialCache) ticketKeys(now time.Time) [][32]byte {
	day := now.Unix() / int64(ticketDay/time.Second)
	return [][32]byte{r.dayKey(day), r.dayKey(day - 1)}
}

func (r *materialCache) dayKey(day int64) [32]byte {
	mac := hmac.New(sha256.New, r.secret[:])
	mac.Write([]byte("daskca session ticket key"))
	_ = binary.Write(mac, binary.BigEndian, day)
	var k [32]byte
	copy(k[:], mac.Sum(nil))
	return k
}

// materialSessions is a dialer's ClientSessionCache: the cache of the
// material current at each handshake.
type materialSessions struct{ s *Security }

func (c materialSessions) Get(key string) (*tls.ClientSessionState, bool) {
	return c.s.cur.Load().cache.sessions.Get(key)
}

func (c materialSessions) Put(key string, cs *tls.ClientSessionState) {
	c.s.cur.Load().cache.sessions.Put(key, cs)
}

// verifyResumedClient verifies, on the listening side, the chain of a
// client whose session was resumed against the CA bundle of m, and returns
// the verified chains.
func (s *Security) verifyResumedClient(m *material, certs []*x509.Certificate) ([][]*x509.Certificate, error) {
	chains, err := m.cache.chains.verify(certs, m.roots, s.now(), x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, fmt.Errorf("%w: resumed session of client certificate %s: %w", ErrPeerRefused, describeCert(certs[0]), err)
	}
	return chains, nil
}

// chainCacheSize bounds the chains one material remembers; past it, chains
// are verified every time.
const chainCacheSize = 4096

// chainCache remembers, for one material (so for one CA bundle), which
// peer chains verified and what chains they verified to: a cluster's
// endpoints connect to each other again and again with the same
// certificates. A remembered chain is used only while every certificate in
// it is within its validity period at the time of the new verification; the
// bundle cannot change without a new material; the key usage is part of the
// key. Revocation and the role policy are not cached.
type chainCache struct {
	mu sync.Mutex
	m  map[[32]byte][][]*x509.Certificate
}

// verify verifies the peer chain certs (leaf first, then intermediates)
// against roots at now for usage, answering from the cache when it can.
func (c *chainCache) verify(certs []*x509.Certificate, roots *x509.CertPool, now time.Time, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, int32(usage))
	for _, cert := range certs {
		_ = binary.Write(h, binary.BigEndian, uint32(len(cert.Raw)))
		h.Write(cert.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	c.mu.Lock()
	chains, ok := c.m[key]
	c.mu.Unlock()
	if ok && withinValidity(chains, now) {
		return chains, nil
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[[32]byte][][]*x509.Certificate{}
	}
	if len(c.m) < chainCacheSize {
		c.m[key] = chains
	}
	c.mu.Unlock()
	return chains, nil
}

func withinValidity(chains [][]*x509.Certificate, now time.Time) bool {
	for _, ch := range chains {
		for _, c := range ch {
			if now.Before(c.NotBefore) || now.After(c.NotAfter) {
				return false
			}
		}
	}
	return true
}
