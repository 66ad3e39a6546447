package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

// startProfiles writes a CPU profile to $ROWFORM_CPUPROFILE and, when the
// returned function is called, a heap (allocation) profile to
// $ROWFORM_MEMPROFILE. It is how the figures of docs/performance.md were
// profiled; both are off unless the variables are set. "{cmd}" in a path is
// replaced by the command's name, so that one setting profiles both the plan
// and the apply of a run (`ROWFORM_CPUPROFILE=/tmp/{cmd}.cpu make bench`).
func (inv *invocation) startProfiles(command string) func() {
	cpu := strings.ReplaceAll(inv.getenv("ROWFORM_CPUPROFILE"), "{cmd}", command)
	mem := strings.ReplaceAll(inv.getenv("ROWFORM_MEMPROFILE"), "{cmd}", command)
	var stopCPU func()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			inv.errorf("ROWFORM_CPUPROFILE: %s", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			inv.errorf("ROWFORM_CPUPROFILE: %s", err)
			_ = f.Close()
		} else {
			stopCPU = func() { pprof.StopCPUProfile(); _ = f.Close() }
		}
	}
	return func() {
		if stopCPU != nil {
			stopCPU()
		}
		if mem == "" {
			return
		}
		f, err := os.Create(mem)
		if err != nil {
			inv.errorf("ROWFORM_MEMPROFILE: %s", err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintf(inv.stderr, "rowform: ROWFORM_MEMPROFILE: %s\n", err)
		}
	}
}
