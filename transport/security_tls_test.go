package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestSecurityVersions checks the negotiated version and suite against
// min-version, max-version and ciphers on both ends.
func TestSecurityVersions(t *testing.T) {
	tests := []struct {
		name              string
		serverMin, srvMax float64
		clientMin, cliMax float64
		ciphers           string
		wantVersion       uint16
		wantSuite         uint16 // 0: any
		wantFail          bool
	}{
		{name: "defaults", wantVersion: tls.VersionTLS13},
		{name: "client max 1.2", cliMax: 1.2, wantVersion: tls.VersionTLS12},
		{name: "server max 1.2", srvMax: 1.2, wantVersion: tls.VersionTLS12},
		{name: "min 1.3 both", serverMin: 1.3, clientMin: 1.3, wantVersion: tls.VersionTLS13},
		{name: "server min 1.3, client max 1.2", serverMin: 1.3, cliMax: 1.2, wantFail: true},
		{name: "one suite at 1.2", srvMax: 1.2, ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305",
			wantVersion: tls.VersionTLS12, wantSuite: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305},
		{name: "ciphers do not restrict 1.3", ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305", wantVersion: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSecSetup(t, "td.example")
			srv, cli := s.cfg, s.cfg
			srv.TLS.MinVersion, srv.TLS.MaxVersion, srv.TLS.Ciphers = tt.serverMin, tt.srvMax, tt.ciphers
			cli.TLS.MinVersion, cli.TLS.MaxVersion = tt.clientMin, tt.cliMax
			res := mustTLSPair(t, "tcp", "127.0.0.1:0",
				mustSecurity(t, srv, identity.Worker).ServerConfig(), mustSecurity(t, cli, identity.Client).ClientConfig())
			if tt.wantFail {
				if res.ok() {
					t.Fatalf("connected with version %x, want a failure", res.state.Version)
				}
				return
			}
			if !res.ok() {
				t.Fatalf("server %v, client %v, state %+v", res.server, res.client, res.state)
			}
			if res.state.Version != tt.wantVersion {
				t.Errorf("version = %x, want %x", res.state.Version, tt.wantVersion)
			}
			if tt.wantSuite != 0 && res.state.CipherSuite != tt.wantSuite {
				t.Errorf("suite = %s, want %s", tls.CipherSuiteName(res.state.CipherSuite), tls.CipherSuiteName(tt.wantSuite))
			}
			if tt.wantVersion == tls.VersionTLS12 && !contains16(daskconfig.DefaultCipherSuites(), res.state.CipherSuite) {
				t.Errorf("TLS 1.2 suite %s is not one of the defaults", tls.CipherSuiteName(res.state.CipherSuite))
			}
		})
	}
}

func contains16(list []uint16, v uint16) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestSecurityCheckScheme(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	yes, no := true, false
	tcp, tlsA := daskconfig.Addr{Scheme: daskconfig.SchemeTCP, Host: "127.0.0.1", Port: 8786}, daskconfig.Addr{Scheme: daskconfig.SchemeTLS, Host: "127.0.0.1", Port: 8786}
	tests := []struct {
		name    string
		require *bool
		addr    daskconfig.Addr
		wantErr bool
	}{
		{"required, tcp", &yes, tcp, true},
		{"required, tls", &yes, tlsA, false},
		{"not required, tcp", &no, tcp, false},
		{"unset (Dask: not required), tcp", nil, tcp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.cfg
			cfg.RequireEncryption = tt.require
			sec := mustSecurity(t, cfg, identity.Worker)
			if sec.RequireEncryption() != (tt.require != nil && *tt.require) {
				t.Errorf("RequireEncryption() = %v", sec.RequireEncryption())
			}
			err := sec.CheckScheme(tt.addr)
			if got := errors.Is(err, daskconfig.ErrEncryptionRequired); got != tt.wantErr {
				t.Fatalf("CheckScheme(%s) = %v, want refusal %v", tt.addr, err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "tcp://127.0.0.1:8786") {
				t.Errorf("error %q does not name the address", err)
			}
		})
	}
}

