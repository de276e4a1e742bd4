package hostlist

import "errors"

// Errors returned by this package; callers branch on them with errors.Is.
var (
	// ErrSyntax is wrapped by every error about a malformed hostlist or
	// hosts-file line.
	ErrSyntax = errors.New("invalid hostlist")
	// ErrTooMany is returned when an expansion would exceed MaxHosts.
	ErrTooMany = errors.New("too many hosts")
	// ErrRange is wrapped by every error about an IP range: a malformed
	// prefix, or one holding fewer addresses than asked for.
	ErrRange = errors.New("invalid IP range")
)
