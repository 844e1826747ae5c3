package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/internal/testenv"
)

// notExported lists the names the rules may use that the binary does not
// export, with why. Keep it minimal: a metric that appears only after some
// activity belongs in TestMetricsExported's scenario, not here.
var notExported = map[string]string{
	"up": "Prometheus adds it to every scrape target (QuaverDown, QuaverAbsent)",
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the binary built for the tests and checks that no test
// leaves goroutines behind (the metrics test runs a fake Redis and a child
// process).
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// quaverBin builds cmd/quaver once per test run, with the environment's
// CGO_CFLAGS (the Makefile exports -O3 -g; another value rebuilds libopus).
func quaverBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "quaver-deploy-test"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "quaver")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/quaver")
		cmd.Dir = testenv.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/quaver: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// quaver runs the binary with args and returns its standard output.
func quaver(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, quaverBin(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("quaver %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

var (
	helpEnvRE  = regexp.MustCompile(`--([a-z0-9-]+) \(env (QUAVER_[A-Z0-9_]+),`)
	quaverEnvR = regexp.MustCompile(`QUAVER_[A-Z0-9_]+`)
)

// settings is what `quaver help serve` and `quaver help` document.
type settings struct {
	flags map[string]string // flag name → env name, from `quaver help serve`
	env   map[string]bool   // every QUAVER_* name an operator may set for serve
}

func helpSettings(t *testing.T) settings {
	t.Helper()
	s := settings{flags: map[string]string{}, env: map[string]bool{}}
	for _, m := range helpEnvRE.FindAllStringSubmatch(quaver(t, "help", "serve"), -1) {
		s.flags[m[1]] = m[2]
		s.env[m[2]] = true
	}
	if len(s.flags) < 5 || s.flags["metrics-addr"] != "QUAVER_METRICS_ADDR" {
		t.Fatalf("quaver help serve lists %v: the help format changed; update helpEnvRE", s.flags)
	}
	// `quaver help` documents the settings that are not flags (QUAVER_LOG_LEVEL).
	for _, n := range quaverEnvR.FindAllString(quaver(t, "help"), -1) {
		s.env[n] = true
	}
	return s
}

func kitPath(rel ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, rel...)...)
}

func readFile(t *testing.T, rel ...string) string {
	t.Helper()
	b, err := os.ReadFile(kitPath(rel...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readYAML parses one YAML document.
func readYAML(t *testing.T, rel ...string) map[string]any {
	t.Helper()
	docs, err := parseYAML(readFile(t, rel...))
	if err != nil {
		t.Fatalf("%s: %v", filepath.Join(rel...), err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", filepath.Join(rel...), len(docs))
	}
	m, ok := docs[0].(map[string]any)
	if !ok {
		t.Fatalf("%s: top level is %T, want a mapping", filepath.Join(rel...), docs[0])
	}
	return m
}

// get walks a parsed document: string keys index mappings, ints sequences.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func list(v any, path ...any) []any { s, _ := get(v, path...).([]any); return s }

// TestKitFilesParse: every YAML file of the kit parses, and the dashboard is JSON.
func TestKitFilesParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(kitPath("deploy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml":
			n++
			if docs, err := parseYAML(string(b)); err != nil || len(docs) == 0 {
				t.Errorf("%s: %v (%d documents)", p, err, len(docs))
			}
		case ".json":
			n++
			if !json.Valid(b) {
				t.Errorf("%s is not valid JSON", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 9 {
		t.Errorf("found %d kit files, want the 7 manifests, kustomization, rules and dashboard", n)
	}
}

// TestKustomization: kustomization.yaml lists every manifest in the folder,
// and each one is a Kubernetes object with a name.
func TestKustomization(t *testing.T) {
	k := readYAML(t, "deploy", "kubernetes", "kustomization.yaml")
	if str(k, "kind") != "Kustomization" || str(k, "namespace") == "" {
		t.Errorf("kustomization.yaml: kind %q namespace %q", str(k, "kind"), str(k, "namespace"))
	}
	listed := map[string]bool{}
	kinds := map[string]bool{}
	for _, r := range list(k, "resources") {
		name, _ := r.(string)
		listed[name] = true
		m := readYAML(t, "deploy", "kubernetes", name)
		if str(m, "apiVersion") == "" || str(m, "kind") == "" || str(m, "metadata", "name") == "" {
			t.Errorf("%s: apiVersion %q kind %q metadata.name %q", name, str(m, "apiVersion"), str(m, "kind"), str(m, "metadata", "name"))
		}
		kinds[str(m, "kind")] = true
	}
	files, _ := filepath.Glob(kitPath("deploy", "kubernetes", "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !listed[b] {
			t.Errorf("%s is not in kustomization.yaml's resources", b)
		}
	}
	for _, want := range []string{"Namespace", "ConfigMap", "Secret", "StatefulSet", "Service", "PodDisruptionBudget", "ServiceMonitor"} {
		if !kinds[want] {
			t.Errorf("the kit has no %s", want)
		}
	}
}

// TestKustomizeBuild renders the base with kubectl's kustomize, where
// kubectl is installed (it is an operator's tool, not a test dependency):
// every object comes out, in the namespace, with the image rewritten.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; TestKustomization checks the files without it")
	}
	out, err := exec.Command(kubectl, "kustomize", kitPath("deploy", "kubernetes")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	docs, err := parseYAML(string(out))
	if err != nil {
		t.Fatalf("kubectl kustomize output: %v", err)
	}
	k := readYAML(t, "deploy", "kubernetes", "kustomization.yaml")
	if len(docs) != len(list(k, "resources")) {
		t.Errorf("kubectl kustomize rendered %d objects from %d resources", len(docs), len(list(k, "resources")))
	}
	image := str(k, "images", 0, "newName") + ":" + str(k, "images", 0, "newTag")
	for _, d := range docs {
		kind := str(d, "kind")
		if ns := str(d, "metadata", "namespace"); kind != "Namespace" && ns != str(k, "namespace") {
			t.Errorf("%s %s is in namespace %q", kind, str(d, "metadata", "name"), ns)
		}
		if kind == "StatefulSet" && str(d, "spec", "template", "spec", "containers", 0, "image") != image {
			t.Errorf("rendered image %q, want %q", str(d, "spec", "template", "spec", "containers", 0, "image"), image)
		}
	}
}

// TestManifestSettings checks the manifests against the binary: every
// QUAVER_* name is a real setting, the metrics port and probe path are
// where serve listens, memory limits agree, the pod runs locked down, and
// the shard-range script gives each pod its shards.
func TestManifestSettings(t *testing.T) {
	s := helpSettings(t)
	files, _ := filepath.Glob(kitPath("deploy", "kubernetes", "*.yaml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, n := range quaverEnvR.FindAllString(string(b), -1) {
			if !s.env[n] {
				t.Errorf("%s names %s, which is no setting of quaver serve (see quaver help serve)", filepath.Base(f), n)
			}
		}
	}
	cm := readYAML(t, "deploy", "kubernetes", "configmap.yaml")
	for key := range get(cm, "data").(map[string]any) {
		if strings.HasPrefix(key, "QUAVER_") && !s.env[key] {
			t.Errorf("configmap.yaml key %s is no setting of quaver serve", key)
		}
	}
	sec := readYAML(t, "deploy", "kubernetes", "secret.yaml")
	for key, v := range get(sec, "stringData").(map[string]any) {
		if v, _ := v.(string); !strings.Contains(v, "REPLACE_WITH_") {
			t.Errorf("secret.yaml %s holds %q: the template must hold placeholders only", key, v)
		}
		if key != "DISCORD_TOKEN" && !s.env[key] {
			t.Errorf("secret.yaml key %s is no setting of quaver serve", key)
		}
	}

	sts := readYAML(t, "deploy", "kubernetes", "statefulset.yaml")
	pod := get(sts, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	_, port, err := net.SplitHostPort(str(cm, "data", "QUAVER_METRICS_ADDR"))
	if err != nil {
		t.Fatalf("QUAVER_METRICS_ADDR: %v", err)
	}
	var metricsPort string
	for _, p := range list(c, "ports") {
		if str(p, "name") == "metrics" {
			metricsPort = str(p, "containerPort")
		}
	}
	if metricsPort != port {
		t.Errorf("container port metrics is %q, QUAVER_METRICS_ADDR listens on %q", metricsPort, port)
	}
	for _, probe := range []struct{ name, path string }{
		{"startupProbe", "/healthz"},
		{"livenessProbe", "/healthz"},
		{"readinessProbe", "/readyz"},
	} {
		// TestMetricsExported checks that serve answers these paths.
		if p, pt := str(c, probe.name, "httpGet", "path"), str(c, probe.name, "httpGet", "port"); p != probe.path || pt != "metrics" {
			t.Errorf("%s hits %s on port %s, want %s on the metrics port", probe.name, p, pt, probe.path)
		}
	}
	svc := readYAML(t, "deploy", "kubernetes", "service.yaml")
	if str(svc, "spec", "ports", 0, "targetPort") != "metrics" || str(svc, "spec", "ports", 0, "name") != "metrics" {
		t.Errorf("service.yaml does not expose the metrics port by name")
	}
	sm := readYAML(t, "deploy", "kubernetes", "servicemonitor.yaml")
	if str(sm, "spec", "endpoints", 0, "port") != "metrics" || str(sm, "spec", "endpoints", 0, "path") != "/metrics" {
		t.Errorf("servicemonitor.yaml does not scrape /metrics on the metrics port")
	}

	// serve sets the Go soft memory limit to 90 % of the container's memory
	// limit when GOMEMLIMIT is unset, so the kit sets no GOMEMLIMIT and needs
	// a memory limit (QuaverMemoryNearLimit reads the result). An explicit
	// GOMEMLIMIT overrides it and must then sit under the container's limit,
	// or the kernel kills the process before the GC tries hard.
	hard, err := bytesOf(str(c, "resources", "limits", "memory"))
	if err != nil || hard <= 0 {
		t.Errorf("memory limit %q (%v): serve derives the Go memory limit from it", str(c, "resources", "limits", "memory"), err)
	}
	for _, e := range list(c, "env") {
		if str(e, "name") != "GOMEMLIMIT" {
			continue
		}
		memlimit := str(e, "value")
		if soft, err := bytesOf(memlimit); err != nil || soft >= hard || soft < hard*3/4 {
			t.Errorf("GOMEMLIMIT %q against memory limit %q (%v): want 75-100 %% of the limit, or unset (serve then takes 90 %%)",
				memlimit, str(c, "resources", "limits", "memory"), err)
		}
	}
	if req, err := bytesOf(str(c, "resources", "requests", "memory")); err != nil || req > hard {
		t.Errorf("memory request %q above the limit", str(c, "resources", "requests", "memory"))
	}

	for _, check := range []struct{ path []any }{
		{[]any{"securityContext", "readOnlyRootFilesystem"}},
		{[]any{"securityContext", "allowPrivilegeEscalation"}},
	} {
		if v := str(c, check.path...); (check.path[1] == "readOnlyRootFilesystem") != (v == "true") {
			t.Errorf("container %v = %q", check.path, v)
		}
	}
	if str(pod, "securityContext", "runAsNonRoot") != "true" || str(c, "securityContext", "capabilities", "drop", 0) != "ALL" ||
		len(list(c, "securityContext", "capabilities", "drop")) != 1 {
		t.Errorf("pod must run as non-root with every capability dropped")
	}
	// None is added back: SYS_NICE (the voice pacer's thread priority) takes
	// no effect for a non-root user without a file capability, and Pod
	// Security baseline rejects it; docs/operations.md describes the opt-in.
	if add := get(c, "securityContext", "capabilities", "add"); add != nil {
		if l, ok := add.([]any); !ok || len(l) > 0 {
			t.Errorf("container capabilities.add = %v, want none", add)
		}
	}
	// The volumes serve writes to must be mounted: the root filesystem is read-only.
	mounts := map[string]bool{}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "mountPath")] = true
	}
	if dir := str(cm, "data", "QUAVER_DATA_DIR"); !mounts[dir] {
		t.Errorf("QUAVER_DATA_DIR %q is not a mounted volume (the root filesystem is read-only)", dir)
	}

	testShardScript(t, c)
}

// testShardScript runs the container's start script with sh, with the final
// exec replaced by printing the shard range it would run with.
func testShardScript(t *testing.T, c any) {
	t.Helper()
	script := str(c, "args", 0)
	const execLine = "exec /usr/local/bin/quaver serve"
	if !strings.Contains(script, execLine) {
		t.Fatalf("the start script does not end with %q:\n%s", execLine, script)
	}
	if df := readFile(t, "Dockerfile"); !strings.Contains(df, "/usr/local/bin/quaver") {
		t.Errorf("the Dockerfile no longer installs /usr/local/bin/quaver, which the start script runs")
	}
	script = strings.Replace(script, execLine, `echo "${QUAVER_SHARD_RANGE:-all}"`, 1)
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"SHARDS_PER_POD=0", "POD_INDEX=3"}, "all"},
		{[]string{"SHARDS_PER_POD=4", "POD_INDEX=0"}, "0-3"},
		{[]string{"SHARDS_PER_POD=4", "POD_INDEX=2"}, "8-11"},
		{[]string{"SHARDS_PER_POD=1", "POD_INDEX=5"}, "5-5"},
		{[]string{"SHARDS_PER_POD=4", "POD_INDEX=2", "QUAVER_SHARD_RANGE=1-2"}, "1-2"},
	} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("start script with %v: %q, %v; want shard range %s", tc.env, out, err, tc.want)
		}
	}
}

