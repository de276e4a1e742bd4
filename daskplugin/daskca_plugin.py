"""daskca's Dask plugin: loaded through Dask's preload mechanism."""

# The strict role policy, filled in by daskca (daskplugin.Render).
POLICY_TABLE_JSON = r'''@DASKCA_POLICY_TABLE@'''
