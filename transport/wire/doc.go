// Package wire is Dask's wire protocol: how messages travel on one
// established connection.
//
// A Dask message is a list of frames behind a little-endian length prelude
// (ReadFrames, WriteFrames); frame 0 is msgpack, and values too large or
// opaque for it travel as Serialized sub-frames (EncodeMsg, DecodeMsg).
// Frames are read within Limits: nothing is allocated for what an untrusted
// header claims before the bytes arrive, and msgpack is decoded only when a
// walk over it (allocating nothing) finds its decoded form within a budget
// proportional to its size (Limits.DecodeFactor).
//
// A Comm carries messages over a TCP or TLS connection after the Dask
// handshake (NewComm, Comm.Handshake); Call, Send and CloseRPC speak Dask's
// RPC ({"op": ..., "reply": true} requests and their replies), and Server
// answers them on a comm.
//
// The package opens no connection and knows nothing of certificates or
// configuration: package transport dials, listens and authorizes peers, and
// hands it the connections.
package wire
