package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

func others(r identity.Role) []identity.Role {
	var out []identity.Role
	for _, x := range identity.Roles {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// TestSecurityRoleMatrix connects every listening role to every dialing
// role, with the dialer allowed or not by the listener and the listener
// expected or not by the dialer: only when both agree does it connect, and
// otherwise the side that disagreed is the one that refused.
func TestSecurityRoleMatrix(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	secs := map[identity.Role]*Security{}
	for _, r := range identity.Roles {
		secs[r] = mustSecurity(t, s.cfg, r)
	}
	for _, listener := range []identity.Role{identity.Scheduler, identity.Worker} {
		for _, dialer := range identity.Roles {
			for _, allowed := range []bool{true, false} {
				for _, expected := range []bool{true, false} {
					name := fmt.Sprintf("%s<-%s/allowed=%v/expected=%v", listener, dialer, allowed, expected)
					t.Run(name, func(t *testing.T) {
						allow, expect := others(dialer), others(listener)
						if allowed {
							allow = []identity.Role{dialer}
						}
						if expected {
							expect = []identity.Role{listener}
						}
						res := mustTLSPair(t, "tcp", "127.0.0.1:0", secs[listener].ServerConfig(allow...), secs[dialer].ClientConfig(expect...))
						switch {
						case allowed && expected:
							if !res.ok() {
								t.Fatalf("refused: server %v, client %v", res.server, res.client)
							}
						case !expected:
							if !res.refusedBy("client") {
								t.Fatalf("client error = %v, want ErrPeerRefused", res.client)
							}
						default:
							if !res.refusedBy("server") {
								t.Fatalf("server error = %v, want ErrPeerRefused", res.server)
							}
						}
					})
				}
			}
		}
	}
}

// TestSecurityDefaultMatrix checks the documented default roles.
func TestSecurityDefaultMatrix(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	want := map[[2]identity.Role]bool{
		{identity.Scheduler, identity.Scheduler}: false,
		{identity.Scheduler, identity.Worker}:    true,
		{identity.Scheduler, identity.Client}:    true,
		{identity.Worker, identity.Scheduler}:    true,
		{identity.Worker, identity.Worker}:       true,
		{identity.Worker, identity.Client}:       true,
	}
	for pair, ok := range want {
		t.Run(fmt.Sprintf("%s<-%s", pair[0], pair[1]), func(t *testing.T) {
			res := mustTLSPair(t, "tcp", "127.0.0.1:0",
				mustSecurity(t, s.cfg, pair[0]).ServerConfig(), mustSecurity(t, s.cfg, pair[1]).ClientConfig())
			if res.ok() != ok {
				t.Fatalf("connected = %v, want %v (server %v, client %v)", res.ok(), ok, res.server, res.client)
			}
		})
	}
	if got := Peers(identity.Client, OpAccept); len(got) != 0 {
		t.Errorf("Peers(client, OpAccept) = %v, want none", got)
	}
	if got := Peers(identity.Client, OpDial); !slices.Equal(got, []identity.Role{identity.Scheduler, identity.Worker}) {
		t.Errorf("Peers(client, OpDial) = %v", got)
	}
}

func TestSecurityPeerIdentity(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	res := mustTLSPair(t, "tcp", "127.0.0.1:0",
		mustSecurity(t, s.cfg, identity.Scheduler).ServerConfig(), mustSecurity(t, s.cfg, identity.Worker).ClientConfig())
	if !res.ok() {
		t.Fatalf("server %v, client %v", res.server, res.client)
	}
	id, cert, err := peerIdentity(res.state)
	want := identity.ID{TrustDomain: "td.example", Role: identity.Scheduler, Name: "scheduler-1"}
	if err != nil || id != want || cert.SerialNumber.Cmp(s.leaves[identity.Scheduler].cert.SerialNumber) != 0 {
		t.Fatalf("peerIdentity = %v, %v, %v; want %v", id, cert.SerialNumber, err, want)
	}
	if _, _, err := peerIdentity(tls.ConnectionState{}); err == nil {
		t.Error("peerIdentity of no certificate: want an error")
	}
}

// TestSecurityWrongCA: a peer whose certificate comes from another CA is
// refused both ways, even with a matching identity.
func TestSecurityWrongCA(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	rogue := mustSecCA(t, "td.example")
	rogueWorker := rogue.issue(t, leafSpec{role: identity.Worker})
	pair, err := tls.X509KeyPair(rogueWorker.certPEM, rogueWorker.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("wrong-CA server refused by dialer", func(t *testing.T) {
		server := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAnyClientCert}
		res := mustTLSPair(t, "tcp", "127.0.0.1:0", server, mustSecurity(t, s.cfg, identity.Client).ClientConfig())
		var unknown x509.UnknownAuthorityError
		if !errors.As(res.client, &unknown) {
			t.Fatalf("client error = %v, want x509.UnknownAuthorityError", res.client)
		}
	})
	t.Run("wrong-CA client refused by listener", func(t *testing.T) {
		client := &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}
		res := mustTLSPair(t, "tcp", "127.0.0.1:0", mustSecurity(t, s.cfg, identity.Worker).ServerConfig(), client)
		if res.server == nil {
			t.Fatal("listener accepted a certificate from another CA")
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		client := &tls.Config{InsecureSkipVerify: true}
		res := mustTLSPair(t, "tcp", "127.0.0.1:0", mustSecurity(t, s.cfg, identity.Worker).ServerConfig(), client)
		if res.server == nil {
			t.Fatal("listener accepted a client without a certificate")
		}
	})
}

// TestSecurityPolicy covers the strict checks (identity present, same trust
// domain) and the "dask" policy that accepts any certificate from the CA.
func TestSecurityPolicy(t *testing.T) {
	tests := []struct {
		name    string
		spec    leafSpec
		policy  string
		wantErr error
	}{
		{"no identity, strict", leafSpec{role: identity.Worker, noID: true}, "", identity.ErrNoIdentity},
		{"other trust domain, strict", leafSpec{role: identity.Worker, td: "other.example"}, daskconfig.PolicyStrict, ErrPeerRefused},
		{"no identity, dask", leafSpec{role: identity.Worker, noID: true}, daskconfig.PolicyDask, nil},
		{"client cert on listener, dask", leafSpec{role: identity.Client}, daskconfig.PolicyDask, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSecSetup(t, "td.example")
			s.cfg.Daskca.RolePolicy = tt.policy
			dialerCfg := s.cfg
			peer := s.ca.issue(t, tt.spec)
			dialerCfg.TLS.SetFiles(tt.spec.role, daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, "peer.pem", append(peer.certPEM, peer.keyPEM...))})
			var client *tls.Config
			if tt.policy == daskconfig.PolicyDask {
				client = mustSecurity(t, dialerCfg, tt.spec.role).ClientConfig()
			} else {
				// Our own Security refuses to load such a certificate, so the
				// peer dials with a plain tls.Config.
				_, err := NewSecurity(dialerCfg, tt.spec.role, secOpts())
				if tt.spec.noID && !errors.Is(err, ErrBadMaterial) {
					t.Fatalf("NewSecurity with the peer's certificate: err = %v, want ErrBadMaterial", err)
				}
				pair, err := tls.X509KeyPair(peer.certPEM, peer.keyPEM)
				if err != nil {
					t.Fatal(err)
				}
				client = &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}
			}
			res := mustTLSPair(t, "tcp", "127.0.0.1:0", mustSecurity(t, s.cfg, identity.Scheduler).ServerConfig(identity.Worker), client)
			if tt.wantErr == nil {
				if !res.ok() {
					t.Fatalf("refused: server %v, client %v", res.server, res.client)
				}
				return
			}
			if !errors.Is(res.server, ErrPeerRefused) || !errors.Is(res.server, tt.wantErr) {
				t.Fatalf("server error = %v, want %v", res.server, tt.wantErr)
			}
		})
	}
}
