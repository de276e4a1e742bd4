//go:build !unix

package fsutil

const (
	noFollow = 0
	nonBlock = 0
)
