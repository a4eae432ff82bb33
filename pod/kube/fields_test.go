package kube

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rootTypes are the objects whose every field the table must list.
var rootTypes = []reflect.Type{
	reflect.TypeFor[corev1.Pod](),
	reflect.TypeFor[appsv1.Deployment](),
	reflect.TypeFor[appsv1.ReplicaSet](),
	reflect.TypeFor[appsv1.StatefulSet](),
	reflect.TypeFor[appsv1.DaemonSet](),
	reflect.TypeFor[batchv1.Job](),
	reflect.TypeFor[corev1.ConfigMap](),
	reflect.TypeFor[corev1.Secret](),
	reflect.TypeFor[metav1.List](),
}

// TestTableCoversAPI walks the k8s.io/api types by reflection: every field
// path must have a row (a row that is not honoured covers its subtree), and
// every row must name a field that exists. A new k8s.io/api version that
// adds a field fails here until the field gets a row.
func TestTableCoversAPI(t *testing.T) {
	seen := map[string]bool{}
	visited := map[string]bool{}
	var missing []string
	for _, rt := range rootTypes {
		walkTypes(rt, "", seen, func(path string, ft reflect.Type) bool {
			visited[path] = true
			f, ok := table()[path]
			if !ok {
				missing = append(missing, path+" ("+ft.String()+")")
				return false
			}
			return f.Disposition == Honoured
		})
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("field %s has no row in the field table", m)
	}
	for _, f := range Fields() {
		if !visited[f.Path] {
			t.Errorf("row %s names no field of the API (or one under a row that covers its subtree)", f.Path)
		}
	}
}

func TestTableRows(t *testing.T) {
	for _, f := range Fields() {
		if f.Note == "" {
			t.Errorf("row %s has no note", f.Path)
		}
		if f.Default != "" && f.Disposition == Honoured {
			t.Errorf("row %s: an honoured row has no default", f.Path)
		}
		// The notice puts the note in parentheses: "X has no effect (note)".
		if f.Disposition == NoEffect && strings.ContainsAny(f.Note, "()") {
			t.Errorf("row %s: a no-effect note has no parentheses, they would nest in the notice: %q", f.Path, f.Note)
		}
	}
}
