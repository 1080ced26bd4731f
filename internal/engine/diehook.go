package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// EnvDieAt names a step at which the process kills itself with SIGKILL.
// It exists for tests/engine, which kills the CLI and the monitor's steps
// at every step of run this way to check that the next command cleans up
// whatever was left; nothing sets it otherwise.
const EnvDieAt = "_PELAGOS_TEST_DIE_AT"

// Steps at which EnvDieAt can kill.
const (
	StepCreateHeld    = "create:held"    // the image is held; the container directory is not in place
	StepStartMounted  = "start:mounted"  // the rootfs is mounted
	StepStartNetwork  = "start:network"  // the network is set up; the spec is not written
	StepStartRecorded = "start:recorded" // the runtime container is recorded, not created
	StepStartCreated  = "start:created"  // the init waits to be started
	StepStartStarted  = "start:started"  // the process runs; the record says created
	StepExitedTorn    = "exited:torn"    // the run is torn down; the exit is not recorded
	StepRemoveRenamed = "remove:renamed" // the directory is renamed away, not removed
)

// DieSteps lists every step, in the order a run reaches them.
var DieSteps = []string{StepCreateHeld, StepStartMounted, StepStartNetwork, StepStartRecorded, StepStartCreated, StepStartStarted, StepExitedTorn, StepRemoveRenamed}

func dieAt(step string) {
	if os.Getenv(EnvDieAt) == step {
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	}
}
