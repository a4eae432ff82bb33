package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The shell scripts of `podvisor completion SHELL`: bash and zsh ask the
// binary for its candidates (urfave/cli's --generate-bash-completion),
// fish gets a static script generated from the commands and flags.
const bashCompletion = `# podvisor bash completion: source it, or put it in
# /etc/bash_completion.d/podvisor (podvisor completion bash > ...).
_podvisor_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "${cur}" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _podvisor_complete podvisor
`

const zshCompletion = `#compdef podvisor
# podvisor zsh completion: put it in a directory of $fpath as _podvisor
# (podvisor completion zsh > "${fpath[1]}/_podvisor").
_podvisor() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _podvisor podvisor
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "SHELL",
		Action: func(c *cli.Context) error {
			shell, err := oneArg(c, "SHELL")
			if err != nil {
				return err
			}
			switch shell {
			case "bash":
				_, err = fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				var s string
				if s, err = c.App.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(c.App.Writer, s)
				}
			default:
				return fmt.Errorf("completion: unknown shell %q: bash, zsh or fish", shell)
			}
			return err
		},
	}
}
