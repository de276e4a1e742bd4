package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the inventory layout this package reads and writes (see
// keys.go and record.go). Open refuses files with a newer version.
const SchemaVersion = 1

const (
	defaultTimeout = 2 * time.Second       // a CLI user waits this long for another daskca
	lockRetry      = 10 * time.Millisecond // flock polling interval while waiting
	// openWalkLimit: files up to this size get a full structural walk at
	// Open (tens of milliseconds); bigger ones get it from VerifyFile.
	openWalkLimit = 64 << 20
)

// Options configure Open. The zero value opens read-write, waits 2s for the
// lock and uses the wall clock.
type Options struct {
	// Timeout is how long Open waits for another process's lock. Zero means
	// 2s; negative means try once.
	Timeout time.Duration
	// ReadOnly opens with a shared lock; writes fail with ErrReadOnly and a
	// missing file is an error instead of being created.
	ReadOnly bool
	// Now stamps audit events and defaults for IssuedAt and RevokedAt. Nil
	// means time.Now.
	Now func() time.Time
	// Waiting, if set, is called once when Open finds the lock taken and
	// starts to wait for it (for a "waiting for ..." message).
	Waiting func()
}

// Store is an open inventory. It is safe for concurrent use by goroutines;
// every method runs in its own bbolt transaction.
//
// Locking. A writer holds an exclusive flock on WriterLockPath(path) for as
// long as it is open, so there is one writer at a time, and takes the
// inventory file's own flock exclusively only while a write transaction
// runs: between writes it holds it shared. Readers (Options.ReadOnly) take
// the file's flock shared, so they open and read between the writer's
// transactions, however long the writer stays open (a bulk run of ten
// thousand hosts), and the writer's next transaction waits until they have
// closed. Nothing writes the file while a reader holds it open, which is
// what bbolt needs of a reader in another process.
type Store struct {
	db       *bolt.DB
	path     string
	now      func() time.Time
	readOnly bool
	file     *os.File   // the inventory file bbolt uses (its flock)
	wlock    *os.File   // writers: the writer lock, held until Close
	wmu      sync.Mutex // serialises writes with their lock upgrades
}

// WriterLockPath is the file whose exclusive flock a writing Store holds
// while open: the inventory file's path with ".lock" appended. It holds no
// data.
func WriterLockPath(path string) string { return path + ".lock" }

// Open opens the inventory at path, creating it (mode 0600, parent
// directory must exist) unless opts.ReadOnly. It fails with ErrNotFound for
// a missing file opened read-only, ErrLocked when another process holds the
// lock past the timeout, ErrCorrupt for a file that is not an intact bbolt
// database, and ErrSchema for a database that is not an inventory of a
// version this package knows.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, false)
}

func open(path string, opts Options, fullWalk bool) (*Store, error) {
	o := &opener{readOnly: opts.ReadOnly, timeout: opts.Timeout, fullWalk: fullWalk, waiting: opts.Waiting}
	if o.timeout == 0 {
		o.timeout = defaultTimeout
	}
	var wlock *os.File
	if !opts.ReadOnly {
		var err error
		if wlock, err = o.writerLock(WriterLockPath(path)); err != nil {
			return nil, fmt.Errorf("opening inventory %s: %w", path, err)
		}
	}
	bopts := &bolt.Options{Timeout: max(o.timeout, time.Nanosecond), ReadOnly: opts.ReadOnly, OpenFile: o.openFile}
	var db *bolt.DB
	err := guarded(func() (err error) {
		db, err = bolt.Open(path, 0o600, bopts)
		return err
	})
	if err != nil {
		closeFile(wlock)
		return nil, fmt.Errorf("opening inventory %s: %w", path, openErr(err))
	}
	s := &Store{db: db, path: path, now: opts.Now, readOnly: opts.ReadOnly, file: o.file, wlock: wlock}
	if s.now == nil {
		s.now = time.Now
	}
	err = s.init()
	if err == nil && !s.readOnly {
		err = shareLock(s.file) // readers may come in between writes
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("opening inventory %s: %w", path, err)
	}
	return s, nil
}

// writerLock opens (creating, 0600) the writer lock file at name, without
// following a symbolic link, and takes its exclusive flock.
func (o *opener) writerLock(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the writer lock: %w", err)
	}
	if err := o.lock(f, true); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// lock takes f's flock within the opener's timeout, calling waiting once
// when the lock is not free at once.
func (o *opener) lock(f *os.File, exclusive bool) error {
	if lockFile(f, exclusive, -1) == nil {
		return nil
	}
	if o.waiting != nil && !o.waited && o.timeout > 0 {
		o.waited = true
		o.waiting()
	}
	return lockFile(f, exclusive, o.timeout)
}