// bytesOf reads a Kubernetes memory quantity (Mi, Gi) or a GOMEMLIMIT (MiB, GiB).
func bytesOf(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// TestDocs: docs/operations.md documents every flag of quaver serve, names
// no setting that does not exist, has a section for every alert's runbook
// link, and README.md links to it.
func TestDocs(t *testing.T) {
	s := helpSettings(t)
	doc := readFile(t, "docs", "operations.md")
	for flag, env := range s.flags {
		if !strings.Contains(doc, "`--"+flag+"`") || !strings.Contains(doc, "`"+env+"`") {
			t.Errorf("docs/operations.md does not document --%s (%s)", flag, env)
		}
	}
	for _, n := range quaverEnvR.FindAllString(doc, -1) {
		if !s.env[n] {
			t.Errorf("docs/operations.md names %s, which is no setting of quaver serve", n)
		}
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			anchors[slug(strings.TrimLeft(line, "# "))] = true
		}
	}
	rules := readYAML(t, "deploy", "prometheus", "rules.yaml")
	alerts := map[string]bool{}
	for _, g := range list(rules, "groups") {
		for _, r := range list(g, "rules") {
			name := str(r, "alert")
			if name == "" {
				continue
			}
			alerts[name] = true
			_, anchor, _ := strings.Cut(str(r, "annotations", "runbook_url"), "docs/operations.md#")
			if anchor != strings.ToLower(name) || !anchors[anchor] {
				t.Errorf("alert %s: runbook_url %q has no section in docs/operations.md", name, str(r, "annotations", "runbook_url"))
			}
		}
	}
	// The reverse: every runbook section is for an alert that still exists.
	sections := runbookSections(doc)
	if len(sections) == 0 {
		t.Errorf("docs/operations.md has no ### sections under \"## Runbook\"")
	}
	for _, h := range sections {
		if !alerts[h] {
			t.Errorf("docs/operations.md: runbook section %q names no alert in deploy/prometheus/rules.yaml (stale, or the alert was renamed)", h)
		}
	}
	if !strings.Contains(readFile(t, "README.md"), "(docs/operations.md)") {
		t.Errorf("README.md does not link docs/operations.md")
	}
}

