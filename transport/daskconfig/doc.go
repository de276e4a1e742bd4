// Package daskconfig is the Dask configuration model: the part of Dask's
// configuration that concerns comms and TLS, read and written the way Dask
// reads and writes it.
//
// Config is distributed.comm.require-encryption, default-scheme, tls.*,
// the preload lists and the top-level scheduler-address, plus daskca's own
// keys under a top-level daskca key that Dask ignores. The same type is
// rendered by `daskca config` (Config.YAML, Config.Env, Config.EnvShell),
// loaded by the transport (LoadConfig) and read by daskca's Dask plugin, so
// what is emitted, run and enforced cannot drift apart.
//
// LoadConfig follows dask/config.py: YAML files from /etc/dask (or
// $DASK_ROOT_CONFIG), ~/.config/dask and $DASK_CONFIG, merged in that order
// key by key, then DASK_* environment variables on top. YAML is read with
// PyYAML's YAML 1.1 rules and environment values as Python literals, so a
// value means here what it means to Dask; types are checked as strictly as
// Dask checks them (min-version: "1.2" is an error that says to drop the
// quotes).
//
// ParseAddr reads Dask addresses: tls://host:port, tcp://host:port, bare
// host:port (taking the default scheme) and [v6]:port, with Dask's errors
// for a missing port, an unbracketed IPv6 address and an unknown scheme.
// ParseCiphers maps an OpenSSL cipher string to Go's TLS 1.2 suites.
//
// The package reads files and the environment only; it opens no connection
// and builds no tls.Config (package transport does).
package daskconfig
