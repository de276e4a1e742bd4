# Dask TLS security for client n1.
import ssl

import distributed

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_client_cert='/etc/dask/tls/tls.crt',
    tls_client_key='/etc/dask/tls/tls.key',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)

# client = distributed.Client('tls://sched01.dask.internal:8786', security=security)
