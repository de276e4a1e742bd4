package issue

import "errors"

// Errors of bulk issuance.
var (
	// ErrRefused is returned by IssueBulk for a plan that refuses some of
	// its requests: nothing is issued until the plan is clean.
	ErrRefused = errors.New("the plan refuses some requests")
	// ErrDuplicate marks a request whose role and name an earlier request
	// of the same run already uses.
	ErrDuplicate = errors.New("listed twice")
	// ErrSpec wraps every error about a malformed cluster spec.
	ErrSpec = errors.New("invalid cluster spec")
)
