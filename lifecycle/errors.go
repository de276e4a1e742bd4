package lifecycle

import "errors"

// Errors returned by this package; callers branch on them with errors.Is.
var (
	// ErrNotActive: a certificate asked for by name or serial is revoked,
	// superseded or unknown, so there is nothing to renew.
	ErrNotActive = errors.New("certificate is not active")

	// ErrUnknownReason: a revocation reason that is not an RFC 5280 name
	// daskca accepts.
	ErrUnknownReason = errors.New("unknown revocation reason")

	// ErrNoRotation: a rotation phase other than begin when no rotation is
	// under way.
	ErrNoRotation = errors.New("no CA rotation is under way")

	// ErrOldCAInUse: finish while active leaves still depend on the old CA.
	ErrOldCAInUse = errors.New("active certificates still depend on the old CA")

	// ErrCAMissing: a CA generation the recorded rotation names is in none
	// of the CA directories of the home.
	ErrCAMissing = errors.New("a CA of the rotation is missing from the home")

	// ErrCAMisplaced: the CA in the home's CA directory, or the roots it
	// trusts beside its own, are not what the recorded rotation state puts
	// there (a rotation step interrupted after it recorded its phase).
	ErrCAMisplaced = errors.New("the CA in the home does not match the CA rotation state")
)
