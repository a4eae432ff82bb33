package pod

import (
	"reflect"
	"testing"
)

// fill sets every settable field under v to a value that is not zero: each
// pointer to a new value, each slice and map to two elements.
func fill(v reflect.Value, depth int) {
	if depth > 12 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			if k.Kind() == reflect.String {
				k.SetString(string(rune('a' + i)))
			} else {
				fill(k, depth+1)
			}
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, depth+1)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.String:
		v.SetString("x" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	}
}

// shared fails when a and b, equal, share a pointer, a slice's array or a
// map anywhere.
func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the copy shares the pointer", path)
			return
		}
		shared(t, path, a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the copy shares the slice", path)
			return
		}
		for i := range a.Len() {
			shared(t, path+"[]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the copy shares the map", path)
			return
		}
		for it := a.MapRange(); it.Next(); {
			shared(t, path+"[k]", it.Value(), b.MapIndex(it.Key()))
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}

func TestDeepCopyCopiesEverything(t *testing.T) {
	var p Pod
	fill(reflect.ValueOf(&p).Elem(), 0)
	if len(p.Spec.Processes) == 0 || len(p.Spec.Processes[0].Command) == 0 || len(p.Metadata.Labels) == 0 {
		t.Fatal("fill left the pod empty")
	}
	c := p.DeepCopy()
	if !reflect.DeepEqual(&p, c) {
		t.Fatal("the copy differs from the pod")
	}
	shared(t, "pod", reflect.ValueOf(&p).Elem(), reflect.ValueOf(c).Elem())
	// A change to the copy leaves the pod as it was.
	c.Spec.Processes[0].Command[0] = "changed"
	c.Metadata.Labels["a"] = "changed"
	if p.Spec.Processes[0].Command[0] == "changed" || p.Metadata.Labels["a"] == "changed" {
		t.Fatal("a change to the copy reached the pod")
	}
	if (*Pod)(nil).DeepCopy() != nil {
		t.Fatal("the copy of nil is not nil")
	}
}
