package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// Peer is who is at the other end of a comm, as its certificate says. On a
// tcp:// comm, or under the "dask" role policy with a certificate that
// carries no daskca identity, ID is the zero value.
type Peer struct {
	// ID is the peer's daskca identity, if its certificate has one.
	ID identity.ID
	// Serial is the certificate's serial number in lower-case hex, as
	// `daskca list` prints it; empty on tcp://.
	Serial string
	// Subject is the certificate's subject; empty on tcp://.
	Subject string
	// Addr is the peer's network address in Dask's form.
	Addr string
}

// Authenticated reports whether the peer presented a certificate.
func (p Peer) Authenticated() bool { return p.Serial != "" }

// LogAttrs returns the peer as slog attributes: addr, role, name, serial
// (role and name are "-" when the certificate names none).
func (p Peer) LogAttrs() []any {
	role, name := string(p.ID.Role), p.ID.Name
	if role == "" {
		role, name = "-", "-"
	}
	serial := p.Serial
	if serial == "" {
		serial = "- (tcp, no certificate)"
	}
	return []any{"peer", p.Addr, "role", role, "name", name, "serial", serial}
}

// PeerOf returns who is at the other end of c.
func PeerOf(c *wire.Comm) Peer {
	p := Peer{Addr: c.RemoteAddr()}
	st := c.TLSState()
	if st == nil {
		return p
	}
	id, leaf, _ := peerIdentity(*st)
	if leaf != nil {
		p.Serial, p.Subject = leaf.SerialNumber.Text(16), leaf.Subject.String()
	}
	p.ID = id
	return p
}

// authorizeOp applies the policy table to a peer asking an endpoint of
// role local for op: it refuses a peer whose certificate's role the table
// does not list, unless sec's role policy is "dask" (Dask lets any
// certificate from the CA play any part) or the comm is tcp:// without TLS
// at all, where require-encryption is the only control. Errors wrap
// ErrPeerRefused.
func authorizeOp(sec *Security, local identity.Role, op Operation, p Peer) error {
	if sec == nil || !p.Authenticated() {
		return nil
	}
	policy := sec.Config().Daskca.Policy()
	if policy == daskconfig.PolicyDask {
		return nil
	}
	if p.ID.Role == "" {
		return fmt.Errorf("%w: %s needs a certificate with a daskca identity; serial %s has none", ErrPeerRefused, op, p.Serial)
	}
	if !Allowed(policy, local, op, p.ID.Role) {
		return fmt.Errorf("%w: %s on a %s needs a %s certificate; %s (serial %s) is a %s certificate",
			ErrPeerRefused, op, local, joinRoles(Peers(local, op)), p.ID, p.Serial, p.ID.Role)
	}
	return nil
}

func joinRoles(roles []identity.Role) string {
	if len(roles) == 0 {
		return "no"
	}
	s := ""
	for i, r := range roles {
		if i > 0 {
			s += " or "
		}
		s += string(r)
	}
	return s
}

