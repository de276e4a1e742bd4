// Package daskrun starts real Dask processes with daskca's guarantees: a
// dask scheduler, or a dask worker with its nanny, that runs the
// configuration it was checked against and loads daskca's plugin into
// every process.
//
// Prepare checks, before Python starts, everything that can be checked
// there — the configuration loads, the role's certificate and key match,
// the certificate chains to the CA bundle with the role's key usages, has
// the role, is valid now and is not in the configured CRL, the addresses
// are tls://, no argument for Dask would unload the plugin, and the
// interpreter imports distributed — and decides the command line and the
// environment: daskca's flags for Dask, the plugin where the
// configuration's preload keys point (or a private copy), the nanny's
// --preload-nanny (dask worker never reads distributed.nanny.preload from
// the configuration), and, with a configuration file, a private
// DASK_CONFIG directory holding a copy of it without the DASK_* variables
// that would override what was checked. A failed check is a
// *PreflightError whose Check says which; nothing was started then and
// nothing is left behind.
//
// Start runs Dask in a process group of its own and Wait waits for it:
// SIGINT, SIGTERM and SIGHUP that reach this process are forwarded to
// Dask's group once, a context ended otherwise stops Dask with SIGTERM,
// and a status other than 0 comes back as an *ExitError carrying the code
// a shell would report (128+N for signal N).
package daskrun
