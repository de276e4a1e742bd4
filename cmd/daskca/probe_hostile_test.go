package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// hostileListener listens with the certificate of the home's endpoint name
// (of role) and answers every request with frames.
func hostileListener(t *testing.T, h runHome, name string, role identity.Role, frames [][]byte) string {
	t.Helper()
	cfg, err := daskconfig.LoadFile(h.config(name))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, role, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := transport.Listen(context.Background(), "tls://127.0.0.1:0", sec.ServerConfig(), func(c *wire.Comm) {
		for {
			if _, err := c.Read(context.Background()); err != nil {
				return
			}
			if err := c.WriteFrames(context.Background(), frames); err != nil {
				return
			}
		}
	}, transport.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr()
}

// TestProbeHostileEndpoint probes an endpoint with a valid scheduler
// certificate that answers identity with 8 MiB of empty maps (512 MiB
// once decoded): probe fails (exit 2) and says why, instead of growing
// and reporting ok.
func TestProbeHostileEndpoint(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Probe Hostile CA")
	n := 8<<20 - 5
	bomb := append(binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(n)), bytes.Repeat([]byte{0x80}, n)...)
	addr := hostileListener(t, h, "sched", identity.Scheduler, [][]byte{bomb})
	code, res, stderr := probeJSON(t, h.home, addr, h.config("alice"))
	if code != probeFailed || res["status"] != "failed" || res["stage"] != "identity" {
		t.Fatalf("exit %d, result %v, stderr %q; want exit 2, failed at identity", code, res, stderr)
	}
	if e, _ := res["error"].(string); !strings.Contains(e, "does not answer as a Dask endpoint") || !strings.Contains(e, "refused before decoding") {
		t.Errorf("error = %q", e)
	}
}

// TestProbeWorkerPosingAsScheduler probes an endpoint that holds a worker
// certificate and answers identity as a Scheduler: probe refuses it
// (exit 2) and says that a worker key is posing as the scheduler.
func TestProbeWorkerPosingAsScheduler(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Probe Posing CA")
	reply, err := wire.EncodeMsg(map[string]any{"type": "Scheduler", "id": "Scheduler-1", "workers": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	addr := hostileListener(t, h, "w1", identity.Worker, reply)
	code, res, stderr := probeJSON(t, h.home, addr, h.config("alice"))
	if code != probeFailed || res["status"] != "failed" {
		t.Fatalf("exit %d, result %v, stderr %q; want exit 2, failed", code, res, stderr)
	}
	if e, _ := res["error"].(string); !strings.Contains(e, "answers identity as a Scheduler but presents") || !strings.Contains(e, "a worker certificate") {
		t.Errorf("error = %q", e)
	}
}