// TestSecurityCRL: a revoked client is refused by the listener, a revoked
// server by the dialer, and a CRL from a foreign CA is refused at load.
func TestSecurityCRL(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	crl := s.ca.crl(t, s.leaves[identity.Client].cert.SerialNumber, s.leaves[identity.Scheduler].cert.SerialNumber)
	withCRL := s.cfg
	withCRL.Daskca.CRLFile = mustWrite(t, s.dir, "ca.crl", crl)

	res := mustTLSPair(t, "tcp", "127.0.0.1:0",
		mustSecurity(t, withCRL, identity.Worker).ServerConfig(), mustSecurity(t, s.cfg, identity.Client).ClientConfig())
	if !errors.Is(res.server, ErrRevoked) {
		t.Errorf("revoked client: server error = %v, want ErrRevoked", res.server)
	}
	res = mustTLSPair(t, "tcp", "127.0.0.1:0",
		mustSecurity(t, s.cfg, identity.Scheduler).ServerConfig(), mustSecurity(t, withCRL, identity.Worker).ClientConfig())
	if !errors.Is(res.client, ErrRevoked) {
		t.Errorf("revoked scheduler: client error = %v, want ErrRevoked", res.client)
	}
	res = mustTLSPair(t, "tcp", "127.0.0.1:0",
		mustSecurity(t, withCRL, identity.Worker).ServerConfig(), mustSecurity(t, withCRL, identity.Worker).ClientConfig())
	if !res.ok() {
		t.Errorf("unrevoked worker refused: server %v, client %v", res.server, res.client)
	}

	foreign := s.cfg
	foreign.Daskca.CRLFile = mustWrite(t, s.dir, "foreign.crl", mustSecCA(t, "x").crl(t))
	if _, err := NewSecurity(foreign, identity.Worker, secOpts()); !errors.Is(err, ErrBadMaterial) {
		t.Errorf("CRL of another CA: err = %v, want ErrBadMaterial", err)
	}
}

// TestSecurityHostname: with verify-hostname the dialed host must be named
// in the server certificate; without it, it need not be.
func TestSecurityHostname(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	s.put(t, identity.Scheduler, s.ca.issue(t, leafSpec{role: identity.Scheduler, dns: []string{"sched.example"}}))
	server := mustSecurity(t, s.cfg, identity.Scheduler).ServerConfig()
	on := s.cfg
	on.Daskca.VerifyHostname = true
	tests := []struct {
		name   string
		cfg    daskconfig.Config
		host   string
		useFor bool
		ok     bool
	}{
		{"IP in SAN", on, "127.0.0.1", true, true},
		{"DNS in SAN", on, "sched.example", true, true},
		{"name not in SAN", on, "other.example", true, false},
		{"IP unknown without ClientConfigFor", on, "", false, false},
		{"off: any name", s.cfg, "other.example", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := mustSecurity(t, tt.cfg, identity.Client)
			client := sec.ClientConfig()
			if tt.useFor {
				client = sec.ClientConfigFor(daskconfig.Addr{Scheme: daskconfig.SchemeTLS, Host: tt.host, Port: 8786})
			}
			res := mustTLSPair(t, "tcp", "127.0.0.1:0", server, client)
			if res.ok() != tt.ok {
				t.Fatalf("connected = %v, want %v (client %v)", res.ok(), tt.ok, res.client)
			}
			if !tt.ok && !errors.Is(res.client, ErrPeerRefused) {
				t.Errorf("client error = %v, want ErrPeerRefused", res.client)
			}
		})
	}
}

// TestSecurityIPv6 connects over [::1] with hostname verification of the
// IPv6 address.
func TestSecurityIPv6(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	s.cfg.Daskca.VerifyHostname = true
	a, err := daskconfig.ParseAddr("tls://[::1]:0", "")
	if err != nil {
		t.Fatal(err)
	}
	res := mustTLSPair(t, "tcp6", a.HostPort(),
		mustSecurity(t, s.cfg, identity.Scheduler).ServerConfig(), mustSecurity(t, s.cfg, identity.Worker).ClientConfigFor(a))
	if !res.ok() {
		t.Fatalf("server %v, client %v", res.server, res.client)
	}
}