// newServerID returns an id in Dask's form, kind-<uuid4>, such as
// Scheduler-4f2a…; Dask's ids are random UUIDs too.
func newServerID(kind string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", kind, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// epoch returns t as Python's time.time() does: seconds as a float.
func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// endpointBase is what the scheduler and the worker share: their security,
// logger, clock and listener.
type endpointBase struct {
	sec *Security
	log *slog.Logger
	now func() time.Time
	ln  *Listener

	refusedConns *logLimiter // "connection refused": failed handshakes, scans
	refusedOps   *logLimiter // refused registrations
}

func newEndpointBase(sec *Security, log *slog.Logger, now func() time.Time) endpointBase {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return endpointBase{sec: sec, log: log, now: now,
		refusedConns: newLogLimiter(log, now, "refused connections"),
		refusedOps:   newLogLimiter(log, now, "refused registrations")}
}

// serverTLS returns the listener tls.Config for addr, or nil for tcp://,
// after checking require-encryption.
func (e *endpointBase) serverTLS(a daskconfig.Addr) (*tls.Config, error) {
	if e.sec == nil {
		if a.Encrypted() {
			return nil, fmt.Errorf("listening on %s: %w", a, ErrTLSRequired)
		}
		return nil, nil
	}
	if err := e.sec.CheckScheme(a); err != nil {
		return nil, err
	}
	if !a.Encrypted() {
		return nil, nil
	}
	return e.sec.ServerConfig(), nil
}

// connect dials a, accepting the peers the policy table allows for op,
// with its errors explained, and tracks the comm for live revocation.
func (e *endpointBase) connect(ctx context.Context, a daskconfig.Addr, op Operation, opts wire.CommOptions) (*wire.Comm, error) {
	tlsCfg, err := e.dialTLS(a, op)
	if err != nil {
		return nil, err
	}
	c, err := connectExplained(ctx, a.String(), tlsCfg, opts)
	if err != nil {
		return nil, err
	}
	e.sec.track(c, e.log)
	return c, nil
}

// dialTLS returns the dialer tls.Config for a that accepts the peers the
// policy table lets an endpoint of our role accept for op.
func (e *endpointBase) dialTLS(a daskconfig.Addr, op Operation) (*tls.Config, error) {
	if e.sec == nil {
		return e.clientTLS(a)
	}
	return e.clientTLS(a, Peers(e.sec.Role(), op)...)
}

// clientTLS returns the dialer tls.Config for a, accepting peers of the
// expect roles, or nil for tcp://, after checking require-encryption.
func (e *endpointBase) clientTLS(a daskconfig.Addr, expect ...identity.Role) (*tls.Config, error) {
	if e.sec == nil {
		if a.Encrypted() {
			return nil, fmt.Errorf("connecting to %s: %w", a, ErrTLSRequired)
		}
		return nil, nil
	}
	if err := e.sec.CheckScheme(a); err != nil {
		return nil, err
	}
	if !a.Encrypted() {
		return nil, nil
	}
	return e.sec.ClientConfigFor(a, expect...), nil
}

// defaultScheme is the scheme of bare addresses for this endpoint.
func (e *endpointBase) defaultScheme() string {
	if e.sec == nil {
		return daskconfig.SchemeTCP
	}
	return e.sec.Config().Scheme()
}

// serve listens on a with srv, logging every accepted peer with its
// certificate and every connection refused before reaching srv.
func (e *endpointBase) serve(ctx context.Context, a daskconfig.Addr, srv *wire.Server, opts ListenOptions) error {
	tlsCfg, err := e.serverTLS(a)
	if err != nil {
		return err
	}
	onErr := opts.OnError
	opts.OnError = func(err error) {
		e.refusedConns.warn("connection refused", "err", err)
		if onErr != nil {
			onErr(err)
		}
	}
	ln, err := Listen(ctx, a.String(), tlsCfg, func(c *wire.Comm) {
		e.log.Info("connection", PeerOf(c).LogAttrs()...)
		e.sec.track(c, e.log)
		srv.ServeComm(ctx, c)
	}, opts)
	if err != nil {
		return err
	}
	e.ln = ln
	return nil
}

// contactAddr is the address peers should use for a listener: its bound
// address, with an unspecified host (0.0.0.0, ::) replaced by hostHint
// when one is known.
func contactAddr(bound string, hostHint string) string {
	a, err := daskconfig.ParseAddr(bound, daskconfig.SchemeTCP)
	if err != nil || hostHint == "" || (a.Host != "0.0.0.0" && a.Host != "::" && a.Host != "") {
		return bound
	}
	a.Host = hostHint
	return a.String()
}

// asInt reads an integer a Python peer sent (msgpack ints decode as int64,
// and Python floats are accepted when whole).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(min(x, 1<<63-1)), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}

// asString reads a string field, also accepting bytes.
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// isClosedErr reports whether err is the ordinary end of a comm.
func isClosedErr(err error) bool {
	return errors.Is(err, wire.ErrClosed) || errors.Is(err, context.Canceled)
}
