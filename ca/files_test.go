package ca

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var testPassword = []byte("correct horse battery staple")

func mustSave(t *testing.T, a *Authority, password []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := a.Save(dir, password); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return dir
}

func mustLoad(t *testing.T, dir string, password []byte) *Authority {
	t.Helper()
	a, err := Load(dir, password)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return a
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kt := range []KeyType{ECP256, Ed25519, RSA2048} {
		for _, inter := range []bool{false, true} {
			t.Run(string(kt)+map[bool]string{false: "/root", true: "/intermediate"}[inter], func(t *testing.T) {
				a := mustNew(t, Options{Name: "Acme", KeyType: kt, Intermediate: inter, TrustDomain: testTrustDomain,
					Now: func() time.Time { return testNow }})
				dir := mustSave(t, a, testPassword)
				checkModes(t, dir)
				b := mustLoad(t, dir, testPassword)
				if !b.Root.Equal(a.Root) || !b.RootKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(a.RootKey.Public()) ||
					b.TrustDomain != testTrustDomain || b.Insecure || !b.created.Equal(testNow) {
					t.Errorf("loaded CA differs: %+v", b)
				}
				if inter && (!b.Intermediate.Equal(a.Intermediate) || KeyTypeOf(b.IntermediateKey) != kt) {
					t.Error("loaded intermediate differs")
				}
				key := mustKey(t, ECP256)
				tmpl := leafTemplate(key.Public(), "w1", nil, nil)
				tmpl.NotBefore, tmpl.NotAfter = testNow, testNow.Add(time.Hour)
				leaf := mustSign(t, b, tmpl, key.Public())
				if err := leaf.CheckSignatureFrom(a.Issuer()); err != nil {
					t.Errorf("loaded CA signs with another key: %v", err)
				}
				p, err := LoadPublic(dir)
				if err != nil || p.RootKey != nil || p.IntermediateKey != nil || !p.Root.Equal(a.Root) || p.Insecure {
					t.Errorf("LoadPublic = %+v, %v", p, err)
				}
				if enc, err := IsEncrypted(dir); !enc || err != nil {
					t.Errorf("IsEncrypted = %t, %v; want true", enc, err)
				}
			})
		}
	}
}

// checkModes checks the CA directory is 0700, keys 0600 and nothing is
// writable by others, with no temporary files left.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(e.Name()) {
		case ".key":
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
		case ".crt", ".json":
			if fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("%s mode %v is writable by others", e.Name(), fi.Mode().Perm())
			}
		default:
			t.Errorf("unexpected file %s", e.Name())
		}
	}
}

func TestSaveRefuses(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	dir := mustSave(t, a, testPassword)
	before, _ := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if err := a.Save(dir, testPassword); !errors.Is(err, ErrExists) {
		t.Errorf("second Save: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if !bytes.Equal(before, after) {
		t.Error("refused Save changed root.key")
	}
	// Any one CA file in the way is enough.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, MetadataFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(other, testPassword); !errors.Is(err, ErrExists) {
		t.Errorf("Save over ca.json: %v, want ErrExists", err)
	}
	for _, pw := range [][]byte{nil, {}} {
		if err := a.Save(filepath.Join(t.TempDir(), "ca"), pw); !errors.Is(err, ErrNoPassword) {
			t.Errorf("Save(%q): %v, want ErrNoPassword", pw, err)
		}
	}
	insecure := *a
	insecure.Insecure = true
	if err := insecure.Save(filepath.Join(t.TempDir(), "ca"), testPassword); err == nil {
		t.Error("Save of an insecure CA with a password succeeded")
	}
	noKey := *a
	noKey.IntermediateKey = nil
	if err := noKey.Save(filepath.Join(t.TempDir(), "ca"), testPassword); !errors.Is(err, ErrNoKey) {
		t.Errorf("Save without intermediate key: %v, want ErrNoKey", err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	dir := mustSave(t, a, testPassword)
	if _, err := Load(dir, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v, want ErrWrongPassword", err)
	}
	if _, err := Load(dir, nil); !errors.Is(err, ErrNoPassword) {
		t.Errorf("no password: %v, want ErrNoPassword", err)
	}
	for _, missing := range []string{filepath.Join(t.TempDir(), "nope"), t.TempDir()} {
		if _, err := Load(missing, testPassword); !errors.Is(err, ErrNotInitialized) {
			t.Errorf("Load(%s): %v, want ErrNotInitialized", missing, err)
		}
		if _, err := IsEncrypted(missing); !errors.Is(err, ErrNotInitialized) {
			t.Errorf("IsEncrypted(%s): %v, want ErrNotInitialized", missing, err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"key of another CA", func(t *testing.T, dir string) {
			other := mustSave(t, fixtureCA(t, ECP256, false), testPassword)
			copyFile(t, filepath.Join(other, RootKeyFile), filepath.Join(dir, RootKeyFile))
		}},
		{"root replaced", func(t *testing.T, dir string) {
			other := mustSave(t, fixtureCA(t, ECP256, false), testPassword)
			copyFile(t, filepath.Join(other, RootCertFile), filepath.Join(dir, RootCertFile))
		}},
		{"intermediate missing", func(t *testing.T, dir string) { mustRemove(t, filepath.Join(dir, IntermediateCertFile)) }},
		{"metadata missing", func(t *testing.T, dir string) { mustRemove(t, filepath.Join(dir, MetadataFile)) }},
		{"metadata garbage", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, MetadataFile), "{\"version\":2}") }},
		{"key garbage", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, IntermediateKeyFile), "not pem") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustSave(t, a, testPassword)
			tt.damage(t, d)
			if _, err := Load(d, testPassword); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Load: %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("writable by others", func(t *testing.T) {
		d := mustSave(t, a, testPassword)
		if err := os.Chmod(filepath.Join(d, RootCertFile), 0o666); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(d, testPassword); err == nil {
			t.Error("Load accepted a world-writable root.crt")
		}
	})
}

