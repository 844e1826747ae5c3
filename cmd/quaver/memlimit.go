package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
)

// The files that hold a container's memory limit, relative to the
// filesystem root: cgroup v2 first, then cgroup v1.
var cgroupMemoryFiles = []string{
	"sys/fs/cgroup/memory.max",
	"sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// unlimitedMemory: a cgroup limit at or above this (1 EiB) means no limit.
// cgroup v1 writes "unlimited" as the largest page-aligned int64
// (9223372036854771712 with 4 KiB pages).
const unlimitedMemory = 1 << 60

var errCgroupLimit = errors.New("memlimit: cgroup memory limit is not a byte count")

// parseCgroupMemoryLimit reads the content of memory.max (v2) or
// memory.limit_in_bytes (v1). ok is false when the file says there is no
// limit: "max", or a value too large to be a real one (v1's "unlimited").
func parseCgroupMemoryLimit(b []byte) (limit int64, ok bool, err error) {
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("%w: %q", errCgroupLimit, s)
	}
	if n >= unlimitedMemory {
		return 0, false, nil
	}
	return int64(n), true, nil
}

// cgroupMemoryLimit reads the memory limit of the cgroup the process runs
// in, with root as the filesystem root ("/" in production). path is the file
// it came from; ok is false when there is no limit or no cgroup file.
func cgroupMemoryLimit(root string) (limit int64, path string, ok bool, err error) {
	for _, rel := range cgroupMemoryFiles {
		path = filepath.Join(root, rel)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, path, false, err
		}
		limit, ok, err = parseCgroupMemoryLimit(b)
		return limit, path, ok, err
	}
	return 0, "", false, nil
}

// memoryLimitFromCgroup sets the Go runtime's soft memory limit to 90 % of
// the cgroup's memory limit (read under root) with set (debug.SetMemoryLimit
// in production), unless GOMEMLIMIT is set in the environment (getenv) or
// there is no cgroup limit. It returns the limit it set, 0 if none.
func memoryLimitFromCgroup(root string, getenv func(string) string, set func(int64) int64, log *slog.Logger) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit, path, ok, err := cgroupMemoryLimit(root)
	if err != nil {
		log.Warn("cannot read the cgroup memory limit; no Go memory limit set", "err", err)
		return 0
	}
	if !ok {
		return 0
	}
	soft := limit/10*9 + limit%10*9/10 // 90 %, rounded down, without overflow
	set(soft)
	log.Info("Go memory limit set to 90% of the cgroup memory limit (set GOMEMLIMIT to override)",
		"gomemlimit", soft, "cgroup_limit", limit, "file", path)
	return soft
}
