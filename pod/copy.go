package pod

import "reflect"

// DeepCopy returns a copy of the pod that shares no memory with it: every
// pointer, slice and map is copied, at every depth. It is what a
// supervisor keeps of a spec it is given, so that the caller may change or
// reuse its own.
func (p *Pod) DeepCopy() *Pod {
	if p == nil {
		return nil
	}
	out := new(Pod)
	deepCopy(reflect.ValueOf(out).Elem(), reflect.ValueOf(p).Elem())
	return out
}

// deepCopy sets dst, settable, to a copy of src that shares no pointer,
// slice or map with it. Unexported struct fields (none in the pod types
// but those of values such as time.Time) are copied as they are.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		v := reflect.New(src.Type().Elem())
		deepCopy(v.Elem(), src.Elem())
		dst.Set(v)
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		v := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if plain(src.Type().Elem()) {
			reflect.Copy(v, src)
		} else {
			for i := range src.Len() {
				deepCopy(v.Index(i), src.Index(i))
			}
		}
		dst.Set(v)
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		v := reflect.MakeMapWithSize(src.Type(), src.Len())
		et := src.Type().Elem()
		for it := src.MapRange(); it.Next(); {
			e := reflect.New(et).Elem()
			deepCopy(e, it.Value())
			v.SetMapIndex(it.Key(), e)
		}
		dst.Set(v)
	case reflect.Struct:
		dst.Set(src)
		for i := range src.NumField() {
			if f := dst.Field(i); f.CanSet() && !plain(f.Type()) {
				deepCopy(f, src.Field(i))
			}
		}
	case reflect.Array:
		dst.Set(src)
		if !plain(src.Type().Elem()) {
			for i := range src.Len() {
				deepCopy(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Interface:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		deepCopy(v, src.Elem())
		dst.Set(v)
	default:
		dst.Set(src)
	}
}

// plain reports whether values of t hold no pointer, slice, map or
// interface, so that a copy of the value is a deep copy.
func plain(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return false
	case reflect.Array:
		return plain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !plain(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
}
