// Package issue turns a request for an endpoint certificate into a signed
// certificate, its files on disk and its record in the inventory.
//
// It owns the rules of what daskca issues: which names are valid (RFC 1123
// host names, wildcards only as the whole left-most label, IPv4 and IPv6
// addresses), what each role's certificate looks like (the SPIFFE identity
// URI, OU=<role>, the extended key usages Dask requires), and the order of the
// steps that keeps files and inventory in agreement: files are staged first
// in the certificate's pending directory (certs/<role>/<name>/.pending-<serial>/;
// in a bulk run, certs/<role>/.pending-<serial>/ for an endpoint without a
// directory yet), the inventory transaction commits, then the staged files are
// renamed into place, key before certificate (or the new endpoint's pending
// directory is renamed to be its directory). A crash after the commit leaves
// the pending directory of an active serial, which lifecycle's Recover (run
// first by every writing command) puts in place. The CA (package ca) signs; the inventory
// (package store) records.
package issue
