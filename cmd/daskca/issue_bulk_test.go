package main

import (
	"strings"
	"testing"
)

// TestBulkRerunNeedsNoKey re-runs a bulk issue whose every request is
// skipped with a wrong CA password: with nothing to sign the CA key is not
// decrypted, so the run succeeds; a run with something to sign still
// needs the right password.
func TestBulkRerunNeedsNoKey(t *testing.T) {
	t.Parallel()
	h := newBinHome(t, buildDaskca(t))
	hosts := []string{"issue", "worker", "--hosts", "node[1-5].dask.internal"}
	h.mustRun(t, hosts...)
	wrong := h
	wrong.pw = "not-the-password"
	if out := wrong.mustRun(t, hosts...); !strings.Contains(out, "issued 0 certificates, skipped 5") {
		t.Errorf("re-run: %q", out)
	}
	more := []string{"issue", "worker", "--hosts", "node[1-6].dask.internal"}
	if code, out, errOut := wrong.run(more...); code == 0 {
		t.Errorf("a run that signs succeeded with a wrong password: %s%s", out, errOut)
	}
	if out := h.mustRun(t, more...); !strings.Contains(out, "issued 1 certificates, skipped 5") {
		t.Errorf("run with one new host: %q", out)
	}
}
