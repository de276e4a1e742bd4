"""daskca's Dask plugin: loaded through Dask's preload mechanism."""
