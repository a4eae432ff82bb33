package pod_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

func TestParseQuantityCPU(t *testing.T) {
	tests := []struct {
		in    string
		milli int64
	}{
		{"500m", 500},
		{"1.5", 1500},
		{"2", 2000},
		{"0.1", 100},
		{"1", 1000},
		{"250m", 250},
		{"1000m", 1000},
		{"0.5", 500},
		{".5", 500},
		{"+2", 2000},
		{"100u", 1},      // 0.1 millicore rounds up
		{"1n", 1},        // rounds up
		{"1.0001", 1001}, // rounds up
		{"1e-3", 1},
		{"2E0", 2000},
		{"1k", 1_000_000},
		{"0", 0},
		{"0m", 0},
		{"-500m", -500},
		{"-1.5", -1500},
		{"-0.0001", 0}, // rounds up towards zero
	}
	for _, tt := range tests {
		q, err := pod.ParseQuantity(tt.in)
		if err != nil {
			t.Errorf("ParseQuantity(%q): %v", tt.in, err)
			continue
		}
		if got := q.Milli(); got != tt.milli {
			t.Errorf("ParseQuantity(%q).Milli() = %d, want %d", tt.in, got, tt.milli)
		}
		if q.String() != tt.in {
			t.Errorf("ParseQuantity(%q).String() = %q", tt.in, q.String())
		}
	}
}

func TestParseQuantityMemory(t *testing.T) {
	tests := []struct {
		in    string
		value int64
	}{
		{"256Mi", 268435456},
		{"1G", 1e9},
		{"1e3", 1000},
		{"1E3", 1000},
		{"1e+3", 1000},
		{"1Ki", 1024},
		{"1Mi", 1 << 20},
		{"1Gi", 1 << 30},
		{"1Ti", 1 << 40},
		{"1Pi", 1 << 50},
		{"1Ei", 1 << 60},
		{"1.5Gi", 3 << 29},
		{"0.5Ki", 512},
		{"1k", 1000},
		{"1M", 1e6},
		{"2T", 2e12},
		{"1P", 1e15},
		{"1E", 1e18},
		{"1048576", 1 << 20},
		{"129M", 129e6},
		{"123Mi", 123 << 20},
		{"1m", 1},              // a thousandth of a byte rounds up
		{"1.5", 2},             // rounds up
		{"10E", math.MaxInt64}, // saturates
		{"-10E", math.MinInt64}, {"8Ei", math.MaxInt64}, {"9E", 9e18},
		{"1e100", math.MaxInt64},
	}
	for _, tt := range tests {
		q, err := pod.ParseQuantity(tt.in)
		if err != nil {
			t.Errorf("ParseQuantity(%q): %v", tt.in, err)
			continue
		}
		if got := q.Value(); got != tt.value {
			t.Errorf("ParseQuantity(%q).Value() = %d, want %d", tt.in, got, tt.value)
		}
		if got := q.Sign(); (got > 0) != (tt.value > 0) || (got < 0) != (tt.value < 0) {
			t.Errorf("ParseQuantity(%q).Sign() = %d", tt.in, got)
		}
	}
}

func TestParseQuantityInvalid(t *testing.T) {
	for _, in := range []string{
		"lots", "", "1.2.3", "Mi", "1 Mi", "--1", " 1", "1 ", "1Mib", "1mi", "1KI",
		"m", ".", "+", "-", "1e", "1e+", "e3", "1..2", "0x10", "1,5", "1_000",
		"Ki1", "1iK", "1/2", "NaN", "Inf", "1e3.5", "١",
		"1e10000000", // an exponent too large for math/big
	} {
		q, err := pod.ParseQuantity(in)
		if err == nil {
			t.Errorf("ParseQuantity(%q) = %v, want an error", in, q)
			continue
		}
		if want := `invalid quantity "` + in + `"`; err.Error() != want {
			t.Errorf("ParseQuantity(%q) error = %q, want %q", in, err, want)
		}
		var u pod.Quantity
		if err := u.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", in)
		}
	}
}

func TestQuantityZero(t *testing.T) {
	var q pod.Quantity
	if q.Sign() != 0 || q.Milli() != 0 || q.Value() != 0 || q.String() != "" {
		t.Errorf("zero Quantity = sign %d milli %d value %d %q", q.Sign(), q.Milli(), q.Value(), q.String())
	}
	for _, in := range []string{"0", "0m", "0Mi", "-0", "0.0"} {
		if s := pod.MustParseQuantity(in).Sign(); s != 0 {
			t.Errorf("Sign(%q) = %d", in, s)
		}
	}
	if s := pod.MustParseQuantity("-1n").Sign(); s != -1 {
		t.Errorf("Sign(-1n) = %d", s)
	}
	if s := pod.MustParseQuantity("1n").Sign(); s != 1 {
		t.Errorf("Sign(1n) = %d", s)
	}
}

func TestMustParseQuantity(t *testing.T) {
	if got := pod.MustParseQuantity("64Mi").Value(); got != 64<<20 {
		t.Errorf("MustParseQuantity(64Mi) = %d", got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("MustParseQuantity(lots) did not panic")
		}
	}()
	pod.MustParseQuantity("lots")
}

func TestQuantityText(t *testing.T) {
	for _, in := range []string{"500m", "1.5", "256Mi", "1e3", "1G"} {
		var q pod.Quantity
		if err := q.UnmarshalText([]byte(in)); err != nil {
			t.Fatalf("UnmarshalText(%q): %v", in, err)
		}
		b, err := q.MarshalText()
		if err != nil || string(b) != in {
			t.Errorf("MarshalText = %q, %v; want %q", b, err, in)
		}
		j, err := json.Marshal(pod.Limits{CPU: &q})
		if err != nil || string(j) != `{"cpu":"`+in+`"}` {
			t.Errorf("json.Marshal = %s, %v", j, err)
		}
	}
}
