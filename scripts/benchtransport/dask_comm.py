"""The real-Dask half of scripts/bench-transport: Dask's own comm over TLS.

Measures, on loopback, with the certificates a daskca home issued:

  throughput_dask_tls   n messages {"op": "data", "payload": to_serialize(64 MiB
                        of bytes)} written with distributed.comm.connect to a
                        distributed.comm.listen handler that reads them and
                        answers "done" (the median of the trials, bytes/s)
  handshakes_dask       sequential connect() (TCP + mutual TLS + Dask handshake)
                        and close(), connections per second

Sender and receiver run in two processes. It prints "name value unit" lines, like the Go half, plus the Dask version.
Run it with the Python that has Dask (/usr/bin/python3 on Debian):

  python3 dask_comm.py CA SCHED_CERT SCHED_KEY WORKER_CERT WORKER_KEY [N SECONDS TRIALS]
"""

import asyncio
import multiprocessing
import statistics
import sys
import time

import distributed
from distributed.comm import connect, listen
from distributed.protocol.serialize import to_serialize
from distributed.security import Security

MSG_SIZE = 64 << 20


def securities(ca, sched_cert, sched_key, worker_cert, worker_key):
    sec = Security(
        tls_ca_file=ca,
        tls_scheduler_cert=sched_cert,
        tls_scheduler_key=sched_key,
        tls_worker_cert=worker_cert,
        tls_worker_key=worker_key,
        require_encryption=True,
    )
    return sec.get_listen_args("scheduler"), sec.get_connection_args("worker")


async def serve(files, n, ready, stop):
    """The listening side, in a process of its own: it reads n messages per
    connection and answers "done"; an empty connection just closes."""
    listen_args, _ = securities(*files)

    async def handler(comm):
        try:
            first = await comm.read()
        except Exception:
            return  # a handshake-only connection closed by the dialer
        for _ in range(n - 1):
            await comm.read()
        await comm.write("done")
        del first

    listener = listen("tls://127.0.0.1:0", handler, **listen_args)
    await listener.start()
    ready.put(listener.contact_address)
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    listener.stop()


def server_process(files, n, ready, stop):
    asyncio.run(serve(files, n, ready, stop))


async def throughput(addr, conn_args, n):
    comm = await connect(addr, **conn_args)
    payload = bytes(MSG_SIZE)
    start = time.perf_counter()
    for _ in range(n):
        await comm.write({"op": "data", "payload": to_serialize(payload)})
    reply = await comm.read()
    elapsed = time.perf_counter() - start
    assert reply == "done", reply
    await comm.close()
    return n * MSG_SIZE / elapsed


async def handshakes(addr, conn_args, seconds):
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        comm = await connect(addr, **conn_args)
        await comm.close()
        count += 1
    return count / (time.perf_counter() - start)


async def measure(addr, files, n, seconds, trials):
    _, conn_args = securities(*files)
    rates = [await throughput(addr, conn_args, n) for _ in range(trials)]
    print(f"dask_version {distributed.__version__} -")
    print(f"throughput_dask_tls {statistics.median(rates):.0f} bytes/s")
    print(f"handshakes_dask {await handshakes(addr, conn_args, seconds):.0f} conn/s")


def main(argv):
    files = argv[:5]
    n = int(argv[5]) if len(argv) > 5 else 16
    seconds = float(argv[6]) if len(argv) > 6 else 3
    trials = int(argv[7]) if len(argv) > 7 else 3
    # Sender and receiver in two processes, as between a Dask worker and
    # its peer (and as the Go figures, whose two ends run in parallel).
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=server_process, args=(files, n, ready, stop), daemon=True)
    server.start()
    try:
        addr = ready.get(timeout=60)
        asyncio.run(measure(addr, files, n, seconds, trials))
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
