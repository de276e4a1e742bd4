package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// ErrNotRegular: a file read with ReadRegular is a symbolic link, a
// directory, a device or anything else but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// maxRead bounds what ReadRegular reads: the files of a home (keys,
// certificates, bundles, CRLs) are kilobytes; a CRL of a million entries is
// tens of megabytes.
const maxRead = 256 << 20

// ReadRegular reads the regular file at path without following a symbolic
// link in its last component (O_NOFOLLOW) and without blocking on a FIFO,
// and returns its contents and its mode as the open file has it. A link,
// a FIFO or a directory fails with ErrNotRegular. Directories above path
// are the caller's to check (home.Layout.SafeDir).
func ReadRegular(path string) ([]byte, fs.FileMode, error) {
	data, fi, err := readRegular(path)
	if err != nil {
		return nil, 0, err
	}
	return data, fi.Mode(), nil
}

// readRegular is ReadRegular returning the open file's FileInfo, taken
// before it is read.
func readRegular(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow|nonBlock, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, fmt.Errorf("%s is a symbolic link; daskca does not follow links inside its home: %w", path, ErrNotRegular)
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	// Read into a buffer of the size the file has (one more byte to see
	// it end), growing only if it grows meanwhile, never past maxRead+1.
	data := make([]byte, 0, min(max(fi.Size(), 0), maxRead)+1)
	err = nil
	for err == nil && len(data) <= maxRead {
		if len(data) == cap(data) {
			data = slices.Grow(data, min(cap(data), maxRead+1-len(data)))
		}
		var n int
		n, err = f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxRead {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, maxRead)
	}
	return data, fi, nil
}
