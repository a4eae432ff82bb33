// Package cgroups creates, fills, kills and removes the cgroups of podvisor's
// pods and processes on cgroup v1, hybrid (v1 controllers plus a cgroup2
// tree) and pure cgroup v2 hosts, on top of github.com/opencontainers/cgroups.
//
// It does one kernel job per call: create a group with limits, say where a
// new process must be placed (a cgroup2 directory fd for CLONE_INTO_CGROUP,
// v1 tasks files for the spawning thread), list and kill what is inside
// (cgroup.kill, or freeze, SIGKILL and thaw), count OOM kills, read the
// CPU time, working-set memory, memory limit and pids figures (Stats),
// remove. It knows nothing of pods, processes' specs or restart policies,
// and it never touches a cgroup it was not asked to create.
package cgroups
