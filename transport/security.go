package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// SecurityOptions tunes NewSecurity. The zero value logs nothing and uses
// the system clock.
type SecurityOptions struct {
	// Logger gets reloads, kept material after a failed reload, skipped
	// cipher names and warnings about key file permissions. Never key
	// material. nil discards.
	Logger *slog.Logger
	// Now is the clock for certificate validity, CRL freshness and peer
	// verification. nil means time.Now.
	Now func() time.Time
	// OnReload, if set, is called after every reload attempt (from Reload,
	// Run or WatchSIGHUP) with nil or the reason the old material was kept.
	OnReload func(error)
}

// Security builds the tls.Configs of one endpoint from a daskconfig.Config
// and the endpoint's role, and keeps its certificate, key, CA bundle and CRL
// current (see Reload and Run). It is safe for concurrent use; the tls.Configs it
// returns stay valid across reloads and may be used for many connections.
type Security struct {
	cfg    daskconfig.Config
	role   identity.Role
	log    *slog.Logger
	now    func() time.Time
	hook   func(error)
	suites []uint16
	minV   uint16
	maxV   uint16

	cur atomic.Pointer[material]

	mu       sync.Mutex // serializes reloads; guards lastSeen
	lastSeen stamps     // files as they were at the last load attempt
	done     chan struct{}
	stop     sync.Once

	liveMu sync.Mutex
	live   map[*wire.Comm]*slog.Logger // established comms (and whom to tell), closed when a reload revokes their peer
}

// NewSecurity loads the material of role from cfg: the role's certificate
// and key, the CA bundle and the optional CRL, and checks that they fit: the
// key matches, the certificate chains to the bundle now with the extended key
// usages the role needs and, under the strict role policy, carries a daskca
// identity of this role. Errors wrap ErrBadMaterial or daskconfig.ErrBadConfig.
//
// Nothing watches the files until Run is called.
func NewSecurity(cfg daskconfig.Config, role identity.Role, opts SecurityOptions) (*Security, error) {
	if _, err := identity.ParseRole(string(role)); err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	s := &Security{cfg: cfg, role: role, log: opts.Logger, now: opts.Now, hook: opts.OnReload,
		minV: tlsVersion(cfg.TLS.MinVersion, tls.VersionTLS12), maxV: tlsVersion(cfg.TLS.MaxVersion, 0),
		done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.suites = daskconfig.DefaultCipherSuites()
	if cfg.TLS.Ciphers != "" {
		ids, skipped, err := daskconfig.ParseCiphers(cfg.TLS.Ciphers)
		if err != nil {
			return nil, fmt.Errorf("security: %s: %w", daskconfig.KeyCiphers, err)
		}
		if len(skipped) > 0 {
			s.log.Info("cipher names Go does not implement select nothing", "ciphers", skipped)
		}
		s.suites = ids
	}
	m, st, err := s.load()
	s.lastSeen = st
	if err != nil {
		return nil, fmt.Errorf("security for %s: %w", role, err)
	}
	s.cur.Store(m)
	return s, nil
}

func tlsVersion(v float64, unset uint16) uint16 {
	switch v {
	case 1.2:
		return tls.VersionTLS12
	case 1.3:
		return tls.VersionTLS13
	}
	return unset
}

// Role returns the role whose material this Security serves.
func (s *Security) Role() identity.Role { return s.role }

// Config returns the configuration the Security was built from.
func (s *Security) Config() daskconfig.Config { return s.cfg }

// Certificate returns the leaf certificate currently presented. It must not
// be modified.
func (s *Security) Certificate() *x509.Certificate { return s.cur.Load().leaf() }

// RequireEncryption reports whether distributed.comm.require-encryption is
// true, in which case CheckScheme refuses tcp:// addresses.
func (s *Security) RequireEncryption() bool { return s.cfg.EncryptionRequired() }

// CheckScheme refuses a tcp:// address when encryption is required. Call it
// before listening on or dialing a.
func (s *Security) CheckScheme(a daskconfig.Addr) error { return s.cfg.CheckScheme(a) }

// ServerConfig returns the tls.Config of a listener that accepts peers of
// the allow roles (Peers(role, OpAccept) when none are given). Every
// handshake takes the current material through GetConfigForClient: our
// certificate, the CA bundle for client certificates (always required and
// verified), TLS versions and suites, then the peer's role, trust domain and
// revocation are checked in VerifyConnection. Sessions resume only within
// one material (see security_resume.go): a reload ends them, and a resumed
// client's chain is verified again against the current CA bundle.
//
// A client never listens: its ServerConfig fails every handshake with
// ErrNotListener.
func (s *Security) ServerConfig(allow ...identity.Role) *tls.Config {
	if len(allow) == 0 {
		allow = Peers(s.role, OpAccept)
	}
	allow = slices.Clone(allow)
	return &tls.Config{
		MinVersion: s.minV,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !s.role.Listens() {
				return nil, fmt.Errorf("%w: a %s has no server certificate", ErrNotListener, s.role)
			}
			m := s.cur.Load()
			cfg := &tls.Config{
				Certificates: []tls.Certificate{*m.cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    m.roots,
				MinVersion:   s.minV,
				MaxVersion:   s.maxV,
				CipherSuites: s.suites,
				Time:         s.now,
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 {
						return fmt.Errorf("%w: no client certificate", ErrPeerRefused)
					}
					chains := cs.VerifiedChains
					if cs.DidResume {
						var err error
						if chains, err = s.verifyResumedClient(m, cs.PeerCertificates); err != nil {
							return err
						}
					}
					return s.authorize(m, cs.PeerCertificates[0], chains, allow, "listener")
				},
			}
			// TLS 1.2 resumption has no fresh key exchange: only TLS 1.3
			// sessions are resumed.
			if s.maxV == tls.VersionTLS12 || !slices.Contains(hello.SupportedVersions, tls.VersionTLS13) {
				cfg.SessionTicketsDisabled = true
			} else {
				cfg.SetSessionTicketKeys(m.cache.ticketKeys(s.now()))
			}
			return cfg, nil
		},
	}
}

