package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/daskca/daskca/transport/wire"
)

// Errors a probe (or a worker dialing its scheduler) reports when a
// connection fails, naming what really happened rather than where the
// failure happened to surface.
var (
	// ErrRejected means the peer refused our certificate. Under TLS 1.3 a
	// server checks the client certificate after the client has finished
	// its handshake, so the refusal (an alert, or just a closed
	// connection) arrives on the first read; Dask itself then reports
	// "Timed out during handshake".
	ErrRejected = errors.New("the peer rejected our certificate")
	// ErrNotTLS means the peer answered a TLS handshake with something that
	// is not TLS: a tcp:// endpoint. A tls:// listener reports it too, for a
	// dialer whose first bytes are not a TLS handshake record (plaintext,
	// another protocol), and closes that connection at once.
	ErrNotTLS = errors.New("the peer does not speak TLS")
	// ErrUnreachable means nothing accepted the TCP connection.
	ErrUnreachable = errors.New("nothing listens there")
	// ErrNotDask means the peer completed the handshakes but answered
	// something no Dask endpoint sends: a reply that is not an identity,
	// or one over the limits on what a probe reads (a message built to
	// exhaust memory).
	ErrNotDask = errors.New("the peer does not answer as a Dask endpoint")
)

// certAlerts are the TLS alerts a server sends when it refuses a client
// certificate, as Go spells them.
var certAlerts = []string{"certificate", "access denied", "unknown ca"}

// remoteAlert returns the text of a TLS alert the peer sent, if err is one.
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return strings.TrimPrefix(op.Err.Error(), "tls: "), true
	}
	return "", false
}

// explain turns a dial, handshake or first-read error into one that says
// what happened. afterTLS means the TLS handshake had completed (on our
// side) with the given version.
func explain(err error, afterTLS bool, version uint16) error {
	if err == nil {
		return nil
	}
	if alert, ok := remoteAlert(err); ok {
		for _, a := range certAlerts {
			if strings.Contains(alert, a) {
				return fmt.Errorf("%w (TLS alert %q): check that the peer trusts our CA, "+
					"that our certificate is valid now and has a role it accepts: %w", ErrRejected, alert, err)
			}
		}
		return fmt.Errorf("the peer ended the TLS connection with alert %q: %w", alert, err)
	}
	if afterTLS && version == tls.VersionTLS13 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("%w: it closed the connection right after the TLS 1.3 handshake, before the Dask handshake, "+
			"which is how a TLS 1.3 server refuses a client certificate: check that it trusts our CA: %w", ErrRejected, err)
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return fmt.Errorf("%w (a tcp:// endpoint? its first bytes were %q): %w", ErrNotTLS, rh.RecordHeader[:], err)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w (connection refused): %w", ErrUnreachable, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no answer in time (a TLS client on a tcp:// port, or a plaintext client on a tls:// port, waits like this): %w", err)
	}
	return err
}

// explainVerify says that it was our side that refused the peer.
func explainVerify(err error) error {
	var (
		ua x509.UnknownAuthorityError
		ci x509.CertificateInvalidError
		he x509.HostnameError
	)
	if errors.Is(err, ErrPeerRefused) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) {
		return fmt.Errorf("we refused the peer's certificate: %w", err)
	}
	return err
}

// connectExplained is Connect with its errors explained (see explain). It
// notes the TLS version negotiated through VerifyConnection, so that a
// connection closed right after a TLS 1.3 handshake is read correctly.
func connectExplained(ctx context.Context, addr string, tlsCfg *tls.Config, opts wire.CommOptions) (*wire.Comm, error) {
	var version atomic.Uint32
	verified := atomic.Bool{}
	if tlsCfg != nil {
		tlsCfg = tlsCfg.Clone()
		inner := tlsCfg.VerifyConnection
		tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error {
			version.Store(uint32(cs.Version))
			if inner != nil {
				if err := inner(cs); err != nil {
					return explainVerify(err)
				}
			}
			verified.Store(true)
			return nil
		}
	}
	c, err := Connect(ctx, addr, tlsCfg, opts)
	if err != nil {
		return nil, explain(err, verified.Load(), uint16(version.Load()))
	}
	return c, nil
}
