package pod

import cmap "github.com/orcaman/concurrent-map"

// LightRegistry makes the actor systems created afterwards in this process keep 1 024 maps in their process
// registry instead of 32 768. protoactor's registry is 1 024 buckets of orcaman/concurrent-map maps, each
// cut into SHARD_COUNT (32) shards, which that package reads from a package variable at every call: one
// system cost ~3 MB and ~67 000 allocations to create (most of a pod's start-up CPU), and its maps only grow,
// so the registry of a pod under steady control traffic (a future registered and removed per request) grew
// to ~10 MB of heap (issue #18). One shard per bucket still spreads the locks over 1 024 maps.
//
// Call it first thing in main, before any actor system exists: a system made with another shard count would
// look its actors up in the wrong shard. It does nothing when the setting is made already.
func LightRegistry() {
	if cmap.SHARD_COUNT != 1 {
		cmap.SHARD_COUNT = 1
	}
}
