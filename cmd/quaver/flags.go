package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlags returns a flag set for a subcommand whose errors are reported once, by run.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("quaver "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is the environment variable equivalent of a flag.
func envName(flagName string) string {
	return "QUAVER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command line
// from its QUAVER_* environment variable. Flags may follow positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errUsage
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return positional, err
}

// help prints the list of commands, or one command's flags.
func help(w io.Writer, topic string) error {
	if topic == "" {
		fmt.Fprintln(w, "quaver: a Discord music bot with its own audio engine")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "usage: quaver <command> [flags] [arguments]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "commands:")
		for _, c := range commands() {
			fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Every flag can also be set by an environment variable: --some-flag is QUAVER_SOME_FLAG.")
		fmt.Fprintln(w, "QUAVER_LOG_LEVEL (debug, info, warn, error) sets the log level.")
		fmt.Fprintln(w, "Run 'quaver help <command>' for a command's flags.")
		return nil
	}
	for _, c := range commands() {
		if c.name == topic {
			fmt.Fprintf(w, "quaver %s: %s\n\n", c.name, c.summary)
			fs := newFlags(c.name, w)
			c.flags(fs)
			fs.VisitAll(func(f *flag.Flag) {
				fmt.Fprintf(w, "  --%s (env %s, default %q)\n      %s\n", f.Name, envName(f.Name), f.DefValue, f.Usage)
			})
			return nil
		}
	}
	return fmt.Errorf("no command %q", topic)
}
