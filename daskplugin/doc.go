// Package daskplugin holds the Dask plugin that daskca ships: one Python
// file, embedded in the binary, that real Dask loads through its preload
// mechanism (distributed.{scheduler,worker,nanny,client}.preload) to enforce
// daskca's policy inside `dask scheduler`, `dask worker` and Client: peer
// roles at registration, CRL checking, live reload of certificate, key, CA
// bundle and CRL, and dropping connections of peers a new CRL revokes.
//
// The file uses the Python standard library and distributed only. It reads
// the same `daskca:` keys of Dask's configuration that the Go transport
// reads (transport.Extra), so what daskca emits, runs and enforces cannot
// drift apart.
package daskplugin
