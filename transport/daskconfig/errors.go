package daskconfig

import (
	"errors"
	"fmt"
)

// Errors of the configuration model: reading the Dask config and the values
// in it. Callers branch on them with errors.Is.
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