func TestInsecure(t *testing.T) {
	t.Parallel()
	a := *fixtureCA(t, ECP384, true)
	a.Insecure = true
	dir := mustSave(t, &a, nil)
	checkModes(t, dir)
	b := mustLoad(t, dir, nil)
	if !b.Insecure || b.IntermediateKey == nil {
		t.Errorf("loaded insecure CA: Insecure=%t key=%v", b.Insecure, b.IntermediateKey)
	}
	if enc, err := IsEncrypted(dir); enc || err != nil {
		t.Errorf("IsEncrypted = %t, %v; want false", enc, err)
	}
	// ChangePassword encrypts an insecure CA.
	if err := ChangePassword(dir, nil, testPassword); err != nil {
		t.Fatal(err)
	}
	if enc, _ := IsEncrypted(dir); !enc {
		t.Error("still unencrypted after ChangePassword")
	}
	if c := mustLoad(t, dir, testPassword); c.Insecure {
		t.Error("Insecure after ChangePassword")
	}
	checkModes(t, dir)
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	dir := mustSave(t, a, testPassword)
	newPw := []byte("another password")
	if err := ChangePassword(dir, []byte("wrong"), newPw); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("ChangePassword with wrong old password: %v", err)
	}
	if err := ChangePassword(dir, testPassword, nil); !errors.Is(err, ErrNoPassword) {
		t.Errorf("ChangePassword to empty: %v, want ErrNoPassword", err)
	}
	if err := ChangePassword(dir, testPassword, newPw); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, testPassword); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("old password still works: %v", err)
	}
	b := mustLoad(t, dir, newPw)
	if !b.Root.Equal(a.Root) || !b.Intermediate.Equal(a.Intermediate) || !b.created.Equal(a.created) {
		t.Error("ChangePassword changed the CA")
	}
	checkModes(t, dir)
}

func TestForgetRootKey(t *testing.T) {
	t.Parallel()
	a := fixtureCA(t, ECP256, true)
	dir := mustSave(t, a, testPassword)
	exported, err := a.ExportRootKey([]byte("offline"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := ForgetRootKey(dir); err != nil {
			t.Fatalf("ForgetRootKey: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RootKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("root.key still there: %v", err)
	}
	b := mustLoad(t, dir, testPassword)
	if b.RootKey != nil || b.IntermediateKey == nil {
		t.Fatalf("after forgetting: RootKey=%v IntermediateKey=%v", b.RootKey, b.IntermediateKey)
	}
	key := mustKey(t, ECP256)
	mustSign(t, b, leafTemplate(key.Public(), "w1", nil, nil), key.Public())
	if _, err := b.ExportRootKey([]byte("x")); !errors.Is(err, ErrNoKey) {
		t.Errorf("ExportRootKey without root key: %v", err)
	}
	// The exported key is the root key, under its own password.
	k, enc, err := decodeKey(exported, []byte("offline"))
	if err != nil || !enc || !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(a.Root.PublicKey) {
		t.Errorf("exported key: %v, encrypted=%t", err, enc)
	}
	if _, err := a.ExportRootKey(nil); !errors.Is(err, ErrNoPassword) {
		t.Errorf("ExportRootKey(nil): %v", err)
	}
	rootOnly := mustSave(t, fixtureCA(t, ECP256, false), testPassword)
	if err := ForgetRootKey(rootOnly); !errors.Is(err, ErrNoIntermediate) {
		t.Errorf("ForgetRootKey without intermediate: %v, want ErrNoIntermediate", err)
	}
	if _, err := os.Stat(filepath.Join(rootOnly, RootKeyFile)); err != nil {
		t.Errorf("refused ForgetRootKey removed the key: %v", err)
	}
	// A root-only CA whose root key is gone cannot load.
	mustRemove(t, filepath.Join(rootOnly, RootKeyFile))
	if _, err := Load(rootOnly, testPassword); err == nil {
		t.Error("Load of a root-only CA without root.key succeeded")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, to, string(data))
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeKey(f *testing.F) {
	key, err := GenerateKey(Ed25519)
	if err != nil {
		f.Fatal(err)
	}
	plain, _ := encodeKey(key, nil, 0)
	f.Add(plain)
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, _, err := decodeKey(data, []byte("pw"))
		if err == nil && KeyTypeOf(k) == "" {
			t.Fatalf("decodeKey accepted a %T", k)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(`{"version":1,"trust_domain":"td","insecure":false,"created":"2026-01-01T00:00:00Z","key_type":"ec-p256","intermediate":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := parseMetadata(data); err == nil && m.Version != metadataVersion {
			t.Fatalf("accepted version %d", m.Version)
		}
	})
}

func FuzzParseCertPEM(f *testing.F) {
	a, err := New(Options{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM(a.Root))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := parseCertPEM(data); err == nil && !c.IsCA {
			t.Fatal("accepted a non-CA certificate")
		}
	})
}
