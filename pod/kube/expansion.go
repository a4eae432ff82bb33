package kube

import "github.com/podvisor/podvisor/pod"

// The $(VAR) expansion of command, args and env values is pod.Expand (a
// port of Kubernetes' third_party/forked/golang/expansion).

const (
	operator        = '$'
	referenceOpener = '('
	referenceCloser = ')'
)

// syntaxWrap returns the input string wrapped by the expansion syntax.
func syntaxWrap(input string) string {
	return string(operator) + string(referenceOpener) + input + string(referenceCloser)
}

// mappingFuncFor returns a mapping function for use with expand that
// implements the expansion semantics defined in the expansion spec; it
// returns the input string wrapped in the expansion syntax if no mapping
// for the input is found.
func mappingFuncFor(context ...map[string]string) func(string) string {
	return func(input string) string {
		for _, vars := range context {
			if val, ok := vars[input]; ok {
				return val
			}
		}
		return syntaxWrap(input)
	}
}

// expand is pod.Expand with a mapping that wraps the names it does not
// know (mappingFuncFor).
func expand(input string, mapping func(string) string) string {
	return pod.Expand(input, func(name string) (string, bool) { return mapping(name), true })
}
