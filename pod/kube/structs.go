package kube

import (
	"reflect"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The types the decoder reads as scalars, not by their Go shape.
var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
	timeType        = reflect.TypeFor[metav1.Time]()
	microTimeType   = reflect.TypeFor[metav1.MicroTime]()
	rawType         = reflect.TypeFor[runtime.RawExtension]()
	bytesType       = reflect.TypeFor[[]byte]()
	typeMetaType    = reflect.TypeFor[metav1.TypeMeta]()
)

// canonRoots gives the types that appear in several places of a manifest
// the short name their fields have in the field table: a Container's
// command is "container.command" whether it is one of spec.containers or
// of spec.initContainers, and a Deployment's pod template spec is "spec"
// as a Pod's is.
var canonRoots = map[reflect.Type]string{
	reflect.TypeFor[metav1.ObjectMeta]():       "metadata",
	reflect.TypeFor[corev1.PodSpec]():          "spec",
	reflect.TypeFor[corev1.Container]():        "container",
	reflect.TypeFor[corev1.Probe]():            "probe",
	reflect.TypeFor[corev1.LifecycleHandler](): "hook",
	reflect.TypeFor[corev1.PodTemplateSpec]():  "template",
	reflect.TypeFor[metav1.LabelSelector]():    "selector",
	reflect.TypeFor[corev1.Pod]():              "Pod",
	reflect.TypeFor[appsv1.Deployment]():       "Deployment",
	reflect.TypeFor[appsv1.ReplicaSet]():       "ReplicaSet",
	reflect.TypeFor[appsv1.StatefulSet]():      "StatefulSet",
	reflect.TypeFor[appsv1.DaemonSet]():        "DaemonSet",
	reflect.TypeFor[batchv1.Job]():             "Job",
	reflect.TypeFor[corev1.ConfigMap]():        "ConfigMap",
	reflect.TypeFor[corev1.Secret]():           "Secret",
	reflect.TypeFor[metav1.List]():             "List",
}

// fieldInfo is one JSON field of a struct, embedded structs flattened.
type fieldInfo struct {
	name  string
	index []int
	// typeMeta marks apiVersion and kind, whose table path is the bare
	// name whatever the object.
	typeMeta bool
}

// structInfo is the JSON fields of a struct type.
type structInfo struct {
	byName map[string]*fieldInfo
	list   []*fieldInfo // in declaration order
}

var structCache sync.Map // reflect.Type -> *structInfo

// fieldsOf returns the JSON fields of struct type t as encoding/json sees
// them: the json tag's name, embedded structs without a name inlined.
func fieldsOf(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]*fieldInfo{}}
	var add func(t reflect.Type, prefix []int, typeMeta bool)
	add = func(t reflect.Type, prefix []int, typeMeta bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			index := append(append([]int(nil), prefix...), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				add(f.Type, index, f.Type == typeMetaType)
				continue
			}
			if name == "" {
				name = f.Name
			}
			fi := &fieldInfo{name: name, index: index, typeMeta: typeMeta}
			si.byName[name] = fi
			si.list = append(si.list, fi)
		}
	}
	add(t, nil, false)
	actual, _ := structCache.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// childCanon is the table path of field f of a struct whose table path is
// canon.
func childCanon(canon string, f *fieldInfo) string {
	if f.typeMeta || canon == "" {
		return f.name
	}
	return canon + "." + f.name
}

// elemType strips pointers.
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isLeafType reports whether values of t are read as one scalar or a map,
// with no table paths below them.
func isLeafType(t reflect.Type) bool {
	t = elemType(t)
	switch t {
	case quantityType, intOrStringType, timeType, microTimeType, rawType, bytesType:
		return true
	}
	return t.Kind() != reflect.Struct && t.Kind() != reflect.Slice || t.Kind() == reflect.Slice && isLeafType(t.Elem()) && elemType(t.Elem()).Kind() != reflect.Struct
}

// walkTypes calls fn with the table path of every field below struct type
// t (whose own table path is canon), depth first. fn returns false to skip
// a field's subtree. A type with a table name of its own (canonRoots) is
// walked once.
func walkTypes(t reflect.Type, canon string, seen map[string]bool, fn func(path string, t reflect.Type) bool) {
	t = elemType(t)
	if root, ok := canonRoots[t]; ok {
		canon = root
	}
	if seen[canon] {
		return
	}
	seen[canon] = true
	for _, f := range fieldsOf(t).list {
		ft := t.FieldByIndex(f.index).Type
		path := childCanon(canon, f)
		if !fn(path, ft) {
			continue
		}
		et := elemType(ft)
		sub := path
		for et.Kind() == reflect.Slice && et != bytesType {
			et = elemType(et.Elem())
			sub += "[]"
		}
		if et.Kind() == reflect.Struct && !isLeafType(et) {
			walkTypes(et, sub, seen, fn)
		}
	}
}