// runbookSections returns the ### headings between "## Runbook" and the
// next ## heading, outside fenced code blocks.
func runbookSections(doc string) []string {
	var out []string
	in, fence := false, false
	for line := range strings.Lines(doc) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "```"):
			fence = !fence
		case fence:
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Runbook"
		case in && strings.HasPrefix(line, "### "):
			out = append(out, strings.TrimSpace(strings.TrimPrefix(line, "### ")))
		}
	}
	return out
}

// TestRunbookSections: only the ### headings of the Runbook section count,
// not those of other sections nor lines in code blocks.
func TestRunbookSections(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{name: "no runbook", doc: "## Metrics\n### Network\n", want: nil},
		{name: "runbook last", doc: "## Alerts\n### Other\n## Runbook\n\n### QuaverDown\ntext\n### QuaverGone\n",
			want: []string{"QuaverDown", "QuaverGone"}},
		{name: "section after", doc: "## Runbook\n### QuaverDown\n## Kubernetes\n### Probes\n", want: []string{"QuaverDown"}},
		{name: "code block", doc: "## Runbook\n```sh\n### not a heading\n## nor this\n```\n### QuaverDown\n", want: []string{"QuaverDown"}},
		{name: "CRLF", doc: "## Runbook\r\n### QuaverDown\r\n", want: []string{"QuaverDown"}},
	} {
		if got := runbookSections(tc.doc); !slices.Equal(got, tc.want) {
			t.Errorf("%s: runbookSections = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// slug is GitHub's anchor for a heading.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestMetricsExported runs `quaver serve --sandbox` with --metrics-addr and a
// Redis that dies as soon as the bot uses it, scrapes /metrics while the
// sandbox plays, and checks every metric the rules and the dashboard query
// against what the binary exported. Renaming a metric fails here.
func TestMetricsExported(t *testing.T) {
	bin := quaverBin(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "tone.wav")
	if err := os.WriteFile(in, synth.WAV(synth.Tone(48000, 2, 6, 440, 0.5)), 0o644); err != nil {
		t.Fatal(err)
	}
	redis := startDeadRedis(t)
	defer redis.Close()

	var out lockedBuffer
	cmd := exec.Command(bin, "serve", "--sandbox", "--play", in, "--heard", filepath.Join(dir, "heard.ogg"),
		"--data-dir", filepath.Join(dir, "data"), "--redis-url", "redis://"+redis.Addr()+"/0", "--metrics-addr", "127.0.0.1:0")
	cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "QUAVER_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.NewTimer(25 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	var (
		addr  string // from serve's startup line
		sc    scrape
		ready bool // /readyz has answered 200
	)
	get := func(path string) (int, string, error) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	for !sc.ready() || !ready {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("serve exited (%v) before it was ready and the metrics showed voice sends and the Redis outage:\n%s", err, out.String())
		case <-deadline.C:
			t.Fatalf("not ready, or no voice sends and Redis outage in /metrics, after 25 s:\n%s", out.String())
		case <-poll.C:
		}
		if addr == "" {
			// The port is the system's choice; serve prints the bound address.
			m := metricsLineRE.FindStringSubmatch(out.String())
			if m == nil {
				continue
			}
			if addr = m[1]; strings.HasSuffix(addr, ":0") {
				t.Fatalf("serve printed %q, not the port it bound", m[0])
			}
			// Liveness answers from the start.
			if code, body, err := get("/healthz"); err != nil || code != http.StatusOK {
				t.Fatalf("GET /healthz: %d %q %v", code, body, err)
			}
		}
		if !ready {
			code, body, err := get("/readyz")
			switch {
			case err != nil:
				t.Fatalf("GET /readyz: %v", err)
			case code == http.StatusOK:
				ready = true
			case code != http.StatusServiceUnavailable || strings.Count(body, "\n") != 1:
				t.Fatalf("GET /readyz while starting: %d %q; want 200, or 503 with one line saying why", code, body)
			}
		}
		code, body, err := get("/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /metrics: %d %v", code, err)
		}
		sc = parseScrape(body)
	}
	if code, body, err := get("/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("GET /healthz while playing: %d %q %v", code, body, err)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Errorf("serve did not stop within 10 s of SIGINT")
	}
	stopped = true

	exported := func(n string) bool { return sc.names[n] }
	rules := readYAML(t, "deploy", "prometheus", "rules.yaml")
	recorded := map[string]bool{}
	for _, g := range list(rules, "groups") {
		for _, r := range list(g, "rules") {
			if n := str(r, "record"); n != "" {
				recorded[n] = true
			}
		}
	}
	nRules := 0
	for _, g := range list(rules, "groups") {
		for _, r := range list(g, "rules") {
			nRules++
			name := str(r, "record") + str(r, "alert")
			expr := str(r, "expr")
			if name == "" || expr == "" {
				t.Errorf("rules.yaml: rule %q has no name or expr", name)
				continue
			}
			if str(r, "alert") != "" && (str(r, "labels", "severity") == "" || str(r, "annotations", "summary") == "") {
				t.Errorf("alert %s lacks a severity label or a summary", name)
			}
			checkNames(t, "rules.yaml "+name, expr, func(n string) bool {
				return exported(n) || recorded[n] || notExported[n] != ""
			})
		}
	}
	if nRules < 10 {
		t.Errorf("rules.yaml holds %d rules", nRules)
	}

	var dash struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(readFile(t, "deploy", "grafana", "quaver.json")), &dash); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range flatten(dash.Panels) {
		if p.Type == "row" { // a row only groups panels; it queries nothing
			continue
		}
		n++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		for _, tg := range p.Targets {
			if len(p.Datasource) == 0 && len(tg.Datasource) == 0 {
				t.Errorf("panel %q target %s has no datasource", p.Title, tg.RefID)
			}
			if tg.Expr == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
			checkNames(t, fmt.Sprintf("dashboard panel %q", p.Title), tg.Expr, exported)
		}
	}
	if n < 8 {
		t.Errorf("the dashboard has %d panels", n)
	}
	labelValues := regexp.MustCompile(`label_values\(([^,]+),`)
	for _, v := range dash.Templating.List {
		if m := labelValues.FindStringSubmatch(string(v.Query)); m != nil {
			checkNames(t, "dashboard variable "+v.Name, m[1], exported)
		}
	}
}

