package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// The interop proofs of daskca run and daskca probe on real Dask, with
// certificates issued by daskca, on every Dask runtime present (the host's
// 2022.12 and the trixie chroot's 2024.12).

// foreignClient makes a client of another CA, in its own home under dir,
// whose configuration trusts both CAs and any role, so that only the
// server's check of the client certificate can fail. It returns the
// configuration file and the client's certificate and key.
func foreignClient(t *testing.T, dir, ourCA string) (config, cert, key string) {
	t.Helper()
	other := newRunHome(t, dir, "Unrelated CA")
	cert, key, otherCA := other.files("client", "alice")
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, append(mustReadFile(t, ourCA), mustReadFile(t, otherCA)...), 0o644); err != nil {
		t.Fatal(err)
	}
	y := strings.ReplaceAll(mustCLI(t, other.home, "config", "alice", "--format", "yaml"), otherCA, bundle)
	config = filepath.Join(dir, "foreign.yaml")
	if err := os.WriteFile(config, []byte(y+"daskca:\n  role-policy: dask\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return config, cert, key
}

func TestProbeRealDaskScheduler(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			h := newRunHome(t, rt.TempDir(t), "Probe Dask CA")
			cert, key, ca := h.files("scheduler", "sched")
			dask := rt.StartScheduler(t, dasktest.SchedulerOptions{Args: []string{
				"--tls-ca-file", rt.Path(t, ca), "--tls-cert", rt.Path(t, cert), "--tls-key", rt.Path(t, key)}})

			code, res, stderr := probeJSON(t, h.home, dask.Addr, h.config("alice"))
			if code != 0 {
				t.Fatalf("probe of real Dask: exit %d: %v %s", code, res, stderr)
			}
			id, _ := res["identity"].(map[string]any)
			chain, _ := res["peer_chain"].([]any)
			leaf, _ := chain[0].(map[string]any)
			if id["type"] != "Scheduler" || !strings.HasPrefix(id["id"].(string), "Scheduler-") || id["address"] != dask.Addr ||
				leaf["role"] != "scheduler" || leaf["serial"] != h.serial(t, "sched") {
				t.Errorf("probe result = %v", res)
			}
			t.Logf("Dask %s answered: %v, handshake %v", rt.Version, id, res["dask_handshake"])

			foreign, _, _ := foreignClient(t, t.TempDir(), ca)
			before := dask.CountLines(dasktest.LogTLSHandshakeFailed)
			code, res, _ = probeJSON(t, h.home, dask.Addr, foreign)
			if e, _ := res["error"].(string); code != 2 || !strings.Contains(e, "the peer rejected our certificate") {
				t.Errorf("probe with a foreign certificate: exit %d, %v", code, res)
			}
			waitForCount(t, dask, dasktest.LogTLSHandshakeFailed, before+1)
		})
	}
}

func TestRealDaskRPCOnRunScheduler(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			h := newRunHome(t, rt.TempDir(t), "Run Dask CA")
			sched, addr := startRunScheduler(t, h.bin, h.config("sched"))
			startRunWorker(t, h.bin, addr, h.config("w1"))
			sched.waitLine(t, "worker registered", "name=w1")

			cert, key, ca := h.files("client", "alice")
			env := []string{"CA=" + rt.Path(t, ca), "CERT=" + rt.Path(t, cert), "KEY=" + rt.Path(t, key), "ADDR=" + addr}
			out, err := rt.RunPython(t, dasktest.RPCIdentityScript, env, 90*time.Second)
			if err != nil {
				t.Fatalf("Dask rpc identity on daskca run scheduler: %v", err)
			}
			var got struct {
				Type, ID, Address string
				Workers           []string
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			if got.Type != "Scheduler" || !strings.HasPrefix(got.ID, "Scheduler-") || got.Address != addr || len(got.Workers) != 1 {
				t.Errorf("Dask %s read %+v", rt.Version, got)
			}
			sched.waitLine(t, "msg=connection", "role=client", "name=alice", "serial="+h.serial(t, "alice"))

			dir := rt.TempDir(t)
			_, fcert, fkey := foreignClient(t, dir, ca)
			env = []string{"CA=" + rt.Path(t, ca), "CERT=" + rt.Path(t, fcert), "KEY=" + rt.Path(t, fkey), "ADDR=" + addr}
			if out, err := rt.RunPython(t, dasktest.RPCIdentityScript, env, 90*time.Second); err == nil {
				t.Fatalf("a Dask client with a certificate from another CA read the identity: %s", out)
			}
			sched.waitLine(t, "connection refused", "unknown authority")
		})
	}
}
