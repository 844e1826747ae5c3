// Package daveyjs drives a Node.js script built on @snazzah/davey (Discord's
// DAVE on OpenMLS) for the interop tests of voice/dave and voice/mls. The
// script reads one JSON command per line on stdin and writes one JSON reply
// per line on stdout, {"ok":true,...} or {"ok":false,"error":"..."}; binary
// values travel as hex. The commands themselves belong to each script.
package daveyjs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

// ErrRefused is wrapped by the error Call returns for a reply with ok false.
var ErrRefused = errors.New("daveyjs: refused")

// maxReply is the longest reply line accepted (a key package or commit for a
// large group, in hex).
const maxReply = 64 << 20

// Reply is one reply line. A script sets only the fields its command
// answers with.
type Reply struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error"`
	Data    string   `json:"data"`
	Commit  string   `json:"commit"`
	Welcome string   `json:"welcome"`
	Epoch   *uint64  `json:"epoch"`
	Auth    string   `json:"auth"`
	Code    string   `json:"code"`
	Users   []string `json:"users"`
	Ready   bool     `json:"ready"`
}

// Proc is a running script. Its methods are for one goroutine at a time.
type Proc struct {
	in  io.WriteCloser
	out *bufio.Scanner
}

// Start runs the script at path (relative to the test's package folder)
// with Node.js and the modules in tools/node. It skips t (fails it under
// CI=true) when Node.js or @snazzah/davey is missing. The process is killed
// when ctx is done; at t's cleanup its stdin is closed and it is waited for.
func Start(ctx context.Context, t testing.TB, script string) *Proc {
	t.Helper()
	node, dir := testenv.NodeModules(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@snazzah", "davey")); err != nil {
		testenv.Missing(t, "@snazzah/davey is not installed in tools/node")
	}
	env := append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	return start(ctx, t, env, node, script)
}

// start runs a script process: Start, and tests with a stand-in for Node.js.
func start(ctx context.Context, t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	run := exec.CommandContext(ctx, name, args...)
	run.Env = env
	run.Stderr = os.Stderr
	in, err := run.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	out, err := run.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = run.Wait()
		cancel()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), maxReply)
	return &Proc{in: in, out: sc}
}

// Call sends cmd (whose "op" names the command) and reads its reply. A reply
// with ok false is returned with an error naming the command; a process
// that cannot be written to, exits or answers with something other than
// JSON fails t.
func (p *Proc) Call(t testing.TB, cmd map[string]any) (Reply, error) {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	if !p.out.Scan() {
		t.Fatalf("davey helper exited: %v", p.out.Err())
	}
	var r Reply
	if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		return r, fmt.Errorf("%w: davey %v: %s", ErrRefused, cmd["op"], r.Error)
	}
	return r, nil
}

// Must is Call for commands that must succeed: an error fails t.
func (p *Proc) Must(t testing.TB, cmd map[string]any) Reply {
	t.Helper()
	r, err := p.Call(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
