package threadprio

import "golang.org/x/sys/unix"

// Set gives the calling OS thread the nice value nice (-20 highest … 19
// lowest). On Linux setpriority(PRIO_PROCESS, tid) applies to one thread
// (https://man7.org/linux/man-pages/man2/setpriority.2.html, "Bugs").
// Raising priority needs CAP_SYS_NICE or an RLIMIT_NICE allowance.
func Set(nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}
