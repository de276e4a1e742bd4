package enrol

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Token format (version 1), one printable word safe in shells, YAML and
// environment variables:
//
//	daskca1.<id>.<secret>.<root>
//
// id is 16 lower-case hex digits (64 random bits) naming the token in the
// inventory, lists and the audit log; secret is 32 random bytes (256 bits)
// in unpadded base64url; root is the lower-case hex SHA-256 of the CA root
// certificate's DER, which the enrolling host pins when it meets the server,
// so it needs no CA file beforehand (as kubeadm's CA hash does). The
// inventory keeps only the SHA-256 of the secret: the secret has 256 bits
// of entropy, so a stolen inventory gives no way back to a usable token.
const tokenVersion = "daskca1"

const (
	tokenIDBytes     = 8
	tokenSecretBytes = 32
)

// ErrBadToken is returned for a string that is not a token. Its message
// never quotes the string.
var ErrBadToken = errors.New("not a daskca enrolment token (expected daskca1.<id>.<secret>.<root fingerprint>)")

// Token is a parsed enrolment token.
type Token struct {
	ID     string   // 16 hex digits
	Secret []byte   // 32 bytes
	Root   [32]byte // SHA-256 of the root certificate
}

// NewToken makes a token with a fresh id and secret for the root whose
// SHA-256 fingerprint is root.
func NewToken(root [32]byte) (Token, error) {
	id := make([]byte, tokenIDBytes)
	t := Token{Secret: make([]byte, tokenSecretBytes), Root: root}
	if _, err := rand.Read(id); err != nil {
		return Token{}, err
	}
	if _, err := rand.Read(t.Secret); err != nil {
		return Token{}, err
	}
	t.ID = hex.EncodeToString(id)
	return t, nil
}

// String is the token as users pass it.
func (t Token) String() string {
	return tokenVersion + "." + t.ID + "." + base64.RawURLEncoding.EncodeToString(t.Secret) + "." + hex.EncodeToString(t.Root[:])
}

// Hash is what the inventory keeps of the secret.
func (t Token) Hash() []byte {
	h := sha256.Sum256(t.Secret)
	return h[:]
}

// ParseToken parses a token. Surrounding white space is ignored (a token
// read from a file keeps its newline). Errors never contain s.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		return Token{}, ErrBadToken
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != tokenVersion {
		return Token{}, ErrBadToken
	}
	var t Token
	id, err := hex.DecodeString(parts[1])
	if err != nil || len(id) != tokenIDBytes || hex.EncodeToString(id) != parts[1] {
		return Token{}, ErrBadToken
	}
	t.ID = parts[1]
	// The decoder skips \r and \n even when strict: the secret must be
	// exactly its own encoding.
	t.Secret, err = base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(t.Secret) != tokenSecretBytes || base64.RawURLEncoding.EncodeToString(t.Secret) != parts[2] {
		return Token{}, ErrBadToken
	}
	root, err := hex.DecodeString(parts[3])
	if err != nil || len(root) != len(t.Root) || hex.EncodeToString(root) != parts[3] {
		return Token{}, ErrBadToken
	}
	copy(t.Root[:], root)
	return t, nil
}
