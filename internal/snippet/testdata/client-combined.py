# Dask TLS security for client n1.
import ssl

import dask
import distributed

# daskca's Dask plugin (peer roles, CRL, live reload): set before creating the Client.
dask.config.set({
    'distributed.client.preload': ['/etc/dask/tls/daskca_plugin.py'],
})

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_client_cert='/etc/dask/tls/tls.pem',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)

# client = distributed.Client('tls://sched01.dask.internal:8786', security=security)
