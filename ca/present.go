package ca

import (
	"os"
	"path/filepath"
)

// HasRootKey reports whether the root key is still kept in dir: false after
// ForgetRootKey, when the root key lives offline.
func HasRootKey(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, RootKeyFile))
	return err == nil
}
