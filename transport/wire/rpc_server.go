package wire

import (
	"context"
	"errors"
	"fmt"
)

// HandlerFunc runs one op. args is the request without "op", "reply",
// "close" and "serializers"; the returned value is the reply. Returning
// NoReply sends nothing even if the caller asked for a reply.
//
// A handler owns the comm while it runs: a long-lived one (a worker's
// "register-worker" followed by its stream of batched messages) simply
// keeps reading and writing c and returns when the stream ends; the
// dispatcher then carries on with the next request if c is still open.
type HandlerFunc func(ctx context.Context, c *Comm, args map[string]any) (any, error)

// noReply is the type of NoReply.
type noReply struct{}

// NoReply, returned by a HandlerFunc, means "send nothing back", as Dask's
// Status.dont_reply.
var NoReply any = noReply{}

// Server dispatches Dask requests on comms to Handlers. It is read-only once
// serving starts and may then serve many comms at once.
type Server struct {
	// Handlers maps op names to their handlers. An op without a handler
	// goes to Fallback, or gets the reply None (nil), as in Dask.
	Handlers map[string]HandlerFunc
	// Fallback, if set, runs every op that has no handler; it gets the op
	// name in args["op"].
	Fallback HandlerFunc
	// OnError, if set, is told about handler errors and broken requests.
	OnError func(op string, err error)
}

// ServeComm reads requests from c and answers them until c closes, the
// peer sends {"op": "close"}, a request asks to "close" after its reply, or
// ctx is done. It does not close c; the caller (a listener's handler) does.
// A message refused for its size or shape (ErrFrameLimit, ErrMalformed) is
// reported to OnError before the comm ends.
//
// Like Dask it answers an op that fails with the uncaught-error reply, a
// "close" op that wants a reply with "OK", and stops at a request that is
// not a map with a string "op".
func (s *Server) ServeComm(ctx context.Context, c *Comm) {
	for ctx.Err() == nil {
		m, err := c.Read(ctx)
		if errors.Is(err, ErrFrameLimit) || errors.Is(err, ErrMalformed) {
			s.report("", fmt.Errorf("message refused, comm closed: %w", err))
		}
		if err != nil {
			return
		}
		if !s.dispatch(ctx, c, m) {
			return
		}
	}
}

// dispatch handles one request and reports whether to read another.
func (s *Server) dispatch(ctx context.Context, c *Comm, m Msg) bool {
	args, ok := m.Dict()
	op, opOK := args["op"].(string)
	if !ok || !opOK {
		s.report("", fmt.Errorf("request from %s: %w", c.RemoteAddr(), ErrBadRequest))
		return false
	}
	reply := true
	if r, present := args["reply"]; present {
		reply = truthy(r)
	}
	closeAfter := truthy(args["close"])
	for _, k := range []string{"op", "reply", "close", "serializers"} {
		delete(args, k)
	}
	if op == "close" {
		if reply {
			_ = c.Write(ctx, "OK")
		}
		return false
	}
	result := s.run(ctx, c, op, args)
	if reply && result != NoReply {
		if err := c.Write(ctx, result); err != nil {
			s.report(op, err)
			return false
		}
	}
	return !closeAfter && !c.Closed()
}

// run calls the handler for op, turning its error into Dask's reply.
func (s *Server) run(ctx context.Context, c *Comm, op string, args map[string]any) any {
	h, ok := s.Handlers[op]
	if !ok && s.Fallback == nil {
		return nil
	}
	if !ok {
		h = s.Fallback
		args["op"] = op
	}
	result, err := h(ctx, c, args)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			s.report(op, err)
		}
		return errorReply(err)
	}
	return result
}

func (s *Server) report(op string, err error) {
	if s.OnError != nil {
		s.OnError(op, err)
	}
}

// truthy mirrors Python truthiness for the values a flag may carry.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case string:
		return x != ""
	}
	return true
}
