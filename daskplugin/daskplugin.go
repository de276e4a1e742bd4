package daskplugin

import (
	_ "embed"
)

// FileName is the name the plugin is written under. Dask's preload accepts
// a path ending in .py and imports the file as a module.
const FileName = "daskca_plugin.py"

// Source is the plugin's Python source. Callers must not modify it.
//
//go:embed daskca_plugin.py
var Source []byte
