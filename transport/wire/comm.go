package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHandshakeTimeout bounds the TLS handshake plus the Dask handshake
// of a new comm when CommOptions.HandshakeTimeout is zero. Dask allows a
// connection 30 s in all (distributed.comm.timeouts.connect); a listener
// that lets silent dialers hold a slot that long is easy to starve, so the
// handshake alone gets a third of it.
const DefaultHandshakeTimeout = 10 * time.Second

// CommOptions tunes a comm. The zero value is ready to use: default limits,
// DefaultHandshakeTimeout, no idle timeout, DefaultHandshake.
type CommOptions struct {
	// Limits bounds every message read from the peer.
	Limits Limits
	// HandshakeTimeout bounds connecting (dialers), the TLS handshake and
	// the Dask handshake where a comm is dialed or accepted (package
	// transport's Connect and Listen); Comm.Handshake itself is bounded by
	// its ctx. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// IdleTimeout, if positive, bounds each Read (waiting included) and
	// each Write. When it expires the comm is closed and the call returns
	// an error wrapping ErrIdleTimeout. Zero means no bound beyond ctx.
	IdleTimeout time.Duration
	// Handshake is what this side announces; nil means DefaultHandshake.
	Handshake *Handshake
}

func (o CommOptions) handshake() Handshake {
	if o.Handshake != nil {
		return *o.Handshake
	}
	return DefaultHandshake
}

// readBufferSize is the bufio buffer under Read: small messages cost one
// read system call or TLS record, large frames bypass it.
const readBufferSize = 64 << 10

// Comm is one established Dask comm over TCP or TLS, after the Dask
// handshake.
//
// One goroutine may Read while another Writes; concurrent Reads (or
// concurrent Writes) are serialized by the Comm, which keeps messages whole
// but leaves their order to the scheduler. Close may be called at any time
// from any goroutine and makes pending and later calls fail with ErrClosed.
// Any failed Read or Write closes the comm, since the stream may then be in
// the middle of a message (Dask aborts its comms likewise).
type Comm struct {
	conn   net.Conn
	batch  *recordBatcher // under conn for TLS; nil for TCP
	br     *bufio.Reader
	scheme string
	opts   CommOptions
	peer   Handshake

	rmu, wmu  sync.Mutex
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	hookMu  sync.Mutex
	onClose []func() // run once, after the connection is closed
}

// NewComm makes a comm of an established connection: a *tls.Conn after its
// TLS handshake (scheme tls) or a plain TCP connection (scheme tcp). Call
// Handshake before anything else; the comm then owns conn. A *tls.Conn made
// over BatchWrites(raw) sends large messages in few writes.
func NewComm(conn net.Conn, opts CommOptions) *Comm {
	opts.Limits = opts.Limits.orDefaults()
	scheme, batch := "tcp", (*recordBatcher)(nil)
	if tc, ok := conn.(*tls.Conn); ok {
		scheme = "tls"
		batch, _ = tc.NetConn().(*recordBatcher)
	}
	return &Comm{conn: conn, batch: batch, br: bufio.NewReaderSize(conn, readBufferSize), scheme: scheme, opts: opts}
}

// messageSize is the number of payload bytes in frames.
func messageSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

// Read reads and decodes the next message. It returns when a whole message
// has arrived, ctx is done, the idle timeout expires or the comm fails; in
// every case but success the comm is closed afterwards.
func (c *Comm) Read(ctx context.Context) (Msg, error) {
	return c.read(ctx, c.opts.Limits)
}

// read is Read under lim.
func (c *Comm) read(ctx context.Context, lim Limits) (Msg, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return Msg{}, fmt.Errorf("reading from %s: %w", c.RemoteAddr(), ErrClosed)
	}
	disarm := c.arm(ctx, c.conn.SetReadDeadline)
	frames, err := ReadFrames(c.br, lim)
	disarm()
	if err != nil {
		return Msg{}, c.fail(ctx, "reading from", err)
	}
	m, err := DecodeMsg(frames, lim)
	if err != nil {
		return Msg{}, c.fail(ctx, "reading from", err)
	}
	return m, nil
}

// Write encodes v with EncodeMsg and writes it as one message.
func (c *Comm) Write(ctx context.Context, v any) error {
	frames, err := EncodeMsg(v)
	if err != nil {
		return fmt.Errorf("writing to %s: %w", c.RemoteAddr(), err)
	}
	return c.WriteFrames(ctx, frames)
}

