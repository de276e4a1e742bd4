package transport

import "errors"

// Errors of security (building tls.Configs from the configuration, loading
// the material, authorizing peers) and of listening and dialing. Callers
// branch on them with errors.Is.
var (
	// ErrBadMaterial means a certificate, key, CA bundle or CRL is missing,
	// unreadable, malformed, or does not fit the rest (key does not match the
	// certificate, certificate does not chain to the CA). On reload the old
	// material stays in use.
	ErrBadMaterial = errors.New("bad tls material")

	// ErrPeerRefused means the peer's certificate chained to our CA but the
	// peer is not allowed: wrong role, wrong trust domain, no daskca
	// identity under the strict role policy, revoked, or a hostname mismatch.
	ErrPeerRefused = errors.New("peer refused")

	// ErrRevoked means the peer's certificate, or one of its issuers, is
	// listed in the configured CRL. It always comes with ErrPeerRefused.
	ErrRevoked = errors.New("certificate revoked")

	// ErrNotListener means a server tls.Config was used by a role that never
	// listens (a client).
	ErrNotListener = errors.New("role does not listen")

	// ErrTLSRequired means a tls:// address was given without a tls.Config.
	ErrTLSRequired = errors.New("tls address needs a tls.Config")
)
