package wire

import (
	"context"
	"errors"
	"fmt"
)

// RemoteError is a failure reported by the peer in Dask's "uncaught-error"
// reply: {"status": "uncaught-error", "exception": …, "traceback": …,
// "exception_text": str, "traceback_text": str}.
type RemoteError struct {
	// Op is the operation that failed.
	Op string
	// Exception is the exception as sent: a *Serialized pickled exception
	// from a Python peer, a string from a Go peer.
	Exception any
	// ExceptionText is the peer's repr of the exception, such as
	// "ValueError('no such key')".
	ExceptionText string
	// TracebackText is the formatted Python traceback, or "".
	TracebackText string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("remote %s failed: %s", e.Op, e.ExceptionText)
}

// Call sends the request {"op": op, "reply": True, **kwargs} and waits for
// the reply, which it returns as decoded (see Msg for the types; an unknown
// op yields nil, as Dask replies None). An "uncaught-error" reply becomes a
// *RemoteError. kwargs is not modified; keys "op" and "reply" in it are
// overridden.
//
// If ctx ends while Call waits, the comm is closed, since a late reply would
// otherwise be taken for the answer to the next call.
func Call(ctx context.Context, c *Comm, op string, kwargs map[string]any) (any, error) {
	if err := c.Write(ctx, request(op, true, kwargs)); err != nil {
		return nil, fmt.Errorf("calling %s: %w", op, err)
	}
	m, err := c.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", op, err)
	}
	if rerr := asRemoteError(op, m.Value); rerr != nil {
		return nil, rerr
	}
	return m.Value, nil
}

// Send sends {"op": op, "reply": False, **kwargs} and does not wait: the
// peer runs the op and answers nothing.
func Send(ctx context.Context, c *Comm, op string, kwargs map[string]any) error {
	if err := c.Write(ctx, request(op, false, kwargs)); err != nil {
		return fmt.Errorf("sending %s: %w", op, err)
	}
	return nil
}

// CloseRPC ends a comm politely, the way Dask's rpc does: it sends
// {"op": "close", "reply": False} so the peer stops its handler loop
// without logging a lost connection, then closes the comm. The comm is
// closed even if the message cannot be sent.
func CloseRPC(ctx context.Context, c *Comm) error {
	err := Send(ctx, c, "close", nil)
	if cerr := c.Close(); err == nil && cerr != nil && !errors.Is(cerr, ErrClosed) {
		err = fmt.Errorf("closing %s: %w", c.RemoteAddr(), cerr)
	}
	return err
}

func request(op string, reply bool, kwargs map[string]any) map[string]any {
	msg := make(map[string]any, len(kwargs)+2)
	for k, v := range kwargs {
		msg[k] = v
	}
	msg["op"] = op
	msg["reply"] = reply
	return msg
}

// asRemoteError returns the *RemoteError an uncaught-error reply stands
// for, or nil for any other reply.
func asRemoteError(op string, v any) *RemoteError {
	d, ok := v.(map[string]any)
	if !ok || d["status"] != "uncaught-error" {
		return nil
	}
	e := &RemoteError{Op: op, Exception: d["exception"]}
	e.ExceptionText, _ = d["exception_text"].(string)
	e.TracebackText, _ = d["traceback_text"].(string)
	if e.ExceptionText == "" {
		if s, ok := e.Exception.(string); ok {
			e.ExceptionText = s
		} else {
			e.ExceptionText = "unknown error"
		}
	}
	return e
}

// errorReply is the uncaught-error reply a Go handler's error becomes. The
// exception travels as a string, which Dask's clean_exception turns into a
// plain Exception on a Python client.
func errorReply(err error) map[string]any {
	return map[string]any{
		"status":         "uncaught-error",
		"exception":      err.Error(),
		"traceback":      nil,
		"exception_text": err.Error(),
		"traceback_text": "",
	}
}
