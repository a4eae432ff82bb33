package pod

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Quantity is a Kubernetes resource quantity such as "500m", "1.5", "256Mi"
// or "1e3". It keeps the text as written and its exact value.
type Quantity struct {
	text  string
	value *big.Rat
}

var quantitySuffixes = []struct {
	suffix string
	factor *big.Rat
}{
	// Longest first so "Mi" wins over "M" and "m".
	{"Ki", pow(2, 10)}, {"Mi", pow(2, 20)}, {"Gi", pow(2, 30)},
	{"Ti", pow(2, 40)}, {"Pi", pow(2, 50)}, {"Ei", pow(2, 60)},
	{"n", new(big.Rat).SetFrac64(1, 1_000_000_000)},
	{"u", new(big.Rat).SetFrac64(1, 1_000_000)},
	{"m", new(big.Rat).SetFrac64(1, 1000)},
	{"k", pow(10, 3)}, {"M", pow(10, 6)}, {"G", pow(10, 9)},
	{"T", pow(10, 12)}, {"P", pow(10, 15)}, {"E", pow(10, 18)},
}

func pow(base, exp int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
}

// MaxQuantityLength is the longest quantity accepted, in bytes. No
// meaningful quantity comes near it (the largest int64 has 19 digits), and
// it keeps the work of parsing and comparing quantities small whatever the
// input: exact arithmetic on a number of 400,000 digits takes seconds.
const MaxQuantityLength = 64

// maxExponent bounds the decimal exponent a quantity is worked out with. A
// quantity of at most MaxQuantityLength characters with a larger exponent
// is beyond 10^(maxExponent-MaxQuantityLength) or below its inverse, so it
// saturates Milli and Value, or rounds up to 1 or down to 0 in them, just
// as it would with its own exponent: only the cost changes (10^999999 takes
// tens of milliseconds, and aliases can repeat it).
const maxExponent = 200

// ParseQuantity parses a quantity. Signs and exponents follow Kubernetes: an
// optional sign, a decimal number, then a binary suffix (Ki…Ei), a decimal
// suffix (n, u, m, k, M, G, T, P, E) or a decimal exponent (e3, E-2). A
// quantity longer than MaxQuantityLength bytes is refused.
func ParseQuantity(s string) (Quantity, error) {
	if len(s) > MaxQuantityLength {
		return Quantity{}, fmt.Errorf("invalid quantity %s: longer than %d bytes", quote(s), MaxQuantityLength)
	}
	bad := fmt.Errorf("invalid quantity %s", quote(s))
	num := strings.TrimSpace(s)
	if num == "" || num != s {
		return Quantity{}, bad
	}
	factor := big.NewRat(1, 1)
	suffixed := false
	for _, sf := range quantitySuffixes {
		if strings.HasSuffix(num, sf.suffix) {
			num = strings.TrimSuffix(num, sf.suffix)
			factor, suffixed = sf.factor, true
			break
		}
	}
	// "1E" is a suffix and "1e3" an exponent, but never both: "1e3Mi" is bad.
	if num == "" || !isDecimal(num) || suffixed && strings.ContainsAny(num, "eE") {
		return Quantity{}, bad
	}
	exp := int64(0)
	if i := strings.IndexAny(num, "eE"); i >= 0 {
		var err error
		if exp, err = strconv.ParseInt(num[i+1:], 10, 64); err != nil {
			return Quantity{}, bad
		}
		num, exp = num[:i], max(min(exp, 1e9), -1e9)
	}
	// The bound math/big has always put on the decimal exponent of a
	// number other than 0, fraction digits included: beyond 10^±1000000
	// is an error.
	e := exp
	if i := strings.IndexByte(num, '.'); i >= 0 {
		e -= int64(len(num) - i - 1)
	}
	if (e > 1e6 || e < -1e6) && strings.Trim(num, "+-.0") != "" {
		return Quantity{}, bad
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return Quantity{}, bad
	}
	if exp = max(min(exp, maxExponent), -maxExponent); exp > 0 {
		v.Mul(v, pow(10, exp))
	} else if exp < 0 {
		v.Quo(v, pow(10, -exp))
	}
	return Quantity{text: s, value: v.Mul(v, factor)}, nil
}

// isDecimal accepts [+-]digits[.digits][(e|E)[+-]digits].
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// MustParseQuantity is ParseQuantity for constants in code and tests; it
// panics on a bad quantity.
func MustParseQuantity(s string) *Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(err)
	}
	return &q
}

// String returns the quantity as written.
func (q Quantity) String() string { return q.text }

// Sign is -1, 0 or +1.
func (q Quantity) Sign() int {
	if q.value == nil {
		return 0
	}
	return q.value.Sign()
}

// Milli returns the value times 1000, rounded up (CPU in millicores).
func (q Quantity) Milli() int64 {
	return ceil(new(big.Rat).Mul(q.rat(), big.NewRat(1000, 1)))
}

// Value returns the value rounded up to an integer (memory in bytes).
func (q Quantity) Value() int64 { return ceil(q.rat()) }

func (q Quantity) rat() *big.Rat {
	if q.value == nil {
		return new(big.Rat)
	}
	return q.value
}

// ceil rounds up and saturates at the int64 range.
func ceil(r *big.Rat) int64 {
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if r.Sign() > 0 && new(big.Rat).SetInt(n).Cmp(r) != 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() {
		if n.Sign() > 0 {
			return 1<<63 - 1
		}
		return -1 << 63
	}
	return n.Int64()
}

// MarshalText writes the quantity as written.
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.text), nil }

// UnmarshalText parses a quantity.
func (q *Quantity) UnmarshalText(b []byte) error {
	v, err := ParseQuantity(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// Cmp compares q with r: -1 when q < r, 0 when equal, +1 when q > r.
func (q Quantity) Cmp(r Quantity) int { return q.rat().Cmp(r.rat()) }
