package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// DefaultProbeTimeout bounds a whole probe when ProbeOptions.Timeout is
// zero: connecting, both handshakes and the identity call.
const DefaultProbeTimeout = 10 * time.Second

// probeLimits bound what a probe reads from the endpoint it checks, which
// it has no reason to trust: the identity reply of a scheduler with ten
// thousand workers is about 10 MiB.
var probeLimits = wire.Limits{MaxFrames: 1 << 10, MaxFrameSize: 64 << 20, MaxMessageSize: 64 << 20}

// ProbeOptions configures Probe. The zero value probes tcp:// only.
type ProbeOptions struct {
	// Security is the identity to dial with (any role); nil allows only
	// tcp:// addresses.
	Security *Security
	// Expect are the roles the peer may have; empty means scheduler or
	// worker.
	Expect []identity.Role
	// Timeout bounds the whole probe; zero means DefaultProbeTimeout.
	Timeout time.Duration
}

// Probe stages, in order; ProbeResult.Stage is the last one reached.
const (
	StageConnect   = "connect"
	StageTLS       = "tls"
	StageHandshake = "dask-handshake"
	StageIdentity  = "identity"
	StageDone      = "done"
)

// ProbeResult is what Probe found out, as far as it got. The JSON field
// names are stable.
type ProbeResult struct {
	Address   string         `json:"address"`
	OK        bool           `json:"ok"`
	Stage     string         `json:"stage"`
	Error     string         `json:"error,omitempty"`
	TLS       *TLSInfo       `json:"tls,omitempty"`
	PeerChain []CertInfo     `json:"peer_chain,omitempty"`
	Handshake *HandshakeInfo `json:"dask_handshake,omitempty"`
	Identity  *IdentityInfo  `json:"identity,omitempty"`
}

// TLSInfo is the negotiated TLS connection and our own certificate.
type TLSInfo struct {
	Version    string `json:"version"`
	Cipher     string `json:"cipher"`
	OurRole    string `json:"our_role"`
	OurSerial  string `json:"our_serial"`
	OurSubject string `json:"our_subject"`
}

