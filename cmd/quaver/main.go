// Command quaver is Quaver's one binary: the Discord music bot and its tools.
// Run `quaver help` for the subcommands and their flags; every flag can also
// be set by an environment variable QUAVER_<FLAG> (dashes become underscores).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"go.uber.org/automaxprocs/maxprocs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand. Each lives in its own file and adds itself to
// the list with register, from an init function.
type command struct {
	name    string
	summary string
	// flags registers the command's flags on fs (used for parsing and for help).
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var registry []command

// register adds a subcommand; the list is kept sorted by name.
func register(c command) {
	registry = append(registry, c)
	sort.Slice(registry, func(i, j int) bool { return registry[i].name < registry[j].name })
}

func commands() []command { return registry }

func init() {
	register(command{name: "version", summary: "print the version", flags: func(*flag.FlagSet) {},
		run: func(_ context.Context, _ []string, out, _ io.Writer) error {
			_, err := fmt.Fprintln(out, "quaver", version)
			return err
		}})
}

// errUsage marks an error whose message already explains the usage problem.
var errUsage = errors.New("usage")

func main() {
	// GOMAXPROCS from the container's CPU quota (automaxprocs), logged at debug level only.
	_, _ = maxprocs.Set(maxprocs.Logger(func(f string, a ...any) { slog.Debug(fmt.Sprintf(f, a...)) }))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})))
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		topic := ""
		if len(args) > 1 {
			topic = args[1]
		}
		if err := help(stdout, topic); err != nil {
			fmt.Fprintln(stderr, "quaver:", err)
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
			if errors.Is(err, errUsage) {
				return 2
			}
			fmt.Fprintln(stderr, "quaver "+c.name+":", oneLine(err.Error()))
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "quaver: unknown command %q (run 'quaver help')\n", args[0])
	return 2
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("QUAVER_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	out := []rune(s)
	for i, r := range out {
		if r == '\n' || r == '\r' {
			out[i] = ' '
		}
	}
	return string(out)
}
