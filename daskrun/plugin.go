package daskrun

import (
	"path/filepath"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// The preload keys of the configuration, per Dask process.
const (
	keySchedulerPreload = "distributed.scheduler.preload"
	keyWorkerPreload    = "distributed.worker.preload"
	keyNannyPreload     = "distributed.nanny.preload"
)

// pluginPreloads makes sure daskca's plugin is where the configuration's
// preload keys point (writing it when missing or outdated), and returns
// what loads it into each process:
//
//   - scheduler and worker: the configuration's preload list, or, when it
//     does not name the plugin, that list plus a private copy of the plugin
//     in tmp, given to Dask as a DASK_DISTRIBUTED__*__PRELOAD variable. Not
//     --preload: dask scheduler and dask worker import a --preload module
//     while parsing the command line, outside any Dask object, and that flag
//     would replace the configured list;
//   - nanny: --preload-nanny for each entry of distributed.nanny.preload (or
//     the plugin), since dask worker never reads that key from the
//     configuration.
func pluginPreloads(cfg daskconfig.Config, role identity.Role, tmp string) (flags, env []string, err error) {
	type proc struct {
		key  string
		list []string
	}
	procs := []proc{{keySchedulerPreload, cfg.Preload.Scheduler}}
	if role == identity.Worker {
		procs = []proc{{keyWorkerPreload, cfg.Preload.Worker}, {keyNannyPreload, cfg.Preload.Nanny}}
	}
	private := ""
	for _, pr := range procs {
		found := false
		for _, p := range pr.list {
			if filepath.Base(p) != daskplugin.FileName {
				continue
			}
			found = true
			if err := daskplugin.Ensure(p); err != nil {
				return nil, nil, &PreflightError{Check: CheckPlugin, Value: p, Key: pr.key, Err: err}
			}
		}
		list := pr.list
		if !found {
			if private == "" {
				private = filepath.Join(tmp, daskplugin.FileName)
				if err := daskplugin.WriteFile(private); err != nil {
					return nil, nil, err
				}
			}
			list = append(append([]string{}, list...), private)
		}
		if pr.key == keyNannyPreload {
			for _, p := range list {
				flags = append(flags, "--preload-nanny", p)
			}
		} else if !found {
			var c daskconfig.Config
			if role == identity.Scheduler {
				c.Preload.Scheduler = list
			} else {
				c.Preload.Worker = list
			}
			for _, v := range c.Env() {
				env = append(env, v.Name+"="+v.Value)
			}
		}
	}
	return flags, env, nil
}
