package daskplugin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// rpcScript calls one scheduler operation over Dask's own rpc, with the
// certificate in $CERT/$KEY and no plugin, and prints the answer as JSON
// (or {"exception": text} when the call raised).
const rpcScript = `
import asyncio, json, os
from distributed.core import rpc
from distributed.security import Security
sec = Security(tls_ca_file=os.environ["CA"], tls_client_cert=os.environ["CERT"],
               tls_client_key=os.environ["KEY"], require_encryption=True)
async def main():
    try:
        async with rpc(os.environ["ADDR"], timeout=10, connection_args=sec.get_connection_args("client")) as r:
            if os.environ["OP"] == "heartbeat_worker":
                res = await r.heartbeat_worker(address=os.environ["TARGET"], metrics={})
            else:
                res = await r.unregister(address=os.environ["TARGET"], stimulus_id="daskca-test")
    except Exception as e:
        res = {"exception": repr(e)}
    print(json.dumps(res, default=str))
asyncio.run(main())
`

// rpcAs runs rpcScript as ep (its certificate, no plugin).
func (ep *endpoint) rpcAs(addr, op, target string) string {
	ep.e.t.Helper()
	e := ep.e
	out, err := e.rt.RunPython(e.t, rpcScript, []string{"ADDR=" + addr, "OP=" + op, "TARGET=" + target,
		"CA=" + e.p(e.bundle), "CERT=" + e.p(ep.cert), "KEY=" + e.p(ep.key)}, time.Minute)
	if err != nil {
		e.t.Fatalf("rpc %s as %s: %v", op, ep.name, err)
	}
	return strings.TrimSpace(out)
}

// rule returns the row of the policy table for (local, op).
func rule(t *testing.T, local identity.Role, op transport.Operation) transport.Rule {
	t.Helper()
	for _, r := range transport.PolicyTable() {
		if r.Local == local && r.Op == op {
			return r
		}
	}
	t.Fatalf("the policy table has no row for %s %s", local, op)
	return transport.Rule{}
}

// TestRegisterWorkerRoles: a real Dask worker (without the plugin) holding
// a certificate of each role tries to register; only the roles the policy
// table lets connect and register-worker get in, the others are refused
// and logged with role, name and serial, and the scheduler keeps serving.
func TestRegisterWorkerRoles(t *testing.T) {
	rule(t, identity.Scheduler, transport.OpRegisterWorker)
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			// The rogues come first: the very first connections the scheduler
			// accepts must already go through the plugin.
			sched := e.issue(identity.Scheduler, identity.Scheduler, "sched").startScheduler()
			for _, role := range identity.Roles {
				t.Run(string(role), func(t *testing.T) {
					rogue := e.issue(identity.Worker, role, "rogue-"+string(role))
					accept := transport.Allowed(daskconfig.PolicyStrict, identity.Scheduler, transport.OpAccept, role)
					register := transport.Allowed(daskconfig.PolicyStrict, identity.Scheduler, transport.OpRegisterWorker, role)
					args := append(rogue.tlsArgs(), "--no-nanny", "--name", rogue.name)
					if accept && register {
						w := rt.StartWorker(t, sched.Addr, dasktest.WorkerOptions{Args: args})
						defer w.Stop()
						return
					}
					w := rt.StartWorker(t, sched.Addr, dasktest.WorkerOptions{Args: args, WaitFor: dasktest.LogWorkerAt})
					defer w.Stop()
					what := "register-worker on the scheduler"
					if !accept {
						what = "a connection to the scheduler listener"
					}
					line := waitLog(t, sched, fmt.Sprintf("refused %s from role=%s name=%s serial=%s", what, role, rogue.name, hexSerial(rogue.serial)), 30*time.Second)
					t.Log(line)
					if strings.Contains(w.Log(), dasktest.LogRegistered) {
						t.Errorf("worker with a %s certificate registered:\n%s", role, w.Log())
					}
				})
			}
			e.issue(identity.Worker, identity.Worker, "w1").startWorker(sched, "--no-nanny")
			c := e.issue(identity.Client, identity.Client, "alice")
			out, err := c.runPython(computeScript, sched.Addr)
			if err != nil || strings.TrimSpace(out) != "41 2" {
				t.Fatalf("the scheduler stopped serving after the refusals: out=%q err=%v", out, err)
			}
		})
	}
}