type panel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

func checkNames(t *testing.T, where, expr string, known func(string) bool) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		if !known(n) {
			t.Errorf("%s uses %s, which quaver serve does not export", where, n)
		}
	}
}

// scrape is what one GET /metrics returned.
type scrape struct {
	names     map[string]bool // families (# TYPE) and sample names (with _bucket, _sum, _count)
	sends     float64         // quaver_voice_send_lateness_seconds_count
	redisDown float64         // quaver_store_backend_unavailable_total{backend="redis"}
}

// ready: a voice connection has sent packets and the store has counted
// Redis going away, so the metrics that only appear after activity are
// there. The outage counter is exported at 0 from the start, so its value,
// not its presence, says the outage was seen.
func (s scrape) ready() bool {
	return s.sends > 0 && s.redisDown > 0
}

func parseScrape(body string) scrape {
	s := scrape{names: map[string]bool{}}
	for _, line := range strings.Split(body, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ := strings.Cut(f, " ")
			s.names[name] = true
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end <= 0 {
			continue
		}
		s.names[line[:end]] = true
		value := func() float64 {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			return v
		}
		switch {
		case line[:end] == "quaver_voice_send_lateness_seconds_count":
			s.sends = value()
		case line[:end] == "quaver_store_backend_unavailable_total" && strings.Contains(line, `backend="redis"`):
			s.redisDown = value()
		}
	}
	return s
}

