package pod_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// loadErr loads doc, which must be invalid, and returns its error message.
func loadErr(t *testing.T, doc string) string {
	t.Helper()
	p, err := pod.Load([]byte(doc))
	if err == nil {
		t.Fatalf("Load succeeded: %+v", p.Spec)
	}
	if !errors.Is(err, pod.ErrInvalid) {
		t.Fatalf("error %v does not match ErrInvalid", err)
	}
	return err.Error()
}

func TestGracePeriod(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want time.Duration
	}{
		{0, 0},
		{30, 30 * time.Second},
		{pod.MaxGracePeriodSeconds, time.Duration(pod.MaxGracePeriodSeconds) * time.Second},
	} {
		if d, err := pod.GracePeriod(c.in); err != nil || d != c.want {
			t.Errorf("GracePeriod(%d) = %v, %v; want %v", c.in, d, err, c.want)
		}
	}
	if d := time.Duration(pod.MaxGracePeriodSeconds) * time.Second; d <= 0 || d/time.Second != time.Duration(pod.MaxGracePeriodSeconds) {
		t.Errorf("MaxGracePeriodSeconds overflows: %v", d)
	}
	for _, in := range []int64{-1, pod.MaxGracePeriodSeconds + 1, 18446744073 /* the API's ?timeout= that wrapped */, 1<<63 - 1, -1 << 63} {
		d, err := pod.GracePeriod(in)
		var fe *pod.FieldError
		if err == nil || !errors.Is(err, pod.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "" {
			t.Errorf("GracePeriod(%d) = %v, %v; want a *FieldError without a field", in, d, err)
		}
	}
}

// A grace period whose seconds*time.Second overflowed wrapped to 0 or a
// negative duration: the pod was SIGKILLed at once.
func TestGracePeriodTooLargeRefused(t *testing.T) {
	for _, g := range []string{"9223372037", "9223372036854775807", "18446744073"} {
		got := loadErr(t, withSpec("  terminationGracePeriodSeconds: "+g+"\n  processes: [{name: a, command: [x]}]\n"))
		want := "spec.terminationGracePeriodSeconds: must be at most 9223372036 (about 292 years), got " + g
		if got != want {
			t.Errorf("grace %s: got %q, want %q", g, got, want)
		}
	}
	p := mustLoad(t, withSpec("  terminationGracePeriodSeconds: 9223372036\n  processes: [{name: a, command: [x]}]\n"))
	if g := *p.Spec.TerminationGracePeriodSeconds; g != pod.MaxGracePeriodSeconds {
		t.Errorf("grace = %d", g)
	}
	if got := loadErr(t, withSpec("  terminationGracePeriodSeconds: -1\n  processes: [{name: a, command: [x]}]\n")); got != "spec.terminationGracePeriodSeconds: must be an integer >= 0" {
		t.Errorf("negative grace: %q", got)
	}
}

// A quantity of 400,000 digits took 17.8 s of big.Rat arithmetic.
func TestQuantityTooLongRefused(t *testing.T) {
	huge := "0." + strings.Repeat("1", 400000)
	start := time.Now()
	got := loadErr(t, oneProcess("    resources: {limits: {cpu: \""+huge+"\"}}\n"))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
	want := `spec.processes[0].resources.limits.cpu: invalid quantity "` + huge[:100] + `"... (400002 bytes): longer than 64 bytes`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The bound itself.
	ok := "1" + strings.Repeat("0", pod.MaxQuantityLength-3) + "Mi"
	if _, err := pod.ParseQuantity(ok); err != nil {
		t.Errorf("%d bytes: %v", len(ok), err)
	}
	if _, err := pod.ParseQuantity("0" + ok); err == nil || !strings.Contains(err.Error(), "longer than 64 bytes") {
		t.Errorf("%d bytes: %v", len(ok)+1, err)
	}
}

