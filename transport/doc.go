// Package transport speaks Dask's distributed comm protocol over mutual TLS,
// configured the way Dask is configured, so that a Go program can join,
// probe or serve a Dask cluster secured by daskca certificates.
//
// It is built on two packages that each do one job and do not import it:
// transport/daskconfig, the Dask configuration model (YAML and DASK_*
// variables read as Dask reads them, rendering, addresses, cipher strings),
// and transport/wire, the wire protocol on one connection (framing,
// msgpack, the Dask handshake, Comm and RPC). transport adds what needs
// certificates and sockets: Security, Listen and Connect, Probe, the role
// policy, reloading, and a Go scheduler and worker. Beside these two it
// imports nothing of this module but the leaf identity, so any Go
// program can use it.
//
// # Security
//
// Security turns a daskconfig.Config and a role into tls.Configs:
// ServerConfig for the listeners of schedulers and workers, ClientConfig for
// dialing. TLS is always mutual, at least TLS 1.2, TLS 1.2 suites are AEAD
// with forward secrecy (daskconfig.ParseCiphers maps an OpenSSL cipher
// string), and, beyond what Dask checks, each side authorizes the other by
// the role in its certificate's daskca identity (see identity):
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
// # Listening and dialing
//
// Connect dials a Dask address and Listen accepts on one, performing the TLS
// handshake and the Dask handshake, and hand over a wire.Comm; Serve runs a
// wire.Server on each accepted comm. Listeners bound handshakes and
// connections (ListenOptions) so slow or silent dialers cannot starve real
// peers, and a tls:// listener drops a dialer whose first bytes are not a
// TLS handshake.
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
