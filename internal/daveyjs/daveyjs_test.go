package daveyjs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// standInEnv makes the test binary play the script (see standIn).
const standInEnv = "DAVEYJS_STAND_IN"

func TestMain(m *testing.M) {
	if os.Getenv(standInEnv) == "1" {
		standIn()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// standIn answers commands the way a davey script does: "echo" returns its
// data and epoch, "fail" is refused, "garbage" answers with a line that is
// not JSON, "hang" never answers and "exit" ends the process without an answer.
func standIn() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var c struct {
			Op    string  `json:"op"`
			Data  string  `json:"data"`
			Epoch *uint64 `json:"epoch"`
		}
		_ = json.Unmarshal(sc.Bytes(), &c)
		var reply any
		switch c.Op {
		case "echo":
			reply = map[string]any{"ok": true, "data": c.Data, "epoch": c.Epoch, "users": []string{"1", "2"}}
		case "fail":
			reply = map[string]any{"ok": false, "error": "no member named " + c.Data}
		case "garbage":
			fmt.Println("not json")
			continue
		case "hang":
			for sc.Scan() {
			}
			return
		default:
			return
		}
		b, _ := json.Marshal(reply)
		fmt.Printf("%s\n", b)
	}
}

func startStandIn(ctx context.Context, t *testing.T) *Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return start(ctx, t, append(os.Environ(), standInEnv+"=1"), exe, "-test.run=^$")
}

func TestCall(t *testing.T) {
	p := startStandIn(context.Background(), t)
	epoch := uint64(7)
	tests := []struct {
		name    string
		cmd     map[string]any
		want    Reply
		wantErr string
	}{
		{"reply fields", map[string]any{"op": "echo", "data": "c0ffee", "epoch": epoch}, Reply{OK: true, Data: "c0ffee", Epoch: &epoch, Users: []string{"1", "2"}}, ""},
		{"no epoch", map[string]any{"op": "echo", "data": "00"}, Reply{OK: true, Data: "00", Users: []string{"1", "2"}}, ""},
		{"refused", map[string]any{"op": "fail", "data": "bob"}, Reply{Error: "no member named bob"}, "davey fail: no member named bob"},
		{"after a refusal", map[string]any{"op": "echo", "data": "01"}, Reply{OK: true, Data: "01", Users: []string{"1", "2"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Call(t, tc.cmd)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Call: %v", err)
			}
			if tc.wantErr != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Call error %v, want ErrRefused with %q", err, tc.wantErr)
			}
			if got.OK != tc.want.OK || got.Data != tc.want.Data || got.Error != tc.want.Error || strings.Join(got.Users, ",") != strings.Join(tc.want.Users, ",") {
				t.Fatalf("reply %+v, want %+v", got, tc.want)
			}
			if (got.Epoch == nil) != (tc.want.Epoch == nil) || (got.Epoch != nil && *got.Epoch != *tc.want.Epoch) {
				t.Fatalf("epoch %v, want %v", got.Epoch, tc.want.Epoch)
			}
		})
	}
}

// fatalTB records the first Fatal and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB and returns what it failed with ("" if
// it returned).
func fatalOf(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name   string
		cancel bool // cancel the process's context before the command
		cmd    map[string]any
		want   string
	}{
		{"refused command with Must", false, map[string]any{"op": "fail", "data": "x"}, "davey fail: no member named x"},
		{"answer is not JSON", false, map[string]any{"op": "garbage"}, "invalid character"},
		{"process exits", false, map[string]any{"op": "exit"}, "davey helper exited"},
		{"context cancelled", true, map[string]any{"op": "hang"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := startStandIn(ctx, t)
			if tc.cancel {
				cancel()
			}
			msg := fatalOf(t, func(tb testing.TB) { p.Must(tb, tc.cmd) })
			if msg == "" || !strings.Contains(msg, tc.want) {
				t.Fatalf("Must failed with %q, want a failure with %q", msg, tc.want)
			}
		})
	}
}
