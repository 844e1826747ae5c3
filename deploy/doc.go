// Package deploy is Quaver's deployment kit for operators: Kubernetes
// manifests (kubernetes/, applied with kustomize), Prometheus recording and
// alerting rules (prometheus/rules.yaml) and a Grafana dashboard
// (grafana/quaver.json); docs/operations.md explains them.
//
// The package holds no code. Its test keeps the kit true to the binary: it
// builds cmd/quaver, runs `quaver serve --sandbox` with --metrics-addr
// 127.0.0.1:0 (reading the bound address from the startup line), checks
// that the probes' /healthz and /readyz answer and that every metric the
// rules and dashboard query is exported, that every QUAVER_* variable in the
// manifests and docs is a real setting, and that every file parses.
package deploy
