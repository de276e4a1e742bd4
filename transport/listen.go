package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// Defaults for ListenOptions.
const (
	// DefaultMaxHandshakes bounds TLS handshakes computed at once (each
	// costs the listener a key exchange and a signature). A slot is taken
	// only once a dialer's whole ClientHello has arrived and is held for at
	// most the handshake timeout, so dialers that stall before that cannot
	// take one, and those that stall after it delay others but cannot hold
	// the listener.
	DefaultMaxHandshakes = 128
	// DefaultMaxConns bounds established comms at once; a large Dask
	// cluster keeps a few comms per worker open to its scheduler.
	DefaultMaxConns = 8192
)

// ListenOptions tunes a Listener. The zero value is ready to use.
type ListenOptions struct {
	// Comm applies to every accepted comm; its HandshakeTimeout bounds the
	// TLS plus Dask handshake of each connection.
	Comm wire.CommOptions
	// MaxHandshakes bounds TLS handshakes in progress at once, counted
	// from the arrival of a dialer's whole first record (its ClientHello)
	// to the end of its TLS handshake; zero means DefaultMaxHandshakes.
	// When full, new connections wait for a slot within their handshake
	// timeout. A dialer that sends nothing or part of a ClientHello holds
	// no slot, only a connection, until the handshake timeout closes it;
	// one whose first bytes are not TLS is closed on arrival.
	MaxHandshakes int
	// MaxConns bounds connections open at once, handshaking or not; zero
	// means DefaultMaxConns. When full, the listener stops accepting
	// (dialers wait in the kernel's backlog) until one closes.
	MaxConns int
	// OnError, if set, is told about every connection that failed before
	// reaching the handler (a rejected certificate, a silent dialer, a bad
	// Dask handshake) and about accept errors. It may be called from many
	// goroutines at once.
	OnError func(error)
}

// Listener accepts Dask comms and hands each to a handler in its own
// goroutine. Its methods are safe for concurrent use.
type Listener struct {
	ln      net.Listener
	scheme  string
	tlsCfg  *tls.Config
	handler func(*wire.Comm)
	opts    ListenOptions

	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	handshakes chan struct{}
	slots      chan struct{}
	wg         sync.WaitGroup

	mu    sync.Mutex
	live  map[net.Conn]struct{}
	close sync.Once
}

// Listen listens on addr (tls://host:port, tcp://host:port, or a bare
// host:port as for Connect; port 0 picks a free port) and serves each
// accepted connection: for tls:// it runs the TLS handshake, then it writes
// this side's Dask handshake at once (older Dask clients wait for it before
// writing theirs), reads the peer's, and calls handler with the comm. The
// comm is closed when handler returns.
//
// The listener stops when ctx is done or Close is called.
func Listen(ctx context.Context, addr string, tlsCfg *tls.Config, handler func(*wire.Comm), opts ListenOptions) (*Listener, error) {
	a, err := commAddr(addr, tlsCfg)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.HostPort())
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", a, err)
	}
	if opts.MaxHandshakes <= 0 {
		opts.MaxHandshakes = DefaultMaxHandshakes
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	l := &Listener{
		ln: ln, scheme: a.Scheme, tlsCfg: tlsCfg, handler: handler, opts: opts,
		handshakes: make(chan struct{}, opts.MaxHandshakes),
		slots:      make(chan struct{}, opts.MaxConns),
		live:       make(map[net.Conn]struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { _ = l.Close() })
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Addr returns the address the listener is bound to in Dask's form, with
// the port the system chose when asked for port 0.
func (l *Listener) Addr() string { return l.scheme + "://" + l.ln.Addr().String() }

// Close stops accepting, closes every connection still open and waits for
// their handlers to return. It is idempotent. A handler must not call it
// (it would wait for itself); cancel the Listen context instead.
func (l *Listener) Close() error {
	var err error
	l.close.Do(func() {
		l.cancel()
		err = l.ln.Close()
		l.mu.Lock()
		for c := range l.live {
			_ = c.Close()
		}
		l.mu.Unlock()
	})
	l.wg.Wait()
	return err
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		if !l.acquire(l.slots) {
			return
		}
		raw, err := l.ln.Accept()
		if err != nil {
			<-l.slots
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.report(fmt.Errorf("accepting on %s: %w", l.Addr(), err))
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !l.track(raw) {
			_ = raw.Close()
			<-l.slots
			return
		}
		l.wg.Add(1)
		go l.serveConn(raw)
	}
}

// acquire takes a slot of sem, or reports false once the listener closes.
func (l *Listener) acquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// track records an open connection so Close can reach it; it refuses once
// the listener is closing.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.live[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.live, c)
	l.mu.Unlock()
}

func (l *Listener) serveConn(raw net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	defer l.untrack(raw)
	c, err := l.handshake(raw)
	if err != nil {
		_ = raw.Close()
		l.report(fmt.Errorf("connection from %s://%s: %w", l.scheme, raw.RemoteAddr(), err))
		return
	}
	defer c.Close()
	l.handler(c)
}

// handshake runs the TLS and Dask handshakes under the handshake timeout.
// A TLS connection takes a handshake slot only once its first record (the
// ClientHello) has arrived, and gives it back when the TLS handshake ends.
func (l *Listener) handshake(raw net.Conn) (*wire.Comm, error) {
	ctx, cancel := context.WithTimeout(l.ctx, handshakeTimeout(l.opts.Comm))
	defer cancel()
	conn := raw
	if l.scheme == daskconfig.SchemeTLS {
		tc, err := l.tlsHandshake(ctx, raw)
		if err != nil {
			return nil, err
		}
		conn = tc
	}
	c := wire.NewComm(conn, l.opts.Comm)
	if err := c.Handshake(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (l *Listener) tlsHandshake(ctx context.Context, raw net.Conn) (*tls.Conn, error) {
	deadline, _ := ctx.Deadline()
	first, err := readFirstRecord(raw, deadline)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("tls handshake: no ClientHello within %v: %w", handshakeTimeout(l.opts.Comm), context.DeadlineExceeded)
		}
		return nil, err
	}
	select {
	case l.handshakes <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("tls handshake: waiting for a handshake slot: %w", context.Cause(ctx))
	}
	defer func() { <-l.handshakes }()
	tc := tls.Server(wire.BatchWrites(&replayConn{Conn: raw, pending: first}), l.tlsCfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

func (l *Listener) report(err error) {
	if l.opts.OnError != nil {
		l.opts.OnError(err)
	}
}

// Serve listens on addr like Listen and runs s.ServeComm on each comm.
func Serve(ctx context.Context, addr string, tlsCfg *tls.Config, s *wire.Server, opts ListenOptions) (*Listener, error) {
	return Listen(ctx, addr, tlsCfg, func(c *wire.Comm) { s.ServeComm(ctx, c) }, opts)
}
