// Package testca is a throw-away certificate authority for tests.
//
// It issues leaves shaped like the ones daskca issues — a SPIFFE URI SAN
// naming the endpoint (see identity), OU=role, the extended key
// usages Dask needs for the role, and SANs for localhost, 127.0.0.1 and ::1 —
// so tests can run real TLS on loopback, against Go code and against real
// Dask, without the ca and issue packages. Options bend any of those
// properties so tests can also make deliberately bad certificates: the wrong
// EKU, an expired validity, another key type or key encoding.
//
// The CA itself is strict-clean for Python 3.13 + OpenSSL 3.x (critical
// basicConstraints, subject and authority key identifiers), since Python's
// TLS stack rejects anything looser.
//
// Everything is built with the standard library only, so that testca can
// never share a bug with the code it tests. Failures end the test with
// t.Fatal; nothing here returns an error.
package testca
