// Package enrol gets certificates onto hosts without moving keys: an
// enrolment server that signs certificate requests for holders of one-time
// tokens, and the client that enrols and renews.
//
// A token (see Token) carries 256 random bits and the SHA-256 of the CA
// root: the enrolling host pins that root when it meets the server, so it
// needs no CA file first, and the inventory keeps only a hash of the
// secret. The host generates its key, sends a CSR, and gets back its
// certificate, the trust bundle and the CRL. The server vets the CSR
// (parseCSR), holds it to the token's scope (checkScope), signs it through
// issue.Issuer.SignPublicKey (the one signing path), and records it with
// the token's use in the inventory in a group commit (store.Enrol): the
// requests that arrive while one transaction is written share the next.
// A certificate renews itself over mutual TLS (PathRenew); a revoked,
// superseded or expired one cannot.
//
// The HTTP API is documented in docs/enrollment.md.
package enrol