// metricNames returns the metric names a PromQL expression selects: every
// identifier that is not a function, keyword, label or duration.
func metricNames(expr string) []string {
	// Drop string literals, then label matchers and range selectors.
	var b strings.Builder
	var q byte
	depth := 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case q != 0 && c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'' || c == '`':
			q = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth > 0 {
				depth--
			}
			b.WriteByte(' ')
		case depth == 0:
			b.WriteByte(c)
		}
	}
	s := b.String()
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	next := func(i int) byte { // the next non-space byte at or after i
		for ; i < len(s); i++ {
			if s[i] != ' ' && s[i] != '\n' && s[i] != '\t' {
				return s[i]
			}
		}
		return 0
	}
	seen := map[string]bool{}
	var names []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			for i < len(s) && (isIdent(s[i], false) || s[i] == '.') {
				i++
			}
		case isIdent(c, true):
			j := i
			for j < len(s) && isIdent(s[j], false) {
				j++
			}
			word := s[i:j]
			i = j
			switch strings.ToLower(word) {
			case "by", "without", "on", "ignoring", "group_left", "group_right":
				if next(i) == '(' { // skip the label list
					k := strings.IndexByte(s[i:], ')')
					if k < 0 {
						return names
					}
					i += k + 1
				}
				continue
			case "and", "or", "unless", "bool", "offset", "inf", "nan",
				// aggregation operators, whose "by (...)" may come before the parenthesis
				"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
				"bottomk", "topk", "quantile", "limitk", "limit_ratio":
				continue
			}
			if next(i) == '(' || seen[word] { // a function call, or a name already listed
				continue
			}
			seen[word] = true
			names = append(names, word)
		default:
			i++
		}
	}
	sort.Strings(names)
	return names
}

