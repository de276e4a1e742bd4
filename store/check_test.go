package store_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
	bolt "go.etcd.io/bbolt"
)

func TestCheckFindsTampering(t *testing.T) {
	t.Parallel()
	events, meta, certs := []byte("events"), []byte("meta"), []byte("certs")
	tests := []struct {
		name  string
		edit  func(*bolt.Tx) error
		where string // a problem must name this bucket
	}{
		{"event detail changed", func(tx *bolt.Tx) error {
			b := tx.Bucket(events)
			k := binary.BigEndian.AppendUint64(nil, 2)
			v := bytes.Clone(b.Get(k))
			i := bytes.Index(v, []byte("test"))
			copy(v[i:], "TEST")
			return b.Put(k, v)
		}, "events"},
		{"event removed from the middle", func(tx *bolt.Tx) error {
			return tx.Bucket(events).Delete(binary.BigEndian.AppendUint64(nil, 2))
		}, "events"},
		{"last event removed", func(tx *bolt.Tx) error {
			c := tx.Bucket(events).Cursor()
			k, _ := c.Last()
			return tx.Bucket(events).Delete(k)
		}, "meta"},
		{"event swapped", func(tx *bolt.Tx) error {
			b := tx.Bucket(events)
			k1, k2 := binary.BigEndian.AppendUint64(nil, 1), binary.BigEndian.AppendUint64(nil, 2)
			v1, v2 := bytes.Clone(b.Get(k1)), bytes.Clone(b.Get(k2))
			if err := b.Put(k1, v2); err != nil {
				return err
			}
			return b.Put(k2, v1)
		}, "events"},
		{"index entry removed", func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte("idx.expiry")).Cursor()
			k, _ := c.First()
			return tx.Bucket([]byte("idx.expiry")).Delete(k)
		}, "idx.expiry"},
		{"dangling index entry", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("idx.name")).Put([]byte("ghost\x00012345678901\x01\x09"), []byte{})
		}, "idx.name"},
		{"record garbled", func(tx *bolt.Tx) error {
			c := tx.Bucket(certs).Cursor()
			k, _ := c.First()
			return tx.Bucket(certs).Put(k, []byte{1, 99, 1, 'x'})
		}, "certs"},
		{"record moved to another serial", func(tx *bolt.Tx) error {
			c := tx.Bucket(certs).Cursor()
			_, v := c.First()
			return tx.Bucket(certs).Put([]byte{1, 0xee}, bytes.Clone(v))
		}, "certs"},
		{"record count", func(tx *bolt.Tx) error {
			return tx.Bucket(meta).Put([]byte("records"), binary.BigEndian.AppendUint64(nil, 7))
		}, "meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newStore(t)
			mustFill(t, s, 50, 1)
			mustCheckOK(t, s)
			s.Close()
			boltUpdate(t, path, tt.edit)
			s = mustOpen(t, path, store.Options{ReadOnly: true})
			rep, err := s.Check()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || p.Where == tt.where
			}
			if !found {
				t.Errorf("Check problems %v name no %s", rep.Problems, tt.where)
			}
			s.Close()
			wantErr(t, store.VerifyFile(path), store.ErrCorrupt)
		})
	}
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustIssue(t, s, rec("a", "worker", "w", t0), "")
	mustIssue(t, s, rec("b", "worker", "w", t0), "a")
	evs := mustEvents(t, s)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	prev := ""
	for i, e := range evs {
		if e.Seq != uint64(i+1) || e.PrevHash != prev || len(e.Hash) != 64 || e.Actor != "test" {
			t.Errorf("event %d: %+v", i, e)
		}
		prev = e.Hash
	}
	seq, hash, err := s.AuditHead()
	if err != nil || seq != 3 || hash != prev {
		t.Errorf("AuditHead = %d %s %v", seq, hash, err)
	}
}

func TestBackupVerify(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustFill(t, s, 500, 2)
	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
	}
	copyPath := writeFile(t, buf.Bytes())
	if err := store.VerifyFile(copyPath); err != nil {
		t.Fatalf("VerifyFile(backup): %v", err)
	}
	c := mustOpen(t, copyPath, store.Options{ReadOnly: true})
	if got, _ := c.Count(); got != 500 {
		t.Errorf("backup holds %d records", got)
	}

	dst := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(dst); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dst); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v", info, err)
	}
	if err := store.VerifyFile(dst); err != nil {
		t.Errorf("VerifyFile(BackupFile): %v", err)
	}
	_, err = s.BackupFile(dst)
	wantErr(t, err, store.ErrExists)
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("backup directory holds %d entries, want only the backup", len(entries))
	}
}

func TestVerifyFileErrorNamesProblem(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	mustPut(t, s, rec("a", "worker", "w", t0.Add(time.Hour)))
	s.Close()
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("records"), binary.BigEndian.AppendUint64(nil, 2))
	})
	err := store.VerifyFile(path)
	wantErr(t, err, store.ErrCorrupt)
	if !strings.Contains(err.Error(), "records") {
		t.Errorf("error %q does not name the problem", err)
	}
}
