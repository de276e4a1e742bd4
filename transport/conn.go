package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// Connect dials a Dask endpoint and performs the TLS handshake (for tls://)
// and the Dask handshake, all within opts.HandshakeTimeout and ctx.
//
// addr is a Dask address such as tls://10.0.0.5:8786; a bare host:port means
// tls:// when tlsCfg is set and tcp:// otherwise. A tls:// address needs a
// tlsCfg (ErrTLSRequired). If tlsCfg names no ServerName and verifies the
// server's name, the address's host is used, as crypto/tls.Dial does;
// configurations that check the peer another way (VerifyConnection with
// InsecureSkipVerify) are used unchanged.
//
// Like Dask 2023.8 and later, Connect writes its handshake at once and then
// reads the server's; that is deadlock-free against every Dask server
// generation, all of which also write theirs at once.
func Connect(ctx context.Context, addr string, tlsCfg *tls.Config, opts wire.CommOptions) (*wire.Comm, error) {
	a, err := commAddr(addr, tlsCfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout(opts))
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", a.HostPort())
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to %s: %w: %w", a, err, context.Cause(ctx))
		}
		return nil, fmt.Errorf("connecting to %s: %w", a, err)
	}
	conn := raw
	if a.Scheme == daskconfig.SchemeTLS {
		cfg := tlsCfg.Clone()
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg.ServerName = a.Host
		}
		tc := tls.Client(wire.BatchWrites(raw), cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("connecting to %s: tls handshake: %w", a, err)
		}
		conn = tc
	}
	c := wire.NewComm(conn, opts)
	if err := c.Handshake(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connecting to %s: %w", a, err)
	}
	return c, nil
}

// commAddr parses addr for Connect and Listen: a bare host:port takes tls
// when a tls.Config is given, and tls always requires one.
func commAddr(addr string, tlsCfg *tls.Config) (daskconfig.Addr, error) {
	def := daskconfig.SchemeTCP
	if tlsCfg != nil {
		def = daskconfig.SchemeTLS
	}
	a, err := daskconfig.ParseAddr(addr, def)
	if err != nil {
		return daskconfig.Addr{}, err
	}
	if a.Scheme == daskconfig.SchemeTLS && tlsCfg == nil {
		return daskconfig.Addr{}, fmt.Errorf("address %q: %w", addr, ErrTLSRequired)
	}
	return a, nil
}

// handshakeTimeout is opts.HandshakeTimeout or wire.DefaultHandshakeTimeout.
func handshakeTimeout(opts wire.CommOptions) time.Duration {
	if opts.HandshakeTimeout > 0 {
		return opts.HandshakeTimeout
	}
	return wire.DefaultHandshakeTimeout
}
