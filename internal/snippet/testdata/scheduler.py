# Dask TLS security for scheduler n1.
import ssl

import dask
import distributed

# daskca's Dask plugin (peer roles, CRL, live reload): set before creating the Scheduler.
dask.config.set({
    'distributed.scheduler.preload': ['/etc/dask/tls/daskca_plugin.py'],
})

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_scheduler_cert='/etc/dask/tls/tls.crt',
    tls_scheduler_key='/etc/dask/tls/tls.key',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)
