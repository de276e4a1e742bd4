//go:build !unix

package transport

import "os"

// inode is unknown off Unix; size and modification time still detect
// changes.
func inode(os.FileInfo) uint64 { return 0 }