// CertInfo describes one certificate of the peer's chain.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Identity  string    `json:"identity,omitempty"`
	Role      string    `json:"role,omitempty"`
	Name      string    `json:"name,omitempty"`
	DNS       []string  `json:"dns,omitempty"`
	IPs       []string  `json:"ips,omitempty"`
	URIs      []string  `json:"uris,omitempty"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	IsCA      bool      `json:"is_ca"`
}

// HandshakeInfo is what the peer announced in the Dask handshake.
type HandshakeInfo struct {
	Python         []int  `json:"python"`
	PickleProtocol int    `json:"pickle_protocol"`
	Compression    string `json:"compression,omitempty"`
}

// IdentityInfo is the peer's answer to "identity".
type IdentityInfo struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Address string `json:"address,omitempty"`
	Workers int    `json:"workers"`
}

// Probe connects to a Dask endpoint like a monitoring check: it runs the
// TLS handshake with opts.Security's certificate, notes the peer's chain,
// the TLS version and cipher, runs the Dask handshake, calls "identity"
// and closes politely. The result says how far it got even on failure (the
// peer chain is recorded before our own checks of it, so a refused peer is
// still described); the error says what went wrong, wrapping ErrRejected
// when the peer refused our certificate, ErrPeerRefused when we refused
// the peer's, ErrNotTLS and ErrUnreachable.
func Probe(ctx context.Context, addr string, opts ProbeOptions) (ProbeResult, error) {
	res := ProbeResult{Address: addr, Stage: StageConnect}
	err := probe(ctx, addr, opts, &res)
	if err != nil {
		res.Error = err.Error()
		return res, err
	}
	res.OK, res.Stage = true, StageDone
	return res, nil
}

func probe(ctx context.Context, addr string, opts ProbeOptions, res *ProbeResult) error {
	ep := newEndpointBase(opts.Security, nil, nil)
	a, err := daskconfig.ParseAddr(addr, ep.defaultScheme())
	if err != nil {
		return err
	}
	res.Address = a.String()
	expect := opts.Expect
	if len(expect) == 0 {
		expect = []identity.Role{identity.Scheduler, identity.Worker}
	}
	tlsCfg, err := ep.clientTLS(a, expect...)
	if err != nil {
		return err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", a.HostPort())
	if err != nil {
		return explain(err, false, 0)
	}
	conn := raw
	var version uint16
	if tlsCfg != nil {
		res.Stage = StageTLS
		tc, err := probeTLS(ctx, raw, tlsCfg, opts.Security, res)
		if err != nil {
			_ = raw.Close()
			return err
		}
		conn, version = tc, tc.ConnectionState().Version
	}
	res.Stage = StageHandshake
	c := wire.NewComm(conn, wire.CommOptions{Limits: probeLimits})
	defer c.Close()
	if err := c.Handshake(ctx); err != nil {
		return explain(err, tlsCfg != nil, version)
	}
	h := c.PeerHandshake()
	res.Handshake = &HandshakeInfo{Python: h.Python, PickleProtocol: h.PickleProtocol, Compression: h.Compression}
	res.Stage = StageIdentity
	v, err := wire.Call(ctx, c, "identity", nil)
	if errors.Is(err, wire.ErrFrameLimit) || errors.Is(err, wire.ErrMalformed) {
		return fmt.Errorf("%w: its answer to identity was refused: %w", ErrNotDask, err)
	}
	if err != nil {
		return err
	}
	if res.Identity, err = identityInfo(v); err != nil {
		return err
	}
	if err := checkIdentityRole(opts.Security, res.Identity.Type, c.TLSState()); err != nil {
		return err
	}
	_ = wire.CloseRPC(ctx, c)
	return nil
}

// identityRoles is the certificate role each Dask server type must hold.
var identityRoles = map[string]identity.Role{
	"Scheduler": identity.Scheduler,
	"Worker":    identity.Worker,
	"Nanny":     identity.Worker,
}

// checkIdentityRole refuses, under the strict role policy, a peer whose
// answer to identity claims a type its certificate's role cannot have: a
// worker key answering as a Scheduler would otherwise pass for one.
func checkIdentityRole(sec *Security, typ string, st *tls.ConnectionState) error {
	if sec == nil || st == nil || sec.Config().Daskca.Policy() == daskconfig.PolicyDask {
		return nil
	}
	want, ok := identityRoles[typ]
	if !ok {
		return fmt.Errorf("%w: it answers identity as a %q, not a Dask Scheduler, Worker or Nanny", ErrNotDask, typ)
	}
	id, leaf, err := peerIdentity(*st)
	if err != nil {
		return fmt.Errorf("we refused the peer: %w: %w", ErrPeerRefused, err)
	}
	if id.Role != want {
		return fmt.Errorf("we refused the peer: %w: it answers identity as a %s but presents %s, a %s certificate "+
			"(serial %s); only a %s certificate may answer as a %s, so a %s key is posing as one",
			ErrPeerRefused, typ, id, id.Role, leaf.SerialNumber.Text(16), want, typ, id.Role)
	}
	return nil
}

// probeTLS runs the TLS handshake, recording the peer's chain and the
// connection's parameters before our checks of the peer run.
func probeTLS(ctx context.Context, raw net.Conn, cfg *tls.Config, sec *Security, res *ProbeResult) (*tls.Conn, error) {
	cfg = cfg.Clone()
	inner := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		own := sec.Certificate()
		res.TLS = &TLSInfo{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite),
			OurRole: string(sec.Role()), OurSerial: own.SerialNumber.Text(16), OurSubject: own.Subject.String()}
		res.PeerChain = chainInfo(cs.PeerCertificates)
		if err := inner(cs); err != nil {
			return explainVerify(err)
		}
		return nil
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, explain(err, false, 0)
	}
	return tc, nil
}

func chainInfo(certs []*x509.Certificate) []CertInfo {
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		ci := CertInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), DNS: c.DNSNames,
			Serial: c.SerialNumber.Text(16), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), IsCA: c.IsCA}
		for _, ip := range c.IPAddresses {
			ci.IPs = append(ci.IPs, ip.String())
		}
		for _, u := range c.URIs {
			ci.URIs = append(ci.URIs, u.String())
		}
		if id, err := identity.FromCertificate(c); err == nil {
			ci.Identity, ci.Role, ci.Name = id.String(), string(id.Role), id.Name
		}
		out = append(out, ci)
	}
	return out
}

// identityInfo reads the answer to "identity", which must be a map whose
// "type" is a string, as every Dask server's is.
func identityInfo(v any) (*IdentityInfo, error) {
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: its answer to identity is a %T, not a map", ErrNotDask, v)
	}
	typ, ok := d["type"].(string)
	if !ok || typ == "" {
		return nil, fmt.Errorf("%w: its answer to identity has no type", ErrNotDask)
	}
	info := &IdentityInfo{Type: typ, ID: asString(d["id"]), Address: asString(d["address"])}
	switch w := d["workers"].(type) {
	case map[string]any:
		info.Workers = len(w)
	case wire.Map:
		info.Workers = len(w)
	}
	if n, ok := asInt(d["n_workers"]); ok && info.Workers == 0 {
		info.Workers = int(n)
	}
	return info, nil
}

// ExpiresFirst returns the earliest NotAfter of the peer's chain, the date a
// monitoring check warns about, and false when there is no chain.
func (r ProbeResult) ExpiresFirst() (time.Time, bool) {
	if len(r.PeerChain) == 0 {
		return time.Time{}, false
	}
	first := slices.MinFunc(r.PeerChain, func(a, b CertInfo) int { return a.NotAfter.Compare(b.NotAfter) })
	return first.NotAfter, true
}
