package transport

import (
	"errors"
	"fmt"
)

// Errors of the configuration and security half of the package: loading the
// Dask config, building tls.Configs and authorizing peers. Callers branch on
// them with errors.Is.
var (
	// ErrBadAddress means an address has an unknown or unsupported scheme,
	// or no usable host:port (missing port, unbracketed IPv6).
	ErrBadAddress = errors.New("bad dask address")

	// ErrBadConfig means a configuration value has the wrong type or an
	// unsupported value. The error is a *ConfigError naming the key.
	ErrBadConfig = errors.New("bad dask configuration")

	// ErrEncryptionRequired means distributed.comm.require-encryption is
	// true and a tcp:// address was about to be used to listen or dial.
	ErrEncryptionRequired = errors.New("encryption required by dask configuration")

	// ErrBadCipher means distributed.comm.tls.ciphers names a cipher that is
	// unknown, not implemented, or refused as insecure.
	ErrBadCipher = errors.New("bad tls cipher")

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
)

// ConfigError reports one bad configuration value: where it came from, its
// dotted key as Dask spells it, and what to write instead. It wraps
// ErrBadConfig.
type ConfigError struct {
	Source string // file path or "environment"; empty when unknown
	Key    string // e.g. distributed.comm.tls.min-version
	Msg    string // what is wrong and how to fix it
}

func (e *ConfigError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Source, e.Key, e.Msg)
}

// Unwrap returns ErrBadConfig.
func (e *ConfigError) Unwrap() error { return ErrBadConfig }
