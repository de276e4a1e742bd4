"""The real-Dask half of scripts/bench-plugin: Dask with and without daskca's plugin.

Measures, on loopback, with the certificates a daskca home issued, between a
real distributed.Scheduler and a real distributed.Client, each in a process of
its own, once with daskca's plugin preloaded into both (with the home's CRL,
as daskca config wires it) and once without:

  handshakes   sequential distributed.comm.connect() with the Client's
               connection arguments to the Scheduler (TCP + mutual TLS + Dask
               handshake) and close(), connections per second
  throughput   n messages {"op": "data", "payload": to_serialize(64 MiB)} on
               one connection to a Scheduler handler that reads them all and
               answers "done", bytes per second

Each figure is also given per CPU second (the client's and the scheduler's
process CPU time together, every thread included): on a machine shared with
other work, wall-clock rates follow the neighbours' load, CPU time much less.

Rounds alternate the two modes (with first in odd rounds); every round starts
fresh processes. Prints one line per round and mode, then "name value unit"
lines with the medians and the ratios:

  python3 plugin_bench.py CA SCHED_CERT SCHED_KEY CLIENT_CERT CLIENT_KEY CRL PLUGIN [N SECONDS ROUNDS]
"""

import asyncio
import multiprocessing
import statistics
import sys
import time

MSG_SIZE = 64 << 20


def configure(files, plugin, process):
    """Set Dask's configuration of a process: the plugin and the CRL, or nothing."""
    import dask

    ca, sched_cert, sched_key, client_cert, client_key, crl, path = files
    if plugin:
        dask.config.set({f"distributed.{process}.preload": [path], "daskca.crl-file": crl})
    else:
        dask.config.set({f"distributed.{process}.preload": []})


def security(files, role):
    from distributed.security import Security

    ca, sched_cert, sched_key, client_cert, client_key, _, _ = files
    kw = {"tls_scheduler_cert": sched_cert, "tls_scheduler_key": sched_key} if role == "scheduler" else \
        {"tls_client_cert": client_cert, "tls_client_key": client_key}
    return Security(tls_ca_file=ca, require_encryption=True, **kw)


async def serve(files, plugin, ready, stop):
    configure(files, plugin, "scheduler")
    from distributed import Scheduler

    async def bench(comm, n):
        for _ in range(n):
            await comm.read()
        return "done"

    async def cpu(comm):
        return time.process_time()

    async with Scheduler(security=security(files, "scheduler"), host="tls://127.0.0.1", port=0,
                         dashboard=False, dashboard_address=":0") as s:
        s.handlers["daskca_bench"] = bench
        s.handlers["daskca_cpu"] = cpu
        ready.put(s.address)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


def server_process(files, plugin, ready, stop):
    asyncio.run(serve(files, plugin, ready, stop))


async def measure(files, plugin, addr, n, seconds):
    configure(files, plugin, "client")
    from distributed import Client
    from distributed.comm import connect
    from distributed.protocol.serialize import to_serialize

    async with Client(addr, security=security(files, "client"), asynchronous=True, timeout="60s") as client:
        args = client.connection_args

        async def cpu_now():
            comm = await connect(addr, **args)
            await comm.write({"op": "daskca_cpu", "reply": True})
            server = await comm.read()
            await comm.close()
            return server + time.process_time()

        cpu0 = await cpu_now()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            comm = await connect(addr, **args)
            await comm.close()
            count += 1
        hs = count / (time.perf_counter() - start)
        hs_cpu = count / (await cpu_now() - cpu0)

        comm = await connect(addr, **args)
        payload = bytes(MSG_SIZE)
        cpu0 = await cpu_now()
        start = time.perf_counter()
        await comm.write({"op": "daskca_bench", "n": n, "reply": True})
        for _ in range(n):
            await comm.write({"op": "data", "payload": to_serialize(payload)})
        reply = await comm.read()
        tp = n * MSG_SIZE / (time.perf_counter() - start)
        tp_cpu = n * MSG_SIZE / (await cpu_now() - cpu0)
        assert reply == "done", reply
        await comm.close()
        return hs, tp, hs_cpu, tp_cpu


def client_process(files, plugin, addr, n, seconds, out):
    out.put(asyncio.run(measure(files, plugin, addr, n, seconds)))


def one_round(ctx, files, plugin, n, seconds):
    ready, stop, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=server_process, args=(files, plugin, ready, stop), daemon=True)
    server.start()
    try:
        addr = ready.get(timeout=120)
        client = ctx.Process(target=client_process, args=(files, plugin, addr, n, seconds, out), daemon=True)
        client.start()
        result = out.get(timeout=600)
        client.join(timeout=30)
        return result
    finally:
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.kill()


def main(argv):
    import distributed

    files = tuple(argv[:7])
    n = int(argv[7]) if len(argv) > 7 else 8
    seconds = float(argv[8]) if len(argv) > 8 else 4
    rounds = int(argv[9]) if len(argv) > 9 else 5
    ctx = multiprocessing.get_context("spawn")
    got = {True: [], False: []}
    for r in range(rounds):
        for plugin in ((True, False) if r % 2 == 0 else (False, True)):
            res = one_round(ctx, files, plugin, n, seconds)
            got[plugin].append(res)
            print(f"round {r + 1} {'with' if plugin else 'without'} plugin: {res[0]:.0f} conn/s ({res[2]:.0f} per CPU s), "
                  f"{res[1] / 1e9:.3f} GB/s ({res[3] / 1e9:.3f} per CPU s)", flush=True)
    med = {p: [statistics.median(x[i] for x in v) for i in range(4)] for p, v in got.items()}
    print(f"dask_version {distributed.__version__} -")
    for i, name, unit in ((0, "handshakes", "conn/s"), (1, "throughput", "bytes/s"),
                          (2, "handshakes_cpu", "conn/cpu-s"), (3, "throughput_cpu", "bytes/cpu-s")):
        print(f"{name}_without {med[False][i]:.0f} {unit}")
        print(f"{name}_with {med[True][i]:.0f} {unit}")
        print(f"ratio_{name} {med[True][i] / med[False][i]:.3f} with/without")


if __name__ == "__main__":
    main(sys.argv[1:])
