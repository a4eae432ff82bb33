package pod

import "strings"

// Expand replaces $(VAR) references in input as Kubernetes does in command,
// args, env values and subPathExpr (its third_party/forked/golang/expansion,
// ported): $(NAME) becomes lookup(NAME) when lookup knows NAME and stays as
// written otherwise; $$ is a literal $ (so $$(NAME) is the text "$(NAME)");
// any other $, and an unclosed "$(", is kept and the scan goes on after it.
func Expand(input string, lookup func(string) (string, bool)) string {
	if strings.IndexByte(input, '$') < 0 {
		return input
	}
	var buf strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] != '$' || cursor+1 == len(input) {
			continue
		}
		buf.WriteString(input[checkpoint:cursor])
		read, isVar, advance := readVariableName(input[cursor+1:])
		if isVar {
			if v, ok := lookup(read); ok {
				buf.WriteString(v)
			} else {
				buf.WriteString("$(" + read + ")")
			}
		} else {
			buf.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	return buf.String() + input[checkpoint:]
}

// readVariableName reads what follows a $: the text to write, whether it
// is a variable's name, and how many bytes it took.
func readVariableName(input string) (string, bool, int) {
	switch input[0] {
	case '$':
		return "$", false, 1
	case '(':
		for i := 1; i < len(input); i++ {
			if input[i] == ')' {
				return input[1:i], true, i + 1
			}
		}
		return "$(", false, 1
	default:
		return "$" + input[:1], false, 1
	}
}