// TestSameWorkerOps: heartbeat_worker and unregister for a worker are
// refused from any certificate but the one that registered it (and from
// roles the table does not allow), and allowed from that one.
func TestSameWorkerOps(t *testing.T) {
	ops := []transport.Operation{transport.OpHeartbeatWorker, transport.OpUnregister}
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			sched := e.issue(identity.Scheduler, identity.Scheduler, "sched").startScheduler()
			w1 := e.issue(identity.Worker, identity.Worker, "w1")
			w1p := w1.startWorker(sched, "--no-nanny")
			other := map[identity.Role]*endpoint{
				identity.Worker: e.issue(identity.Worker, identity.Worker, "w2"),
				identity.Client: e.issue(identity.Client, identity.Client, "mallory"),
			}
			for _, op := range ops {
				r := rule(t, identity.Scheduler, op)
				for _, role := range []identity.Role{identity.Worker, identity.Client} {
					t.Run(fmt.Sprintf("%s from another %s", op, role), func(t *testing.T) {
						got := other[role].rpcAs(sched.Addr, string(op), w1p.Addr)
						refused := strings.Contains(got, "daskca: refused")
						want := !slices.Contains(r.Peers, role) || r.SameWorker
						if refused != want {
							t.Fatalf("%s for w1 from %s %s: %s (refused=%v, want %v)", op, role, other[role].name, got, refused, want)
						}
					})
				}
			}
			if strings.Contains(sched.Log(), "Remove worker") {
				t.Fatalf("a refused unregister removed the worker:\n%s", sched.Log())
			}
			t.Run("heartbeat_worker from the registering certificate", func(t *testing.T) {
				if got := w1.rpcAs(sched.Addr, "heartbeat_worker", w1p.Addr); strings.Contains(got, "daskca: refused") {
					t.Fatalf("heartbeat from w1's own certificate refused: %s", got)
				}
			})
			t.Run("unregister from the registering certificate", func(t *testing.T) {
				got := w1.rpcAs(sched.Addr, "unregister", w1p.Addr)
				var s string
				if err := json.Unmarshal([]byte(got), &s); err != nil || s != "OK" {
					t.Fatalf("unregister from w1's own certificate: %s, want \"OK\"", got)
				}
			})
		})
	}
}

// TestDialerChecksScheduler: a Client and a worker with the plugin refuse a
// "scheduler" whose certificate is a worker's, at once and with the reason.
func TestDialerChecksScheduler(t *testing.T) {
	rule(t, identity.Client, transport.OpDial)
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			fake := e.issue(identity.Scheduler, identity.Worker, "impostor")
			sched := rt.StartScheduler(t, dasktest.SchedulerOptions{Args: fake.tlsArgs()})
			want := "certificate has role worker; only scheduler may do that"
			t.Run("client", func(t *testing.T) {
				c := e.issue(identity.Client, identity.Client, "alice")
				start := time.Now()
				_, err := c.runPython(computeScript, sched.Addr)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("client reaching an impostor scheduler: err=%v, want %q", err, want)
				}
				t.Logf("refused after %v: %s", time.Since(start).Round(time.Millisecond), lastLine(err.Error()))
			})
			t.Run("worker", func(t *testing.T) {
				w := e.issue(identity.Worker, identity.Worker, "w1")
				p := rt.StartWorker(t, sched.Addr, dasktest.WorkerOptions{Args: []string{"--no-nanny", "--name", "w1"},
					Env: w.daskEnv(), WaitFor: want})
				p.Stop()
			})
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// connectScript connects a Client (plugin and settings from DASK_CONFIG)
// and prints "connected".
const connectScript = `
import os
from distributed import Client
with Client(os.environ["ADDR"], timeout=20) as c:
    print("connected")
`

// TestVerifyHostname: with daskca.verify-hostname a Client refuses a
// scheduler whose certificate does not name the host it dialed; without
// it, as in Dask, the name is not checked.
func TestVerifyHostname(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			s := e.issue(identity.Scheduler, identity.Scheduler, "sched", testca.WithSANs([]string{"other.example"}, nil))
			sched := s.startScheduler()
			for _, verify := range []bool{false, true} {
				t.Run(fmt.Sprint("verify-hostname=", verify), func(t *testing.T) {
					c := e.issue(identity.Client, identity.Client, "alice")
					c.extraYAML = fmt.Sprintf("  verify-hostname: %v\n", verify)
					c.writeConfig()
					out, err := c.runPython(connectScript, sched.Addr)
					refused := err != nil && strings.Contains(err.Error(), "certificate does not name the host 127.0.0.1")
					if refused != verify || (!verify && strings.TrimSpace(out) != "connected") {
						t.Fatalf("out=%q err=%v, want refused=%v", out, err, verify)
					}
				})
			}
		})
	}
}