// ClientConfig returns the tls.Config of a dialer that accepts listeners of
// the expect roles (Peers(role, OpDial) when none are given). It
// presents our current certificate and verifies the server's chain against
// the current CA bundle itself (the bundle can change between handshakes,
// and tls.Config.RootCAs cannot), then role, trust domain and revocation.
//
// With daskca.verify-hostname, the server certificate must also name the
// host dialed; ClientConfig knows that host only from ServerName, which is
// empty when dialing an IP address, so use ClientConfigFor.
func (s *Security) ClientConfig(expect ...identity.Role) *tls.Config {
	return s.clientConfig("", expect)
}

// ClientConfigFor is ClientConfig for dialing a: it sets ServerName to a's
// host and, with daskca.verify-hostname, checks the server certificate
// against that host (a DNS name or an IP address).
func (s *Security) ClientConfigFor(a daskconfig.Addr, expect ...identity.Role) *tls.Config {
	c := s.clientConfig(a.Host, expect)
	c.ServerName = a.Host
	return c
}

func (s *Security) clientConfig(host string, expect []identity.Role) *tls.Config {
	if len(expect) == 0 {
		expect = Peers(s.role, OpDial)
	}
	expect = slices.Clone(expect)
	return &tls.Config{
		MinVersion:   s.minV,
		MaxVersion:   s.maxV,
		CipherSuites: s.suites,
		Time:         s.now,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		// The chain is verified in VerifyConnection against the CA bundle
		// current at handshake time; Go's own check would use a fixed
		// RootCAs pool. VerifyConnection runs whatever InsecureSkipVerify says,
		// on resumed sessions too.
		InsecureSkipVerify: true,
		ClientSessionCache: materialSessions{s},
		VerifyConnection: func(cs tls.ConnectionState) error {
			name := host
			if name == "" {
				name = cs.ServerName
			}
			return s.verifyServer(s.cur.Load(), cs, name, expect)
		},
	}
}
