package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/issue"
)

// The helpers of the tests that run the real daskca binary in separate
// processes: crash_test.go and concurrency_test.go.

// built is the daskca binary, made once per test process by buildDaskca
// and shared by every test that runs it (a link takes seconds); TestMain
// removes it after the tests.
var built struct {
	sync.Mutex
	dir, bin string
	err      error
}

// buildDaskca returns the daskca binary, building it on first use. Tests
// run it and must not change it.
func buildDaskca(t *testing.T) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.bin == "" && built.err == nil {
		built.dir, built.err = os.MkdirTemp("", "daskca-test-bin-")
		if built.err == nil {
			bin := filepath.Join(built.dir, "daskca")
			if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build: %v\n%s", err, out)
			} else {
				built.bin = bin
			}
		}
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// removeBuilt removes the binary buildDaskca made, if any.
func removeBuilt() {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}

// binHome is a home driven through the daskca binary.
type binHome struct {
	bin, dir, pw string
}

// command returns the daskca command for args, with the home and the
// password in its environment.
func (h binHome) command(args ...string) *exec.Cmd {
	c := exec.Command(h.bin, args...)
	c.Env = append(os.Environ(), "DASKCA_HOME="+h.dir, "DASKCA_PASSWORD="+h.pw)
	return c
}

// run runs daskca to the end and returns its exit code and output.
func (h binHome) run(args ...string) (code int, stdout, stderr string) {
	c := h.command(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func (h binHome) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := h.run(args...)
	if code != 0 {
		t.Fatalf("daskca %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// records lists the inventory through daskca list -o json.
func (h binHome) records(t *testing.T) []issue.Info {
	t.Helper()
	var recs []issue.Info
	if err := json.Unmarshal([]byte(h.mustRun(t, "list", "-o", "json")), &recs); err != nil {
		t.Fatalf("list -o json: %v", err)
	}
	return recs
}

// checkConsistent checks a home the way the crash and concurrency tests
// require after any interruption: daskca inventory check passes; serials
// are unique; every active certificate's files are its own (the
// certificate file starts with the recorded serial and the key file holds
// its key) or, while its pending directory exists (an interrupted issue
// or renewal that a re-run finishes; for a new endpoint, beside the
// endpoint directories), the new files in the pending
// directory and in place make its pair; no file under certs/ is cut short; no key is without its
// certificate. With strict, no pending directory may remain either.
func (h binHome) checkConsistent(t *testing.T, strict bool) []issue.Info {
	t.Helper()
	if code, out, errOut := h.run("inventory", "check"); code != 0 {
		t.Fatalf("inventory check: exit %d\n%s%s", code, out, errOut)
	}
	recs := h.records(t)
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Serial] {
			t.Errorf("serial %s listed twice", r.Serial)
		}
		seen[r.Serial] = true
		if r.Status == "active" {
			h.checkActive(t, r, strict)
		}
	}
	h.checkAllFiles(t)
	return recs
}

func (h binHome) checkActive(t *testing.T, r issue.Info, strict bool) {
	t.Helper()
	dir := filepath.Join(h.dir, "certs", r.Role, r.Name)
	pending := filepath.Join(dir, ".pending-"+r.Serial)
	if _, err := os.Stat(pending); err != nil {
		// A new endpoint's files wait beside the endpoint directories.
		pending = filepath.Join(h.dir, "certs", r.Role, ".pending-"+r.Serial)
	}
	// A replacement's files wait in the run's staging directory, named
	// SERIAL.FILE.
	if staged, _ := filepath.Glob(filepath.Join(h.dir, "certs", ".staging-*", r.Serial+".*")); len(staged) > 0 {
		if strict {
			t.Errorf("%s/%s: staged files left after a complete run", r.Role, r.Name)
		}
		stagedOr := func(name string) string {
			p := filepath.Join(filepath.Dir(staged[0]), r.Serial+"."+name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			return filepath.Join(dir, name)
		}
		if err := matchPair(stagedOr("cert.pem"), stagedOr("key.pem"), r.Serial); err != nil {
			t.Errorf("%s/%s: staged files: %v", r.Role, r.Name, err)
		}
		return
	}
	if _, err := os.Stat(pending); err == nil {
		if strict {
			t.Errorf("%s/%s: pending directory left after a complete run", r.Role, r.Name)
		}
		// Files are renamed out of the pending directory one by one: the
		// new pair is what is left there plus what was already placed.
		if err := matchPair(newer(pending, dir, "cert.pem"), newer(pending, dir, "key.pem"), r.Serial); err != nil {
			t.Errorf("%s/%s: pending files: %v", r.Role, r.Name, err)
		}
		return
	}
	if err := matchPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), r.Serial); err != nil {
		t.Errorf("%s/%s: %v", r.Role, r.Name, err)
	}
}

// newer is pending/name if it is still there, else dir/name.
func newer(pending, dir, name string) string {
	if _, err := os.Stat(filepath.Join(pending, name)); err == nil {
		return filepath.Join(pending, name)
	}
	return filepath.Join(dir, name)
}

// matchPair checks that certFile starts with the certificate of serial and
// keyFile holds its key.
func matchPair(certFile, keyFile, serial string) error {
	certs, err := readCerts(certFile)
	if err != nil {
		return err
	}
	if got := certs[0].SerialNumber.Text(16); got != serial {
		return fmt.Errorf("%s holds serial %s, the record %s", certFile, got, serial)
	}
	key, err := pemutil.Read(keyFile)
	if err != nil {
		return fmt.Errorf("%s: %w", keyFile, err)
	}
	if err := keyutil.VerifyPair(certs[0].PublicKey, key); err != nil {
		return fmt.Errorf("%s does not hold the key of %s", keyFile, certFile)
	}
	return nil
}

// readCerts reads a file that must hold only complete PEM certificates.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 || len(bytes.TrimSpace(data)) != 0 {
		return nil, fmt.Errorf("%s is cut short or holds more than certificates", path)
	}
	return out, nil
}

// checkAllFiles checks every visible file under certs/: certificates and
// keys parse completely, and every key has its certificate beside it.
func (h binHome) checkAllFiles(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(h.dir, "certs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") { // temporary and pending files: not in use
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case "cert.pem", "ca.pem":
			_, err = readCerts(p)
		case "key.pem":
			if _, err = pemutil.Read(p); err == nil {
				_, err = os.Stat(filepath.Join(filepath.Dir(p), "cert.pem"))
			}
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}
