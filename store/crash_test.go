package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const crashChildEnv = "QUAVER_STORE_CRASH_CHILD"

// crashChild updates one guild's snapshot forever in the embedded file at
// path, printing each acknowledged version; TestEmbeddedCrash kills it -9.
func crashChild(path string) {
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		p, err := s.Snapshots.Update(ctx, "crash-guild", func(p *PlayerSnapshot) error {
			p.Position = time.Duration(p.Version+1) * time.Millisecond // = the version being written
			p.Queue = append(p.Queue[:0], Track{ID: strconv.FormatInt(p.Version+1, 10)})
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println(p.Version)
		if i%7 == 0 {
			_ = s.Snapshots.Checkpoint(ctx, "crash-guild", p.Position)
		}
	}
}

// TestEmbeddedCrash kills a process mid-write three times; each time the
// file opens cleanly and holds at least every acknowledged write, intact.
func TestEmbeddedCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	var acked int64
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		seen := 0
		for sc.Scan() {
			v, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			acked = max(acked, v)
			if seen++; seen == 60 {
				_ = cmd.Process.Kill() // SIGKILL mid-stream; lines already written are still read
			}
		}
		_ = cmd.Wait()
		if seen < 60 {
			t.Fatalf("round %d: child exited after %d writes", round, seen)
		}
		s, err := Open(context.Background(), Config{Path: path})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		p, err := s.Snapshots.Get(context.Background(), "crash-guild")
		s.Close()
		if err != nil {
			t.Fatalf("round %d: read after kill -9: %v", round, err)
		}
		if p.Version < acked || p.Position != time.Duration(p.Version)*time.Millisecond || p.Queue[0].ID != strconv.FormatInt(p.Version, 10) {
			t.Fatalf("round %d: stored version %d (position %v, queue %v), acknowledged %d: lost or torn write",
				round, p.Version, p.Position, p.Queue, acked)
		}
		t.Logf("round %d: killed after %d acknowledged writes; file holds version %d", round, acked, p.Version)
	}
}