func closeFile(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

func openErr(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return ErrLocked
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// opener is bbolt's OpenFile hook: it locks the file and validates it
// before bbolt reads a byte of it.
type opener struct {
	readOnly, fullWalk bool
	timeout            time.Duration
	retries            int
	waiting            func()   // Options.Waiting
	waited             bool     // waiting was called
	file               *os.File // the file handed to bbolt
}

func (o *opener) openFile(name string, _ int, _ os.FileMode) (*os.File, error) {
	flag := os.O_RDWR
	if o.readOnly {
		flag = os.O_RDONLY
	}
	created := false
	f, err := os.OpenFile(name, flag, 0)
	if errors.Is(err, fs.ErrNotExist) && o.readOnly {
		return nil, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		created = err == nil
		if errors.Is(err, fs.ErrExist) { // lost a race with another creator
			f, err = os.OpenFile(name, flag, 0)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := o.check(f, created); err != nil {
		_ = f.Close()
		return nil, err
	}
	if replaced(name, f) && o.retries < maxReopen {
		// The file was renamed over (a restore) while this process waited
		// for the lock: the lock and the data are those of the old file.
		_ = f.Close()
		o.retries++
		return o.openFile(name, 0, 0)
	}
	o.file = f
	return f, nil
}

// maxReopen bounds how often openFile follows a file renamed over while it
// waited for the lock.
const maxReopen = 3

// replaced reports whether name no longer refers to the open file f.
func replaced(name string, f *os.File) bool {
	a, err := os.Stat(name)
	if err != nil {
		return true
	}
	b, err := f.Stat()
	return err != nil || !os.SameFile(a, b)
}

func (o *opener) check(f *os.File, created bool) error {
	if err := o.lock(f, !o.readOnly); err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := checkPerm(f.Name(), info); err != nil {
		return err
	}
	switch {
	case info.Size() == 0 && created:
		return nil
	case info.Size() == 0:
		return fmt.Errorf("empty file: %w", ErrCorrupt)
	}
	m, err := readLayout(f, info.Size())
	if err == nil && (o.fullWalk || info.Size() <= openWalkLimit) {
		if data, unmap := mapFile(f, info.Size()); data != nil {
			err = walkMapped(data, m)
			unmap()
		} else {
			err = walkFile(f, m)
		}
	}
	return err
}

// checkPerm refuses an inventory that group or others may write, or that
// sits in a directory they may write: another user could then rewrite or
// replace the record of what the CA issued.
func checkPerm(name string, info fs.FileInfo) error {
	if m := info.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o; run chmod go-w %s): %w", name, m, name, ErrPermissions)
	}
	dir := filepath.Dir(name)
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if m := di.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %04o; run chmod go-w %s): %w", dir, m.Perm(), dir, ErrPermissions)
	}
	return nil
}

// init creates the buckets of a new inventory, or checks the schema and
// buckets of an existing one.
func (s *Store) init() error {
	fresh := false
	err := s.view(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(bucketMeta) == nil
		if fresh {
			return checkForeign(tx)
		}
		return checkSchema(tx)
	})
	if err != nil || !fresh {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("%w: no schema version: not an inventory", ErrSchema)
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		return meta.Put(keyRecords, u64(0))
	})
}

// checkForeign refuses a bbolt database that holds buckets but no schema.
func checkForeign(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		return fmt.Errorf("%w: bucket %q but no schema version: not an inventory", ErrSchema, name)
	})
}

func checkSchema(tx *bolt.Tx) error {
	v := tx.Bucket(bucketMeta).Get(keySchema)
	switch {
	case v == nil:
		return fmt.Errorf("%w: no schema version", ErrSchema)
	case len(v) != 4:
		return fmt.Errorf("schema version %x: %w", v, ErrCorrupt)
	case binary.BigEndian.Uint32(v) > SchemaVersion:
		return fmt.Errorf("%w: version %d is newer than %d; upgrade daskca", ErrSchema, binary.BigEndian.Uint32(v), SchemaVersion)
	case binary.BigEndian.Uint32(v) < 1:
		return fmt.Errorf("schema version 0: %w", ErrCorrupt)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %s missing: %w", name, ErrCorrupt)
		}
	}
	return nil
}

// Close releases the file and its locks. Calling it again returns nil.
func (s *Store) Close() error {
	err := s.db.Close()
	s.wmu.Lock()
	closeFile(s.wlock)
	s.wlock = nil
	s.wmu.Unlock()
	return err
}

// Path is the file the Store was opened from.
func (s *Store) Path() string { return s.path }

// view runs a read transaction, turning bbolt panics and memory faults on a
// damaged file into ErrCorrupt.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return guarded(func() error { return s.db.View(fn) })
}

// update runs one write transaction: everything fn did commits or nothing.
// It holds the inventory file's flock exclusively while it runs, waiting
// for readers of other processes to close, and shared again after it.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wlock == nil {
		return ErrClosed
	}
	if err := exclusiveLock(s.file); err != nil {
		return fmt.Errorf("locking %s for a write: %w", s.path, err)
	}
	err := guarded(func() error { return s.db.Update(fn) })
	if serr := shareLock(s.file); err == nil && serr != nil {
		err = fmt.Errorf("sharing the lock of %s: %w", s.path, serr)
	}
	return err
}

// userPanic carries a panic out of a caller's callback untouched by guarded.
type userPanic struct{ v any }

func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if up, ok := r.(userPanic); ok {
				panic(up.v)
			}
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	err = fn()
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return ErrClosed
	case errors.Is(err, berrors.ErrDatabaseReadOnly):
		return ErrReadOnly
	}
	return err
}

// callback calls a caller's fn so that its panics pass through guarded.
func callback[T any](fn func(T) error, v T) error {
	defer func() {
		if r := recover(); r != nil {
			panic(userPanic{r})
		}
	}()
	return fn(v)
}

// clone copies a value out of a transaction.
func clone(b []byte) []byte { return bytes.Clone(b) }
