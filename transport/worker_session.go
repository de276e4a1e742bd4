package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// errMissing means the scheduler no longer knows the worker (it forgot it
// as silent), so the worker must register again.
var errMissing = errors.New("the scheduler no longer knows this worker")

// session connects, registers and then keeps the stream and the heartbeats
// going until one of them fails or ctx ends. registered reports whether the
// scheduler accepted the worker.
func (w *Worker) session(ctx context.Context) (registered bool, err error) {
	c, err := w.connect(ctx, w.sched, OpDialScheduler, w.opts.Comm.Comm)
	if err != nil {
		return false, err
	}
	defer c.Close()
	contact, name, interval, err := w.register(ctx, c)
	if err != nil {
		return false, err
	}
	w.mu.Lock()
	w.status.Address, w.status.Name, w.status.Registered = contact, name, true
	w.status.Registrations++
	w.mu.Unlock()
	w.log.Info("registered with the scheduler", append(PeerOf(c).LogAttrs(), "address", contact, "worker_name", name)...)

	sctx, cancel := context.WithCancel(ctx)
	hb := make(chan error, 1)
	go func() {
		hb <- w.heartbeats(sctx, contact, interval)
		_ = c.Close() // ends the stream read below
	}()
	err = w.readStream(sctx, c)
	if ctx.Err() != nil {
		// Closing: end the stream the way a Dask worker does, so the
		// scheduler forgets us at once.
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Write(wctx, []any{map[string]any{"op": "close-stream"}})
		wcancel()
	}
	cancel()
	if herr := <-hb; herr != nil && !isClosedErr(herr) {
		err = herr
	}
	return true, err
}

// register sends register-worker and reads the answer, returning the
// address and name registered and the heartbeat interval asked for.
func (w *Worker) register(ctx context.Context, c *wire.Comm) (contact, name string, interval time.Duration, err error) {
	host := ""
	if a, perr := daskconfig.ParseAddr(c.LocalAddr(), daskconfig.SchemeTCP); perr == nil {
		host = a.Host
	}
	contact = contactAddr(w.ln.Addr(), host)
	name = w.name(contact)
	rctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	if err := c.Write(rctx, w.registration(contact, name)); err != nil {
		return "", "", 0, fmt.Errorf("registering: %w", err)
	}
	m, err := c.Read(rctx)
	if err != nil {
		return "", "", 0, fmt.Errorf("registering: %w", err)
	}
	reply, _ := m.Dict()
	if reply["status"] != "OK" {
		msg := asString(reply["message"])
		if msg == "" {
			msg = fmt.Sprintf("%v", m.Value)
		}
		return "", "", 0, fmt.Errorf("%w: the scheduler refused the registration: %s", ErrPeerRefused, msg)
	}
	return contact, name, secondsOr(reply["heartbeat-interval"], time.Second), nil
}

// secondsOr reads a duration in seconds sent by Dask, or returns def.
func secondsOr(v any, def time.Duration) time.Duration {
	switch x := v.(type) {
	case float64:
		if x > 0 {
			return time.Duration(x * float64(time.Second))
		}
	case int64:
		if x > 0 {
			return time.Duration(x) * time.Second
		}
	}
	return def
}

// readStream reads what the scheduler sends on the stream until it ends;
// a "close" op ends it too.
func (w *Worker) readStream(ctx context.Context, c *wire.Comm) error {
	for {
		m, err := c.Read(ctx)
		if err != nil {
			return err
		}
		msgs, ok := m.Value.([]any)
		if !ok {
			msgs = []any{m.Value}
		}
		for _, msg := range msgs {
			if (wire.Msg{Value: msg}).Op() == "close" {
				return fmt.Errorf("the scheduler closed the stream: %w", wire.ErrClosed)
			}
		}
	}
}

// heartbeats sends heartbeat_worker every interval over a comm of its own,
// as Dask does, until ctx ends or the scheduler forgot us (errMissing) or
// refuses us. A heartbeat that fails for a network reason is retried on a
// new comm at the next tick; the stream tells whether the scheduler is gone.
func (w *Worker) heartbeats(ctx context.Context, contact string, interval time.Duration) error {
	var c *wire.Comm
	defer func() {
		if c != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = wire.CloseRPC(cctx, c)
			cancel()
		}
	}()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		reply, err := w.heartbeat(ctx, &c, contact)
		var rerr *wire.RemoteError
		switch {
		case errors.As(err, &rerr):
			return fmt.Errorf("%w: the scheduler refused a heartbeat: %s", ErrPeerRefused, rerr.ExceptionText)
		case err != nil:
			w.log.Warn("heartbeat failed", "scheduler", w.sched.String(), "err", err)
		case asString(reply["status"]) == "missing":
			return errMissing
		default:
			interval = secondsOr(reply["heartbeat-interval"], interval)
		}
		t.Reset(interval)
	}
}

// heartbeat sends one heartbeat, connecting *c first when needed and
// dropping it when it fails.
func (w *Worker) heartbeat(ctx context.Context, c **wire.Comm, contact string) (map[string]any, error) {
	if *c == nil {
		var err error
		if *c, err = w.connect(ctx, w.sched, OpDialScheduler, w.opts.Comm.Comm); err != nil {
			return nil, err
		}
	}
	hctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	v, err := wire.Call(hctx, *c, "heartbeat_worker", map[string]any{"address": contact, "now": epoch(w.now()), "metrics": map[string]any{}})
	if err != nil {
		var rerr *wire.RemoteError
		if !errors.As(err, &rerr) {
			_ = (*c).Close()
			*c = nil
		}
		return nil, err
	}
	reply, _ := v.(map[string]any)
	return reply, nil
}