// metricsLineRE is serve's startup line naming the metrics listener.
var metricsLineRE = regexp.MustCompile(`(?m)^metrics on http://([^/\s]+)/metrics$`)

// lockedBuffer collects a child process's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// deadRedis speaks just enough RESP2 for a client to connect (HELLO is
// refused, so the client falls back to RESP2) and for the store's start-up
// PING to succeed, then dies at the first other command: it closes every
// connection and stops listening, as a Redis that crashes after the bot
// started. The store then counts quaver_store_backend_unavailable_total.
type deadRedis struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
	dead  bool
}

func startDeadRedis(t *testing.T) *deadRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &deadRedis{ln: ln, conns: map[net.Conn]bool{}}
	d.wg.Add(1)
	go d.accept()
	return d
}

func (d *deadRedis) Addr() string { return d.ln.Addr().String() }

func (d *deadRedis) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		if d.dead {
			d.mu.Unlock()
			_ = c.Close()
			continue
		}
		d.conns[c] = true
		d.mu.Unlock()
		d.wg.Add(1)
		go d.serve(c)
	}
}

func (d *deadRedis) serve(c net.Conn) {
	defer d.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil || len(args) == 0 {
			return
		}
		var reply string
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			reply = "-ERR unknown command 'HELLO'\r\n"
		case "PING":
			reply = "+PONG\r\n"
		case "CLIENT", "SELECT", "AUTH":
			reply = "+OK\r\n"
		default:
			d.die()
			return
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// die stops listening and drops every connection.
func (d *deadRedis) die() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	_ = d.ln.Close()
	for c := range d.conns {
		_ = c.Close()
	}
}

