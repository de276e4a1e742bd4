package homefiles

import "errors"

// Errors returned by this package; test with errors.Is.
var (
	// ErrForeign: a certificate in an inventory was not signed by any CA
	// certificate of this home, or does not match its record.
	ErrForeign = errors.New("not an inventory of this CA")
	// ErrUnrevoke: a restore would un-revoke certificates whose revocation
	// it cannot carry into the restored inventory.
	ErrUnrevoke = errors.New("the restore would un-revoke certificates")
	// ErrExtraCA: a trust bundle file holds a certificate that is not in
	// the CA's own bundle.
	ErrExtraCA = errors.New("a trust bundle holds a foreign certificate")
	// ErrProblems: Check found problems (they are in the Report).
	ErrProblems = errors.New("inventory check found problems")
)
