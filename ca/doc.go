// Package ca is one organisation's certificate authority for Dask clusters:
// a self-signed root and, optionally, an intermediate that signs the leaves
// so the root key can be kept offline.
//
// New creates the CA in memory; Save and Load keep it in one directory
// (root.crt, root.key, intermediate.crt, intermediate.key, ca.json) with
// the keys encrypted under a password (PKCS#8 PBES2, AES-256-CBC, readable
// by openssl pkcs8). SignDER turns a leaf template into a certificate and CRL
// signs revocation lists. The package knows nothing of the inventory, of the
// roles of a Dask cluster or of the network: the issue package decides what
// a leaf looks like, and this one only refuses what no CA should sign.
//
// # CA certificates
//
// Both CA certificates carry a critical basicConstraints (the root without
// a path length limit, the intermediate with pathlen 0), a critical
// keyUsage of certSign and cRLSign only, a subject key identifier and an
// authority key identifier (the root's names itself, which OpenSSL's strict
// mode accepts and path builders use to choose among roots). The subject is
// CN=Name, O=Name (the intermediate's CN is Name + " Intermediate"), and
// serial numbers are 159 random bits. NotBefore is Backdate (one hour)
// before creation so that hosts with lagging clocks do not see a new CA as
// not yet valid.
//
// # Name constraints
//
// Options.PermitDNS and PermitIP put the same critical name constraints on
// the root and the intermediate (constraints on a root are not required by
// RFC 5280 path validation, but both Go and OpenSSL apply them, and they
// bind any future intermediate). With a trust domain, URIs are permitted
// for exactly that host, so leaves' spiffe://<trust-domain>/dask/... URIs
// pass and any other URI is refused. SignDER checks every name of a template
// before signing, by rules at least as strict as both Go's crypto/x509 and
// OpenSSL's, so a certificate Sign returns verifies under both.
package ca
