package wire

import "errors"

// Errors of the wire protocol: framing, messages, the Dask handshake, comms
// and RPC. Callers branch on them with errors.Is.
var (
	// ErrFrameLimit means a message header claimed more frames, a larger
	// frame or a larger message than the configured Limits allow. The bytes
	// it claimed were never allocated.
	ErrFrameLimit = errors.New("message exceeds limits")

	// ErrMalformed means the bytes on the wire do not form a Dask message:
	// an inconsistent header, truncated msgpack, a bad serialized-object
	// reference.
	ErrMalformed = errors.New("malformed dask message")

	// ErrHandshake means the peer's Dask handshake was missing, late or
	// lacked a required key.
	ErrHandshake = errors.New("dask handshake failed")

	// ErrClosed is returned by operations on a comm or listener that has
	// been closed, by us or after an earlier error on the same comm.
	ErrClosed = errors.New("comm closed")

	// ErrIdleTimeout means no complete message arrived, or a write did not
	// finish, within CommOptions.IdleTimeout.
	ErrIdleTimeout = errors.New("comm idle timeout")

	// ErrBadRequest means a request read by the server side was not a map
	// with a string "op".
	ErrBadRequest = errors.New("bad dask request")
)
