// Package transport speaks Dask's distributed comm protocol over mutual TLS,
// configured the way Dask is configured, so that a Go program can join,
// probe or serve a Dask cluster secured by daskca certificates.
//
// It imports no other package of this module except the leaf
// transport/identity, so any Go program can use it.
//
// # Configuration
//
// Config is the part of Dask's configuration that concerns comms and TLS
// (distributed.comm.require-encryption, default-scheme, tls.*, and the
// top-level scheduler-address), plus daskca's own keys under a top-level
// daskca key that Dask ignores. The same type is rendered by `daskca config`
// (Config.YAML, Config.Env, Config.EnvShell) and loaded here (LoadConfig), so
// what is emitted and what is run cannot drift apart.
//
// LoadConfig follows dask/config.py: YAML files from /etc/dask (or
// $DASK_ROOT_CONFIG), ~/.config/dask and $DASK_CONFIG, merged in that order
// key by key, then DASK_* environment variables on top. YAML is read with
// PyYAML's YAML 1.1 rules and environment values as Python literals, so a
// value means here what it means to Dask; types are checked as strictly as
// Dask checks them (min-version: "1.2" is an error that says to drop the
// quotes).
//
// # Addresses
//
// ParseAddr reads tls://host:port, tcp://host:port, bare host:port (taking
// the default scheme) and [v6]:port, with Dask's errors for a missing port,
// an unbracketed IPv6 address and an unknown scheme.
//
// # Security
//
// Security turns a Config and a role into tls.Configs: ServerConfig for the
// listeners of schedulers and workers, ClientConfig for dialing. TLS is
// always mutual, at least TLS 1.2, TLS 1.2 suites are AEAD with forward
// secrecy (ParseCiphers maps an OpenSSL cipher string), and, beyond what Dask
// checks, each side authorizes the other by the role in its certificate's
// daskca identity (see transport/identity):
//
//	listener    accepts dialers with role
//	scheduler   worker, client
//	worker      scheduler, worker, client
//
//	dialer      accepts listeners with role
//	scheduler   worker
//	worker      scheduler, worker (its scheduler's address: scheduler only)
//	client      scheduler, worker (its scheduler's address: scheduler only)
//
// These, and who may register a worker, heartbeat, unregister and register
// a client on a scheduler, are rows of one table (PolicyTable, Allowed),
// which the Go transport enforces and daskca's Dask plugin receives. A
// worker registration belongs to the certificate that made it.
//
// The role policy "dask" (daskca.role-policy) accepts any certificate that
// chains to the CA, as Dask does. A CRL (daskca.crl-file) and hostname
// verification for dialers (daskca.verify-hostname) are optional.
//
// Certificates, keys, the CA bundle and the CRL are reloaded when their files
// change (Security.Run polls them) or on demand (Security.Reload, for SIGHUP).
// New handshakes use the new material; established connections stay up,
// except those of a peer the new CRL revokes, which scheduler and worker
// close; a broken or half-written file leaves the old material in place,
// and a CRL older than the loaded one is refused. TLS 1.3 sessions are
// resumed only within one material: a reload ends them.
//
// # Wire protocol
//
// On a connection, Dask messages are framed (a little-endian length prelude
// and frames), frame 0 is msgpack, and both sides first exchange a handshake
// message. Comm, Connect and Listen carry messages; the RPC layer sends
// {"op": ..., "reply": true} requests and reads replies. Frames are read
// within Limits: nothing is allocated for what an untrusted header claims
// before the bytes arrive, and msgpack is decoded only when a walk over it
// (allocating nothing) finds its decoded form within a budget proportional
// to its size (Limits.DecodeFactor). Listeners bound handshakes and connections
// (ListenOptions) so slow or silent dialers cannot starve real peers.
//
// # Scheduler, worker and probe
//
// ListenScheduler runs a scheduler: workers register (register-worker, then
// the comm becomes the worker's stream), send heartbeats and are forgotten
// when silent past their TTL; identity answers in the shape real Dask
// returns. ListenWorker runs a worker that registers, heartbeats, reconnects
// with backoff and answers the scheduler's calls. Probe performs the TLS
// handshake, describes the peer's chain, then the Dask handshake and
// identity, and says at which stage and why a connection failed. Every
// connection is logged with the peer's role, name and serial (PeerOf).
package transport
