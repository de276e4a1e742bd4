// Package quickkdf marks the directories whose CA keys are encrypted with a
// cheap key derivation: a hook for the quick test tier (go test -short).
//
// A CA key is encrypted with 600,000 PBKDF2-HMAC-SHA256 iterations, about
// 0.1 s of one core here, paid again by every command that decrypts it. A
// test that creates homes and signs in them, and is not about the key at
// rest, spends most of its time there. Test helpers may Mark such a home:
// package ca then encrypts the keys it saves under it with Iterations
// instead. Decryption reads the iteration count from the key file, so such
// a key decrypts quickly in any process that reads it, the daskca binary
// included, and nothing else changes.
//
// Only tests call Mark (internal/testkit/testtier.QuickKeys, in the quick tier
// only). No command, flag or environment variable reaches it: the daskca
// binary does not even contain Mark, which a test of cmd/daskca checks in
// the binary's symbol table. In the daskca binary the set of marked
// directories is therefore always empty and every key gets the full count.
package quickkdf

import (
	"path/filepath"
	"sync"
)

// Iterations is the PBKDF2 iteration count of CA keys saved under a marked
// directory: cheap, and still a real PBES2 key that a wrong password does
// not open.
const Iterations = 1000

// marked holds the cleaned absolute paths given to Mark.
var marked sync.Map

// Mark makes CA keys saved in dir, or below it, use Iterations until the
// returned function is called (give it to t.Cleanup). For tests only. Safe
// for concurrent use.
func Mark(dir string) (unmark func()) {
	p := clean(dir)
	marked.Store(p, struct{}{})
	return func() { marked.Delete(p) }
}

// Marked reports whether dir is, or is below, a marked directory. Safe for
// concurrent use.
func Marked(dir string) bool {
	for p := clean(dir); ; p = filepath.Dir(p) {
		if _, ok := marked.Load(p); ok {
			return true
		}
		if parent := filepath.Dir(p); parent == p {
			return false
		}
	}
}

func clean(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}