// TestNewSecurityRefuses lists material NewSecurity must not accept.
func TestNewSecurityRefuses(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	other := mustSecCA(t, "td.example")
	tests := []struct {
		name string
		role identity.Role
		edit func(c *daskconfig.Config)
		want string
	}{
		{"no certificate", identity.Worker, func(c *daskconfig.Config) { c.TLS.Worker = daskconfig.RoleFiles{} }, "distributed.comm.tls.worker.cert"},
		{"no CA", identity.Worker, func(c *daskconfig.Config) { c.TLS.CAFile = "" }, "distributed.comm.tls.ca-file"},
		{"missing file", identity.Worker, func(c *daskconfig.Config) { c.TLS.Worker.Cert = s.dir + "/nope.pem" }, "no such file"},
		{"client certificate for a worker", identity.Worker, func(c *daskconfig.Config) { c.TLS.Worker = c.TLS.Client }, "not valid for a worker"},
		{"wrong role identity", identity.Client, func(c *daskconfig.Config) { c.TLS.Client = c.TLS.Worker }, "not a client certificate"},
		{"key of another certificate", identity.Worker, func(c *daskconfig.Config) { c.TLS.Worker.Key = c.TLS.Client.Key }, "private key does not match"},
		{"other CA", identity.Worker, func(c *daskconfig.Config) {
			l := other.issue(t, leafSpec{role: identity.Worker})
			c.TLS.Worker = daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, "o.pem", append(l.certPEM, l.keyPEM...))}
		}, "unknown authority"},
		{"serverAuth only worker", identity.Worker, func(c *daskconfig.Config) {
			l := s.ca.issue(t, leafSpec{role: identity.Worker, ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			c.TLS.Worker = daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, "sa.pem", append(l.certPEM, l.keyPEM...))}
		}, "incompatible key usage"},
		{"expired", identity.Worker, func(c *daskconfig.Config) {
			l := s.ca.issue(t, leafSpec{role: identity.Worker, notBefore: secNow.Add(-48 * time.Hour), notAfter: secNow.Add(-time.Hour)})
			c.TLS.Worker = daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, "old.pem", append(l.certPEM, l.keyPEM...))}
		}, "expired"},
		{"encrypted key", identity.Worker, func(c *daskconfig.Config) {
			c.TLS.Worker.Key = mustWrite(t, s.dir, "enc.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
		}, "encrypted"},
		{"empty CA bundle", identity.Worker, func(c *daskconfig.Config) { c.TLS.CAFile = mustWrite(t, s.dir, "empty.pem", nil) }, "no PEM certificate"},
		{"bad ciphers", identity.Worker, func(c *daskconfig.Config) { c.TLS.Ciphers = "RC4-SHA" }, "RC4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.cfg
			tt.edit(&cfg)
			_, err := NewSecurity(cfg, tt.role, secOpts())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestSecurityCombinedAndInline accepts a certificate file that holds the
// key, and PEM text in place of paths, as Dask does.
func TestSecurityCombinedAndInline(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	l := s.leaves[identity.Worker]
	combined := s.cfg
	combined.TLS.Worker = daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, "both.pem", append(append([]byte{}, l.keyPEM...), l.certPEM...))}
	inline := s.cfg
	inline.TLS.CAFile = string(s.ca.pem)
	inline.TLS.Worker = daskconfig.RoleFiles{Cert: string(l.certPEM), Key: string(l.keyPEM)}
	for name, cfg := range map[string]daskconfig.Config{"combined": combined, "inline": inline} {
		t.Run(name, func(t *testing.T) {
			sec := mustSecurity(t, cfg, identity.Worker)
			if sec.Certificate().SerialNumber.Cmp(l.cert.SerialNumber) != 0 {
				t.Fatal("wrong certificate loaded")
			}
		})
	}
}

func TestSecurityClientDoesNotListen(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	res := mustTLSPair(t, "tcp", "127.0.0.1:0",
		mustSecurity(t, s.cfg, identity.Client).ServerConfig(), mustSecurity(t, s.cfg, identity.Worker).ClientConfig())
	if !errors.Is(res.server, ErrNotListener) {
		t.Fatalf("server error = %v, want ErrNotListener", res.server)
	}
}

