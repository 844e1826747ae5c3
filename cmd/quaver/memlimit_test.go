package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		ok    bool
		err   bool
	}{
		{"max\n", 0, false, false},
		{"max", 0, false, false},
		{"536870912\n", 536870912, true, false},
		{"  2147483648  \n", 2147483648, true, false},
		{"9223372036854771712\n", 0, false, false}, // cgroup v1 "unlimited", 4 KiB pages
		{"9223372036854710272\n", 0, false, false}, // cgroup v1 "unlimited", 64 KiB pages
		{"1152921504606846975", 1152921504606846975, true, false},
		{"1152921504606846976", 0, false, false},
		{"18446744073709551615", 0, false, false},
		{"0\n", 0, false, true},
		{"-1\n", 0, false, true},
		{"", 0, false, true},
		{"12 MiB", 0, false, true},
		{"maximum", 0, false, true},
		{"18446744073709551616", 0, false, true},
	} {
		limit, ok, err := parseCgroupMemoryLimit([]byte(tc.in))
		if limit != tc.limit || ok != tc.ok || (err != nil) != tc.err || (err != nil && !errors.Is(err, errCgroupLimit)) {
			t.Errorf("parseCgroupMemoryLimit(%q) = %d, %v, %v; want %d, %v, error %v", tc.in, limit, ok, err, tc.limit, tc.ok, tc.err)
		}
	}
}

func FuzzParseCgroupMemoryLimit(f *testing.F) {
	for _, s := range []string{"max\n", "536870912\n", "9223372036854771712\n", "0", "", "-5", " 7 ", "1e9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		limit, ok, err := parseCgroupMemoryLimit(b)
		switch {
		case err != nil:
			if ok || limit != 0 {
				t.Fatalf("%q: error %v with limit %d, ok %v", b, err, limit, ok)
			}
		case ok:
			if limit <= 0 || limit >= unlimitedMemory {
				t.Fatalf("%q: limit %d outside (0, %d)", b, limit, int64(unlimitedMemory))
			}
			n, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if perr != nil || n != limit {
				t.Fatalf("%q: limit %d, but the text reads %d (%v)", b, limit, n, perr)
			}
		default:
			if limit != 0 {
				t.Fatalf("%q: no limit, yet %d", b, limit)
			}
		}
	})
}

// cgroupRoot makes a filesystem root holding the given files (path relative
// to the root: content).
func cgroupRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestMemoryLimitFromCgroup: the Go memory limit becomes 90 % of the
// cgroup's (v2, else v1), logged once, unless GOMEMLIMIT is set or there is
// no limit.
func TestMemoryLimitFromCgroup(t *testing.T) {
	const (
		v2 = "sys/fs/cgroup/memory.max"
		v1 = "sys/fs/cgroup/memory/memory.limit_in_bytes"
	)
	for _, tc := range []struct {
		name    string
		files   map[string]string
		env     string
		want    int64  // the limit set; 0: none
		wantLog string // a substring of the log; "" : nothing logged
	}{
		{"v2", map[string]string{v2: "1000000000\n"}, "", 900000000,
			`level=INFO msg="Go memory limit set to 90% of the cgroup memory limit (set GOMEMLIMIT to override)" gomemlimit=900000000 cgroup_limit=1000000000 file=`},
		{"v1", map[string]string{v1: "2147483648\n"}, "", 1932735283, "gomemlimit=1932735283 cgroup_limit=2147483648"},
		{"v2 first", map[string]string{v2: "1000000000\n", v1: "2147483648\n"}, "", 900000000, "memory.max"},
		{"v2 max", map[string]string{v2: "max\n"}, "", 0, ""},
		{"v1 unlimited", map[string]string{v1: "9223372036854771712\n"}, "", 0, ""},
		{"no cgroup", nil, "", 0, ""},
		{"GOMEMLIMIT set", map[string]string{v2: "1000000000\n"}, "800MiB", 0, ""},
		{"unreadable", map[string]string{v2: "lots\n"}, "", 0, `level=WARN msg="cannot read the cgroup memory limit; no Go memory limit set"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := cgroupRoot(t, tc.files)
			var log bytes.Buffer
			var set []int64
			got := memoryLimitFromCgroup(root,
				func(k string) string {
					if k == "GOMEMLIMIT" {
						return tc.env
					}
					return ""
				},
				func(n int64) int64 { set = append(set, n); return 0 },
				slog.New(slog.NewTextHandler(&log, nil)))
			if got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
			switch {
			case tc.want == 0 && len(set) != 0:
				t.Errorf("set the memory limit to %v, want it untouched", set)
			case tc.want != 0 && (len(set) != 1 || set[0] != tc.want):
				t.Errorf("set the memory limit to %v, want once %d", set, tc.want)
			}
			lines := strings.Count(log.String(), "\n")
			if tc.wantLog == "" && lines != 0 || tc.wantLog != "" && (lines != 1 || !strings.Contains(log.String(), tc.wantLog)) {
				t.Errorf("log %q, want one line with %q", log.String(), tc.wantLog)
			}
		})
	}
}
