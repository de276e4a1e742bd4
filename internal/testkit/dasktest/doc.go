// Package dasktest runs real Dask processes from Go tests.
//
// Dask is the reference this project must interoperate with, so tests run
// the real thing rather than a stand-in: Debian's python3-distributed
// through /usr/bin/python3 on the host (Dask 2022.12 on bookworm) and, when
// it has been built with scripts/dask-trixie, a newer Dask (2024.12 on Python
// 3.13 and OpenSSL 3.5) inside a Debian trixie chroot. A Runtime names one of
// them; Runtimes lists those present so a test can run against each:
//
//	for _, rt := range dasktest.Runtimes(t) {
//		t.Run(rt.Name, func(t *testing.T) {
//			dir := rt.TempDir(t) // visible to Dask in rt
//			sched := rt.StartScheduler(t, dasktest.SchedulerOptions{
//				Args: []string{"--tls-ca-file", rt.Path(t, caFile), ...},
//			})
//			...
//		})
//	}
//
// # Missing Dask is a failure
//
// A test that needs Dask and cannot find it fails with the command that
// installs it (scripts/install-test-deps does everything); it never skips,
// so a machine without Dask cannot pass the suite by accident. The trixie
// chroot is optional unless DASKCA_REQUIRE_TRIXIE is set (CI should set it):
// then a missing chroot is a failure too.
//
// Under go test -short (the quick tier, see internal/testkit/testtier) Host and
// Trixie skip the test instead, saying so, before looking for Dask: a test
// that runs Dask needs nothing more to be left out of the quick tier.
//
// # Files inside the chroot
//
// A process in the chroot sees only the chroot's file tree. Runtime.TempDir
// returns a fresh directory that both sides can see (for the chroot one
// under <root>/tmp, removed when the test ends) and Runtime.Path turns a host
// path below it into the path the runtime sees. Certificates, keys and
// config files a test hands to Dask must be written there, and their paths
// passed through Path. Running the chroot needs root.
//
// # Processes
//
// Every process runs in its own session (so its process group id is its
// pid), with a clean environment (PATH, a fresh HOME and TMPDIR, LANG,
// PYTHONUNBUFFERED; nothing inherited, so a developer's DASK_* variables
// cannot leak in) plus what the test passes. Its stdout and stderr go to one
// log file. Stop, registered with t.Cleanup, sends SIGTERM to the process
// group, then SIGKILL after a grace period; when the test has failed, the
// cleanup prints the log. Dask also reads /etc/dask and
// <sys.prefix>/etc/dask; keep those empty on test machines.
//
// Servers bind loopback only: unless the test passes them, the scheduler
// gets --host tls://127.0.0.1 and --port 0 (--port 0 also when the test's
// --host names no port), the worker --host 127.0.0.1 and --nthreads 1, and
// both --dashboard-address 127.0.0.1:0 (without it even --no-dashboard
// listens on 0.0.0.0:8787). Dask picks the ports; the harness reads the real
// address from the log.
//
// # Log lines to wait on
//
// Both Dask generations print, through the logging module on stderr (after
// a "2026-11-26 03:15:50,880 - " time stamp):
//
//	distributed.scheduler - INFO -   Scheduler at:     tls://127.0.0.1:40191
//	distributed.nanny - INFO -         Start Nanny at: 'tls://127.0.0.1:44335'
//	distributed.worker - INFO -       Start worker at:      tls://127.0.0.1:33799
//	distributed.worker - INFO -         Registered to:      tls://127.0.0.1:40191
//	distributed.scheduler - INFO - Starting worker compute stream, tls://127.0.0.1:33799
//	distributed.scheduler - INFO - Receive client connection: Client-88d0ce1b-...
//	distributed.comm.tcp - WARNING - Listener on 'tls://127.0.0.1:40191': TLS handshake
//	    failed with remote 'tls://127.0.0.1:57812': [SSL: CERTIFICATE_VERIFY_FAILED]
//	    certificate verify failed: unable to get local issuer certificate (_ssl.c:1029)
//
// (the last on one line, once per rejected connection). The scheduler's
// line for an accepted worker differs between generations but always starts
// with "Register worker" and holds the worker's address:
//
//	Register worker <WorkerState 'tls://127.0.0.1:40297', status: init, ...>   (2022.12)
//	Register worker addr: tls://127.0.0.1:42121 name: tls://127.0.0.1:42121    (2024.12)
//
// The Log* constants name the stable parts.
package dasktest
