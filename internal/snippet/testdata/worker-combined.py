# Dask TLS security for worker n1.
import ssl

import dask
import distributed

# daskca's Dask plugin (peer roles, CRL, live reload): set before creating the Worker or Nanny.
dask.config.set({
    'distributed.worker.preload': ['/etc/dask/tls/daskca_plugin.py'],
    'distributed.nanny.preload': ['/etc/dask/tls/daskca_plugin.py'],
})

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_worker_cert='/etc/dask/tls/tls.pem',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)
