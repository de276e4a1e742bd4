package issue

import "errors"

// Errors returned by this package; callers branch on them with errors.Is.
var (
	ErrInvalidName = errors.New("invalid name")
	ErrInvalidDNS  = errors.New("invalid DNS name")
	ErrInvalidIP   = errors.New("invalid IP address")
	ErrActive      = errors.New("an active certificate already exists")
	ErrNotFound    = errors.New("no such certificate")
	ErrAmbiguous   = errors.New("name matches several certificates")
	ErrWeakKey     = errors.New("key type not accepted")
)
