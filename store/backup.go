package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole inventory to w while other
// readers and writers carry on (bbolt's Tx.WriteTo inside one read
// transaction). It returns the number of bytes written. The copy is a
// complete inventory file; check it with VerifyFile before relying on it.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backing up %s: %w", s.path, err)
	}
	return n, nil
}

// BackupFile writes a backup to path atomically: a 0600 temporary file in
// the same directory, synced, then hard-linked to path. It fails with
// ErrExists if path exists, so a backup never overwrites another.
func (s *Store) BackupFile(path string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("backing up to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	n, err := s.Backup(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path) // unlike rename, never replaces path
	}
	if errors.Is(err, fs.ErrExist) {
		err = ErrExists
	}
	if err != nil {
		return n, fmt.Errorf("backing up to %s: %w", path, err)
	}
	return n, nil
}
