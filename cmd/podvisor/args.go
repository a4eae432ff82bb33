package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags follow the arguments, as kubectl allows
// ("podvisor stop web --timeout 5", "podvisor logs web -f"): urfave/cli
// stops at the first argument, so flags found after it are moved in front.
// A global flag given after the command moves before the command. Nothing
// after "--" moves.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	globals := flagTable(app.Flags)
	// Find the command: the first token that is not a flag or a flag's
	// value. A flag the app does not know (a command's, such as --socket,
	// given before the command) takes the next token as its value unless
	// that token names a command.
	i := 1
	var early []string // command flags given before the command
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		name, hasValue := flagName(args[i])
		takesValue, known := globals[name]
		if !known {
			early = append(early, args[i])
			if !hasValue && i+1 < len(args) && app.Command(args[i+1]) == nil {
				early = append(early, args[i+1])
				i++
			}
			i++
			continue
		}
		i++
		if takesValue && !hasValue {
			i++
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	// A command with subcommands (network create): the path is the
	// command's words, the flags are the last one's.
	path := []string{args[i]}
	for len(cmd.Subcommands) > 0 && i+1 < len(args) {
		sub := cmd.Command(args[i+1])
		if sub == nil {
			break
		}
		cmd = sub
		i++
		path = append(path, args[i])
	}
	local := flagTable(cmd.Flags)
	var front, flags, positional []string
	for j := 1; j < i-len(path)+1; j++ {
		if !slices.Contains(early, args[j]) {
			front = append(front, args[j])
		}
	}
	front = append([]string{args[0]}, front...)
	flags = append(flags, early...)
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, hasValue := flagName(a)
		if takesValue, ok := globals[name]; ok {
			if _, shadowed := local[name]; !shadowed {
				front = append(front, a)
				if takesValue && !hasValue && j+1 < len(rest) {
					j++
					front = append(front, rest[j])
				}
				continue
			}
		}
		flags = append(flags, a)
		if takesValue, ok := local[name]; ok && takesValue && !hasValue && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append(front, path...)
	out = append(out, flags...)
	return append(out, positional...)
}

// flagTable maps each flag name and alias to whether it takes a value.
func flagTable(flags []cli.Flag) map[string]bool {
	t := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			t[n] = !isBool
		}
	}
	return t
}

func flagName(arg string) (name string, hasValue bool) {
	name = strings.TrimLeft(arg, "-")
	if k, _, ok := strings.Cut(name, "="); ok {
		return k, true
	}
	return name, false
}