// Close kills the server if it is still alive and waits for its goroutines.
func (d *deadRedis) Close() {
	d.die()
	d.wg.Wait()
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || !strings.HasPrefix(line, "*") || n > 1024 {
		return nil, fmt.Errorf("deadRedis: bad command line %q", line)
	}
	args := make([]string, 0, n)
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil || size < 0 || size > 1<<20 {
			return nil, fmt.Errorf("deadRedis: bad bulk header %q", hdr)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

// TestMetricNames pins the PromQL reading the other tests rely on.
func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="quaver"} == 0`, []string{"up"}},
		{`histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{job="x", le!="+Inf"}[5m])))`, []string{"a_bucket"}},
		{`quaver:x:rate5m / 50`, []string{"quaver:x:rate5m"}},
		{`a / on (instance, job) b > 0.95`, []string{"a", "b"}},
		{`go_gc_gomemlimit_bytes{job="$job"} < 1e15`, []string{"go_gc_gomemlimit_bytes"}},
		{`increase(c_total[1h]) > 0 and ignoring(x) d offset 5m`, []string{"c_total", "d"}},
		{`time() - process_start_time_seconds{a="}"}`, []string{"process_start_time_seconds"}},
		{`sum without (le) (rate(h[$__rate_interval]))`, []string{"h"}},
		{`absent(up{job="quaver"})`, []string{"up"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func FuzzMetricNames(f *testing.F) {
	f.Add(`histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b"}[5m])))`)
	f.Add(`a / on (b) c > 1e15 unless d offset 5m`)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, n := range metricNames(expr) {
			if n == "" || strings.ContainsAny(n, " ({[\"") {
				t.Fatalf("metricNames(%q) returned %q", expr, n)
			}
		}
	})
}
