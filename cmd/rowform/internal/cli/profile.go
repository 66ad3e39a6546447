package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile to $ROWFORM_CPUPROFILE and, when the
// returned function is called, a heap (allocation) profile to
// $ROWFORM_MEMPROFILE. It is how the figures of docs/performance.md were
// profiled; both are off unless the variables are set.
func (inv *invocation) startProfiles() func() {
	cpu, mem := inv.getenv("ROWFORM_CPUPROFILE"), inv.getenv("ROWFORM_MEMPROFILE")
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
