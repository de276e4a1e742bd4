// Package issue turns requests for endpoint certificates into signed
// certificates, their files on disk and their records in the inventory.
//
// It owns the rules of what daskca issues: which names are valid (RFC 1123
// host names, wildcards only as the whole left-most label, IPv4 and IPv6
// addresses), what each role's certificate looks like (the SPIFFE identity
// URI, OU=<role>, the extended key usages Dask requires), and the one
// pipeline every certificate whose key is made in the home goes through:
// Issue (a plan of one), bulk issue (Plan), renewal and the re-issue of a
// CA rotation (PlanReissue) are all carried out by IssueBulk.
//
// The pipeline keeps files and inventory in agreement: files are staged
// first, a new endpoint's in its pending directory
// (certs/<role>/.pending-<serial>/), a replacement's in the run's staging
// directory (certs/.staging-<run>/<serial>.<file>), the inventory
// transaction commits (store.Apply), then the staged files are renamed into
// place, key before certificate (or the new endpoint's pending directory is
// renamed to be its directory). A crash after the commit leaves the staged
// files of an active serial, which Recover (run first by IssueBulk) puts in
// place.
// Recover searches for pending directories only when the home's settled
// marker (home.Layout.Settled) is missing: a run removes it, durably,
// before it stages anything and puts it back when nothing can be left.
// The CA (package ca) signs; the inventory (package store) records;
// enrolment signs through the same template and signer (SignPublicKey).
package issue
