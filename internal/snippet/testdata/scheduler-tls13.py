# Dask TLS security for scheduler s1.
import ssl

import distributed

security = distributed.Security(
    tls_ca_file='/etc/dask/tls/ca.pem',
    tls_scheduler_cert='/etc/dask/tls/tls.crt',
    tls_scheduler_key='/etc/dask/tls/tls.key',
    tls_ciphers='ECDHE-ECDSA-AES256-GCM-SHA384',
    tls_min_version=ssl.TLSVersion.TLSv1_3,
    require_encryption=True,
)