// WriteFrames writes already encoded frames as one message; frames[0] must
// be msgpack for a Dask peer to make sense of it.
func (c *Comm) WriteFrames(ctx context.Context, frames [][]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("writing to %s: %w", c.RemoteAddr(), ErrClosed)
	}
	disarm := c.arm(ctx, c.conn.SetWriteDeadline)
	batched := c.batch != nil && messageSize(frames) >= batchAbove
	if batched {
		c.batch.hold()
	}
	_, err := WriteFrames(c.conn, frames)
	if batched {
		if rerr := c.batch.release(); err == nil {
			err = rerr
		}
	}
	disarm()
	if err != nil {
		return c.fail(ctx, "writing to", err)
	}
	return nil
}

// Close closes the connection (sending a TLS close_notify first on TLS).
// It is idempotent; only the first call reports an error.
func (c *Comm) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		c.closeErr = c.conn.Close()
		c.hookMu.Lock()
		hooks := c.onClose
		c.onClose = nil
		c.hookMu.Unlock()
		for _, f := range hooks {
			f()
		}
	})
	if first {
		return c.closeErr
	}
	return nil
}

// OnClose makes f run once the comm is closed, at once if it is.
func (c *Comm) OnClose(f func()) {
	c.hookMu.Lock()
	if !c.closed.Load() {
		c.onClose = append(c.onClose, f)
		c.hookMu.Unlock()
		return
	}
	c.hookMu.Unlock()
	f()
}

// Closed reports whether the comm has been closed.
func (c *Comm) Closed() bool { return c.closed.Load() }

// LocalAddr returns this end's address in Dask's form, tls://127.0.0.1:8786.
func (c *Comm) LocalAddr() string { return c.scheme + "://" + c.conn.LocalAddr().String() }

// RemoteAddr returns the peer's address in Dask's form.
func (c *Comm) RemoteAddr() string { return c.scheme + "://" + c.conn.RemoteAddr().String() }

// TLSState returns the TLS connection state (negotiated version, cipher,
// verified peer chains), or nil for a tcp:// comm.
func (c *Comm) TLSState() *tls.ConnectionState {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// PeerHandshake returns what the peer announced in the Dask handshake.
func (c *Comm) PeerHandshake() Handshake { return c.peer }

// deadliner is a conn's SetReadDeadline or SetWriteDeadline.
type deadliner func(time.Time) error

// arm sets the deadline for one operation from ctx and the idle timeout,
// and makes cancellation of ctx interrupt the operation. The returned
// function disarms it; after it returns, ctx can no longer touch the conn.
func (c *Comm) arm(ctx context.Context, set deadliner) (disarm func()) {
	var deadline time.Time
	if c.opts.IdleTimeout > 0 {
		deadline = time.Now().Add(c.opts.IdleTimeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	_ = set(deadline) // fails only on a closed conn, which the operation reports
	var mu sync.Mutex
	active := true
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if active {
			_ = set(time.Unix(1, 0))
		}
	})
	return func() {
		stop()
		mu.Lock()
		active = false
		mu.Unlock()
	}
}

// fail closes the comm after a failed operation and explains why it failed.
func (c *Comm) fail(ctx context.Context, what string, err error) error {
	wasClosed := c.closed.Load()
	_ = c.Close()
	peer := c.RemoteAddr()
	switch {
	case wasClosed:
		return fmt.Errorf("%s %s: %w", what, peer, ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", what, peer, context.Cause(ctx))
	case errors.Is(err, os.ErrDeadlineExceeded) && ctxExpired(ctx):
		return fmt.Errorf("%s %s: %w", what, peer, context.DeadlineExceeded)
	case errors.Is(err, os.ErrDeadlineExceeded) && c.opts.IdleTimeout > 0:
		return fmt.Errorf("%s %s: no progress in %v: %w", what, peer, c.opts.IdleTimeout, ErrIdleTimeout)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s %s: peer closed the connection: %w: %w", what, peer, ErrClosed, io.EOF)
	}
	return fmt.Errorf("%s %s: %w", what, peer, err)
}

// ctxExpired reports whether ctx's deadline has passed, which a conn
// deadline set from it can notice a moment before ctx itself does.
func ctxExpired(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
