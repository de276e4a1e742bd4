// Package daskplugin holds the Dask plugin that daskca ships: one Python
// file, embedded in the binary, that real Dask loads through its preload
// mechanism (distributed.{scheduler,worker,nanny,client}.preload, and
// `dask worker --preload-nanny`, since `dask worker` ignores the nanny's
// preload from config) to enforce daskca's policy inside `dask scheduler`,
// `dask worker` and Client: peer roles at registration, CRL checking, live
// reload of certificate, key, CA bundle and CRL, and dropping connections
// of peers a new CRL revokes.
//
// The file uses the Python standard library and distributed only. Render
// returns it with transport.PolicyTable embedded as JSON, so that the Go
// transport and the plugin enforce one table; WriteFile places it.
//
// # Configuration
//
// The plugin reads Dask's own TLS keys (distributed.comm.tls.*) and the
// same top-level `daskca:` keys the Go transport reads (daskconfig.Extra),
// accepting and refusing the same values:
//
//	daskca:
//	  role-policy: strict      # strict (default) or dask
//	  crl-file: /path/crl.pem  # PEM or DER; optional
//	  reload: true             # poll the files (default true)
//	  reload-interval: 2s      # a Go duration string or a number of seconds (default 2s)
//	  verify-hostname: false   # dialers also check the host name
//
// The process's role, and so which certificate and key it uses, comes from
// the Dask object that loads the plugin, as in Dask's Security: Scheduler →
// scheduler, Worker and Nanny → worker, Client → client.
//
// # Failing closed
//
// The plugin acts when Dask imports it, before the first listener accepts
// and before the first dial. Anything it cannot do — an invalid setting, an
// unreadable file, a CRL from a CA not in the bundle, a Dask object whose
// internals are not where it expects — raises at import, which stops the
// Dask process with one line naming the cause and the Dask version.
package daskplugin
