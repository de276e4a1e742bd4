# Dask TLS security for worker n1.
import ssl

import distributed

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_worker_cert='/etc/dask/tls/tls.pem',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)
