package ca

import "errors"

// Errors returned by this package. Callers branch on them with errors.Is; the
// returned errors add context (which file, which name, which dates) around
// them.
var (
	// ErrUnknownKeyType: a key type name that is not one of KeyTypes.
	ErrUnknownKeyType = errors.New("unknown key type")

	// ErrNoPassword: the keys are (or must be) encrypted and no password
	// was given.
	ErrNoPassword = errors.New("a password is required")

	// ErrWrongPassword: an encrypted key did not decrypt with the password.
	ErrWrongPassword = errors.New("wrong password")

	// ErrExists: Save found CA files in the directory and overwrote nothing.
	ErrExists = errors.New("a CA already exists there")

	// ErrNotInitialized: the directory holds no CA.
	ErrNotInitialized = errors.New("no CA has been created")

	// ErrNoIntermediate: the operation needs an intermediate and the CA has
	// none.
	ErrNoIntermediate = errors.New("the CA has no intermediate")

	// ErrNoKey: the private key needed is not loaded (LoadPublic) or was
	// forgotten (ForgetRootKey).
	ErrNoKey = errors.New("private key not available")

	// ErrBadTemplate: a leaf template Sign will not sign whatever the CA
	// (no validity dates, a CA template, no public key).
	ErrBadTemplate = errors.New("unusable certificate template")

	// ErrOutlivesIssuer: a leaf's validity does not fit inside its
	// issuer's.
	ErrOutlivesIssuer = errors.New("certificate would not be covered by its issuer's validity")

	// ErrNameConstraint: a name in a leaf template is outside the name
	// constraints of a CA certificate in the chain.
	ErrNameConstraint = errors.New("name outside the CA's name constraints")

	// ErrInvalidOptions: Options that New cannot build a CA from.
	ErrInvalidOptions = errors.New("invalid CA options")

	// ErrCorrupt: the CA files are unreadable or do not belong together
	// (a key that does not match its certificate, an intermediate not
	// signed by the root, metadata that disagrees with the files).
	ErrCorrupt = errors.New("CA files are damaged or inconsistent")
)
