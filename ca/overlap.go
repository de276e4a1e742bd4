package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/internal/fsutil"
)

// OverlapFile is the optional file of a CA directory naming the roots that
// are trusted alongside the CA's own while a CA rotation is under way:
// during the overlap every bundle written holds the old and the new root, so
// endpoints holding a leaf of either CA keep trusting each other.
const OverlapFile = "overlap.pem"

// BundleOf returns the PEM trust bundle holding roots, in order, each once
// (by fingerprint). It is the one place a trust bundle's bytes are made.
func BundleOf(roots ...*x509.Certificate) []byte {
	var out []byte
	seen := map[string]bool{}
	for _, r := range roots {
		if r == nil || seen[Fingerprint(r)] {
			continue
		}
		seen[Fingerprint(r)] = true
		out = append(out, certPEM(r)...)
	}
	return out
}

// Roots returns the trust anchors of the CA: its root, then the overlap
// roots. The slice is new on every call.
func (a *Authority) Roots() []*x509.Certificate {
	return append([]*x509.Certificate{a.Root}, a.Overlap...)
}

// WriteOverlap records roots as trusted alongside the CA in dir (see
// OverlapFile); with no roots it removes the file. The file is written
// atomically, so loading the CA sees the old or the new overlap, never part.
func WriteOverlap(dir string, roots ...*x509.Certificate) error {
	path := filepath.Join(dir, OverlapFile)
	if len(roots) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the overlap of %s: %w", dir, err)
		}
		return fsutil.SyncDir(dir)
	}
	for _, r := range roots {
		if err := r.CheckSignatureFrom(r); err != nil || !r.IsCA {
			return fmt.Errorf("overlap of %s: %q is not a self-signed CA certificate: %w", dir, r.Subject, ErrBadTemplate)
		}
	}
	return fsutil.WriteFile(path, BundleOf(roots...), 0o644)
}

// loadOverlap reads OverlapFile of dir; a missing file is no overlap.
func loadOverlap(dir string) ([]*x509.Certificate, error) {
	data, err := readFile(dir, OverlapFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	roots, err := parseRoots(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", OverlapFile, err, ErrCorrupt)
	}
	return roots, nil
}

// parseRoots reads PEM certificates that must all be self-signed CAs.
func parseRoots(data []byte) ([]*x509.Certificate, error) {
	var roots []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := parseCertPEM(pem.EncodeToMemory(block))
		if err != nil {
			return nil, err
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			return nil, fmt.Errorf("%q is not self-signed: %v", c.Subject, err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("want one or more PEM CERTIFICATE blocks and nothing else")
	}
	return roots, nil
}