// A large exponent is worked out cheaply and gives what it always gave:
// 10^999999 took 35 ms to compute, for each alias of it.
func TestQuantityHugeExponentCheap(t *testing.T) {
	for _, c := range []struct {
		in           string
		milli, value int64
	}{
		{"1e999999", 1<<63 - 1, 1<<63 - 1},
		{"1e201", 1<<63 - 1, 1<<63 - 1},
		{"-1e999999", -1 << 63, -1 << 63},
		{"1e-999999", 1, 1},
		{"0.5e-999998", 1, 1},
		{"-1e-999999", 0, 0},
		{"0e99999999999", 0, 0},
		{"1e18", 1<<63 - 1, 1e18},
		{"1e-3", 1, 1},
	} {
		q, err := pod.ParseQuantity(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if q.Milli() != c.milli || q.Value() != c.value {
			t.Errorf("%s: Milli %d Value %d, want %d %d", c.in, q.Milli(), q.Value(), c.milli, c.value)
		}
	}
	for _, in := range []string{"1e1000001", "1e-1000001", "0.01e1000003", "1e99999999999999999999"} {
		if _, err := pod.ParseQuantity(in); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	// 2000 processes (duplicates, so invalid) share one aliased memory
	// limit; each used to cost tens of milliseconds.
	doc := withSpec("  processes:\n  - &p {name: a, command: [x], resources: {limits: {memory: 1e999999}}}\n" + strings.Repeat("  - *p\n", 2000))
	start := time.Now()
	got := loadErr(t, doc)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if !strings.HasPrefix(got, `spec.processes[1].name: duplicate name "a"`) || strings.Contains(got, "memory") {
		t.Errorf("got %.200s", got)
	}
}

// A 115 kB file that aliases a 100 kB text 15,000 times took 32 s and
// made a 1.5 GB error.
func TestAliasedTextBounded(t *testing.T) {
	big := strings.Repeat("A", 100000)
	doc := withSpec("  processes:\n  - &p {name: &b " + big + ", command: [x], user: *b, workingDir: *b}\n  initProcesses: [" + strings.Repeat("*p,", 5000) + "*p]\n")
	start := time.Now()
	got := loadErr(t, doc)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if got != "pod file too complex: more than 4 MiB of text once aliases are expanded" {
		t.Errorf("got %.300s", got)
	}
	// Less than the bound is fine, once.
	fine := withSpec("  processes:\n  - {name: a, command: [x], env: [{name: A, value: &v " + strings.Repeat("v", 1<<20) + "}, {name: B, value: *v}, {name: C, value: *v}]}\n")
	mustLoad(t, fine)
}

// A huge value is cut in error messages.
func TestErrorQuotesCut(t *testing.T) {
	got := loadErr(t, oneProcess("    workingDir: "+strings.Repeat("r", 1<<20)+"\n"))
	want := `spec.processes[0].workingDir: must be an absolute path, got "` + strings.Repeat("r", 100) + `"... (1048576 bytes)`
	if got != want {
		t.Errorf("got %.300s", got)
	}
}

func TestNULReportedPrecisely(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{oneProcess(`    workingDir: "/srv\0"` + "\n"), "spec.processes[0].workingDir: must not contain a NUL byte"},
		{oneProcess(`    workingDir: "srv\0"` + "\n"), "spec.processes[0].workingDir: must not contain a NUL byte"},
		{oneProcess(`    user: "bob\0"` + "\n"), "spec.processes[0].user: must not contain a NUL byte"},
		{oneProcess(`    user: "1000:\0"` + "\n"), "spec.processes[0].user: must not contain a NUL byte"},
		{oneProcess(`    env: [{name: "A\0", value: x}]` + "\n"), "spec.processes[0].env[0].name: must not contain a NUL byte"},
		{oneProcess(`    env: [{name: A, value: "x\0"}]` + "\n"), "spec.processes[0].env[0].value: must not contain a NUL byte"},
		{oneProcess(`    args: [ok, "a\0b"]` + "\n"), "spec.processes[0].args[1]: must not contain a NUL byte"},
		{withSpec(`  processes: [{name: a, command: ["x\0"]}]` + "\n"), "spec.processes[0].command[0]: must not contain a NUL byte"},
		{withSpec(`  processes: [{name: "a\0", command: [x]}]` + "\n"), "spec.processes[0].name: must not contain a NUL byte"},
		{withSpec(`  initProcesses: [{name: "i\0", command: [x]}]` + "\n  processes: [{name: a, command: [x]}]\n"), "spec.initProcesses[0].name: must not contain a NUL byte"},
		{withSpec(`  hostname: "h\0"` + "\n  processes: [{name: a, command: [x]}]\n"), "spec.hostname: must not contain a NUL byte"},
		{"apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: \"w\\0\"}\nspec: {processes: [{name: a, command: [x]}]}\n", "metadata.name: must not contain a NUL byte"},
	} {
		if got := loadErr(t, c.doc); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if err := pod.ValidateName("a\x00"); err == nil || err.Error() != "metadata.name: must not contain a NUL byte" {
		t.Errorf("ValidateName: %v", err)
	}
}

// user: "4294967295" is (uid_t)-1: the start failed with "invalid argument".
func TestUserIDRange(t *testing.T) {
	for _, c := range []struct{ user, want string }{
		{"4294967295", `spec.processes[0].user: invalid user "4294967295": uid must be at most 4294967294`},
		{"4294967296", `spec.processes[0].user: invalid user "4294967296": uid must be at most 4294967294`},
		{"99999999999999999999999", `spec.processes[0].user: invalid user "99999999999999999999999": uid must be at most 4294967294`},
		{"0:4294967295", `spec.processes[0].user: invalid user "0:4294967295": gid must be at most 4294967294`},
		{"bob:4294967295", `spec.processes[0].user: invalid user "bob:4294967295": gid must be at most 4294967294`},
	} {
		if got := loadErr(t, oneProcess("    user: \""+c.user+"\"\n")); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if got := loadErr(t, oneProcess("    user: \"4294967295:4294967295\"\n")); got != `spec.processes[0].user: invalid user "4294967295:4294967295": uid must be at most 4294967294`+"\n"+`spec.processes[0].user: invalid user "4294967295:4294967295": gid must be at most 4294967294` {
		t.Errorf("both: %q", got)
	}
	for _, user := range []string{"4294967294", "4294967294:4294967294", "0", "00004294967294", "1000:staff", "bob", "4294967295x", "4294967295$"} {
		mustLoad(t, oneProcess("    user: \""+user+"\"\n"))
	}
	if pod.MaxID != 4294967294 {
		t.Errorf("MaxID = %d", pod.MaxID)
	}
}

// A text field may hold characters YAML does not allow raw (written as
// escapes in the file); their JSON, which the daemon keeps as spec.json and
// loads again as YAML, was refused: "control characters are not allowed".
func TestJSONOfControlCharactersLoadsAgain(t *testing.T) {
	p := mustLoad(t, oneProcess(`    workingDir: "/\x80\x85\x7f\x9f"`+"\n"+`    args: ["\uFEFF\uFFFE\uFFFF", "\u2028\u2029\x1b\t", "é😀"]`+"\n"+`    env: [{name: A, value: "\x85"}]`+"\n"))
	for _, indent := range []bool{false, true} {
		var b []byte
		var err error
		if indent {
			b, err = json.MarshalIndent(p, "", "  ")
		} else {
			b, err = json.Marshal(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		again, err := pod.Load(b)
		if err != nil {
			t.Fatalf("Load of its JSON: %v\n%s", err, b)
		}
		pr := again.Spec.Processes[0]
		if pr.WorkingDir != "/\u0080\u0085\u007f\u009f" || strings.Join(pr.Args, "|") != "\ufeff\ufffe\uffff|\u2028\u2029\x1b\t|é😀" || pr.Env[0].Value != "\u0085" {
			t.Errorf("round trip: %q %q %q", pr.WorkingDir, pr.Args, pr.Env[0].Value)
		}
		var viaJSON pod.Pod
		if err := json.Unmarshal(b, &viaJSON); err != nil || viaJSON.Spec.Processes[0].WorkingDir != pr.WorkingDir {
			t.Errorf("encoding/json: %v %q", err, viaJSON.Spec.Processes[0].WorkingDir)
		}
	}
}

// An alias inside its own anchor's value used to be walked 100,000 times
// before being called "too complex".
func TestAliasCycleReported(t *testing.T) {
	for _, doc := range []string{
		withSpec("  processes: &a [*a]\n"),
		withSpec("  processes: &a [{name: a, command: [x], args: &b [*a]}]\n"),
	} {
		if got := loadErr(t, doc); got != `anchor "a": its value contains an alias to itself` {
			t.Errorf("got %q", got)
		}
	}
	// An alias to an anchor that is not open is no cycle.
	mustLoad(t, withSpec("  processes: [{name: a, command: &c [x]}, {name: b, command: *c}]\n"))
}
