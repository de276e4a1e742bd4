package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOverlapBundle(t *testing.T) {
	t.Parallel()
	pw := []byte("pw")
	a := mustNew(t, Options{Name: "Old CA", Intermediate: true})
	b := mustNew(t, Options{Name: "New CA"})
	dir := mustSave(t, a, pw)
	if got := mustLoad(t, dir, pw); got.Overlap != nil || !bytes.Equal(got.BundlePEM(), certPEM(a.Root)) {
		t.Fatalf("without overlap: %d overlap roots, bundle %q", len(got.Overlap), got.BundlePEM())
	}
	if err := WriteOverlap(dir, b.Root); err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, dir, pw)
	want := got.BundlePEM()
	if !bytes.Equal(want, BundleOf(a.Root, b.Root)) && !bytes.Equal(want, BundleOf(b.Root, a.Root)) {
		t.Errorf("overlap bundle = %q, want both roots", want)
	}
	// The same bytes when the new CA signs and trusts the old one: a
	// rotation moving signing from one root to the other rewrites no
	// endpoint's bundle.
	swapped := *b
	swapped.Overlap = []*x509.Certificate{a.Root}
	if !bytes.Equal(swapped.BundlePEM(), want) {
		t.Errorf("the new CA's bundle with the old root as overlap = %q, want %q", swapped.BundlePEM(), want)
	}
	pub, err := LoadPublic(dir)
	if err != nil || !bytes.Equal(pub.BundlePEM(), want) {
		t.Errorf("LoadPublic bundle differs: %v", err)
	}
	if err := WriteOverlap(dir); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, dir, pw); got.Overlap != nil {
		t.Error("overlap not removed")
	}
	if err := WriteOverlap(dir); err != nil {
		t.Errorf("removing a missing overlap: %v", err)
	}
	if err := WriteOverlap(dir, a.Intermediate); !errors.Is(err, ErrBadTemplate) {
		t.Errorf("an intermediate as overlap root: %v, want ErrBadTemplate", err)
	}
	if got := BundleOf(a.Root, b.Root, a.Root, nil); !bytes.Equal(got, append(certPEM(a.Root), certPEM(b.Root)...)) {
		t.Error("BundleOf does not drop duplicates and nils")
	}
}

func TestOverlapCorrupt(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, false)
	dir := mustSave(t, a, []byte("pw"))
	for name, data := range map[string][]byte{
		"empty":         {},
		"garbage":       []byte("not pem"),
		"trailing junk": append(certPEM(a.Root), "junk"...),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, OverlapFile), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadPublic(dir); !errors.Is(err, ErrCorrupt) {
				t.Errorf("LoadPublic = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzParseRoots(f *testing.F) {
	a := mustNew(f, Options{Name: "Fuzz CA", Intermediate: true})
	f.Add(certPEM(a.Root))
	f.Add(append(certPEM(a.Root), certPEM(a.Intermediate)...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		roots, err := parseRoots(data)
		if err != nil {
			return
		}
		if len(roots) == 0 {
			t.Fatal("no roots and no error")
		}
		for _, r := range roots {
			if !r.IsCA || r.CheckSignatureFrom(r) != nil {
				t.Fatalf("accepted %q, not a self-signed CA", r.Subject)
			}
		}
		again, err := parseRoots(BundleOf(roots...))
		if err != nil || len(again) > len(roots) {
			t.Fatalf("bundle of parsed roots does not parse: %v", err)
		}
	})
}
