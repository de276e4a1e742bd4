# Dask TLS security for scheduler n1.
import ssl

import distributed

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_scheduler_cert='/etc/dask/tls/tls.crt',
    tls_scheduler_key='/etc/dask/tls/tls.key',
    tls_min_version=ssl.TLSVersion.TLSv1_2,
    require_encryption=True,
)