// TestSessionResumption: a dialer resumes its TLS 1.3 session with a
// listener of the same material; the listener still applies its role
// policy to a resumed session; a reload on either side, or TLS 1.2, means
// a full handshake.
func TestSessionResumption(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	sched := mustSecurity(t, s.cfg, identity.Scheduler)
	worker := mustSecurity(t, s.cfg, identity.Worker)
	dial := func(w *Security) *tls.Config {
		c := w.ClientConfig()
		c.ServerName = "sched.test" // the session cache's key; no hostname check
		return c
	}
	cli := dial(worker)
	connect := func(step string, srv, cli *tls.Config, wantResumed bool) {
		t.Helper()
		res := mustTLSPair(t, "tcp", "127.0.0.1:0", srv, cli)
		if !res.ok() {
			t.Fatalf("%s: server %v, client %v", step, res.server, res.client)
		}
		if res.state.DidResume != wantResumed {
			t.Errorf("%s: resumed = %v, want %v", step, res.state.DidResume, wantResumed)
		}
	}
	connect("first connection", sched.ServerConfig(), cli, false)
	connect("second connection", sched.ServerConfig(), cli, true)

	// Same material, so the ticket decrypts, but this listener takes
	// clients only: the resumed worker must be refused.
	if res := mustTLSPair(t, "tcp", "127.0.0.1:0", sched.ServerConfig(identity.Client), cli); !res.refusedBy("server") {
		t.Errorf("clients-only listener, resumed worker session: server %v, client %v; want ErrPeerRefused", res.server, res.client)
	}

	if err := sched.Reload(); err != nil {
		t.Fatal(err)
	}
	connect("after the listener reloaded", sched.ServerConfig(), cli, false)
	connect("then", sched.ServerConfig(), cli, true)
	if err := worker.Reload(); err != nil {
		t.Fatal(err)
	}
	connect("after the dialer reloaded", sched.ServerConfig(), cli, false)

	cfg12 := s.cfg
	cfg12.TLS.MaxVersion = 1.2
	cli12 := dial(mustSecurity(t, cfg12, identity.Worker))
	connect("TLS 1.2", sched.ServerConfig(), cli12, false)
	connect("TLS 1.2 again", sched.ServerConfig(), cli12, false)
}

// TestResumedClientChainRechecked: a listener whose CA bundle no longer
// holds the CA of a client's resumed session refuses it. The bundle
// changes only through a reload, which also changes the ticket keys, so
// this drives verifyResumedClient directly.
func TestResumedClientChainRechecked(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	other := mustSecSetup(t, "td.example")
	sched := mustSecurity(t, s.cfg, identity.Scheduler)
	foreign := other.leaves[identity.Worker].cert
	if _, err := sched.verifyResumedClient(sched.cur.Load(), []*x509.Certificate{foreign}); !errors.Is(err, ErrPeerRefused) {
		t.Errorf("foreign client chain: %v, want ErrPeerRefused", err)
	}
	own := s.leaves[identity.Worker].cert
	if _, err := sched.verifyResumedClient(sched.cur.Load(), []*x509.Certificate{own}); err != nil {
		t.Errorf("own client chain: %v", err)
	}
}

// TestChainCache: a remembered chain answers only while all its
// certificates are valid at the new verification's time, only for the same
// key usage, and a chain that failed is never remembered.
func TestChainCache(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	worker := s.leaves[identity.Worker].cert
	foreign := mustSecSetup(t, "td.example").leaves[identity.Worker].cert
	roots := x509.NewCertPool()
	roots.AddCert(s.ca.cert)
	var c chainCache
	client := x509.ExtKeyUsageClientAuth
	for i, tt := range []struct {
		cert   *x509.Certificate
		at     time.Time
		usage  x509.ExtKeyUsage
		wantOK bool
		cached int // entries after the call
	}{
		{worker, secNow, client, true, 1},
		{worker, secNow, client, true, 1},                            // answered from the cache
		{worker, worker.NotAfter.Add(time.Second), client, false, 1}, // expired since: verified again, refused
		{worker, secNow, x509.ExtKeyUsageCodeSigning, false, 1},      // another usage is another key
		{foreign, secNow, client, false, 1},                          // refused, not remembered
		{foreign, secNow, client, false, 1},
	} {
		_, err := c.verify([]*x509.Certificate{tt.cert}, roots, tt.at, tt.usage)
		if (err == nil) != tt.wantOK {
			t.Errorf("call %d: err = %v, want ok %v", i, err, tt.wantOK)
		}
		if len(c.m) != tt.cached {
			t.Errorf("call %d: %d chains cached, want %d", i, len(c.m), tt.cached)
		}
	}
}
