package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
	"github.com/podvisor/podvisor/supervisor/api/manifest"
)

// kubeFlag is inspect's --kube.
func kubeFlag() cli.Flag {
	return &cli.BoolFlag{Name: "kube", Usage: "print the pod as a Kubernetes v1 Pod, with its status in Kubernetes' shape"}
}

// kubePod is a pod as a v1 Pod with its status (kube.PodStatus), from its
// spec and its status as the daemon gives them.
func kubePod(c *cli.Context, name string, o kube.Options) (*corev1.Pod, error) {
	cl := client(c)
	spec, err := cl.Spec(c.Context, name)
	if err != nil {
		return nil, err
	}
	st, err := cl.Get(c.Context, name)
	if err != nil {
		return nil, err
	}
	return kube.PodStatus(spec, &st, o)
}

// kubeOptions are the host facts kube.PodStatus reads (spec.nodeName,
// status.hostIP): the daemon's host is this one, as its socket is.
func kubeOptions() kube.Options { return manifest.HostFacts("/").Options() }

// podList is a v1 List of Pods, as kubectl prints one.
type podList struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Items      []*corev1.Pod `json:"items"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

// getCommand is `podvisor get pod NAME`, kubectl's verb for the pods in
// Kubernetes' shape.
func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print pods as Kubernetes v1 Pods (-o yaml|json), or list them as kubectl does",
		ArgsUsage: "pod|pods|po [NAME...]",
		Flags:     []cli.Flag{socketFlag(), outputFlag("", "yaml, json or table (default: yaml with NAME, table without)")},
		Action:    getAction,
	}
}

func getAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return errors.New("get: a resource type is needed: podvisor get pod [NAME...]")
	}
	switch args[0] {
	case "pod", "pods", "po":
	default:
		return fmt.Errorf("get: unknown resource type %q: podvisor has pods only (pod, pods, po)", args[0])
	}
	names := args[1:]
	o := c.String("output")
	if o == "" {
		o = "table"
		if len(names) > 0 {
			o = "yaml"
		}
	}
	if o != "yaml" && o != "json" && o != "table" {
		return fmt.Errorf("-o: must be yaml, json or table, got %q", o)
	}
	cl := client(c)
	if o == "table" {
		var sts []pod.Status
		if len(names) == 0 {
			all, err := cl.List(c.Context)
			if err != nil {
				return err
			}
			sts = all
		}
		for _, n := range names {
			st, err := cl.Get(c.Context, n)
			if err != nil {
				return err
			}
			sts = append(sts, st)
		}
		return printKubeTable(c.App.Writer, sts)
	}
	ko := kubeOptions()
	listAll := len(names) == 0
	if listAll {
		all, err := cl.List(c.Context)
		if err != nil {
			return err
		}
		for _, st := range all {
			names = append(names, st.Name)
		}
	}
	var items []*corev1.Pod
	for _, n := range names {
		kp, err := kubePod(c, n, ko)
		if err != nil {
			if listAll && errors.Is(err, pod.ErrNotFound) {
				continue // removed meanwhile
			}
			return err
		}
		items = append(items, kp)
	}
	var v any
	if len(items) == 1 && !listAll {
		v = items[0]
	} else {
		l := podList{APIVersion: "v1", Kind: "List", Items: items}
		if l.Items == nil {
			l.Items = []*corev1.Pod{}
		}
		v = l
	}
	if o == "json" {
		return printJSON(c.App.Writer, v)
	}
	return printYAML(c.App.Writer, v)
}

// printKubeTable lists pods as kubectl get pods does: NAME, READY, STATUS,
// RESTARTS, AGE, with NAMESPACE first when a pod has a namespace (a pod of
// a podvisor/v1 file is then in "default", as its v1 Pod is).
func printKubeTable(w io.Writer, pods []pod.Status) error {
	withNS := slices.ContainsFunc(pods, func(st pod.Status) bool { return st.Namespace != "" })
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if withNS {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE")
	for _, st := range pods {
		if withNS {
			ns := st.Namespace
			if ns == "" {
				ns = "default"
			}
			fmt.Fprintf(tw, "%s\t", ns)
		}
		ready, total := st.Ready()
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%s\n", st.Name, ready, total, kubeStatusWord(&st), st.Restarts(), age(time.Since(st.CreatedAt)))
	}
	return tw.Flush()
}

// kubeStatusWord is kubectl's STATUS column: the pod's reason or phase, in
// Kubernetes' terms, overridden by what holds it back: Init:i/n while init
// processes run, Init:<reason> for a failing one, the reason of a waiting
// or terminated app process (CrashLoopBackOff, Error, Completed).
func kubeStatusWord(st *pod.Status) string {
	if st.Phase == pod.PhaseTerminating {
		return "Terminating"
	}
	reason := string(st.Phase)
	switch st.Phase {
	case pod.PhasePending, pod.PhaseInitializing:
		reason = "Pending"
	}
	if st.Reason != "" {
		reason = st.Reason
	}
	for i, ps := range st.Init {
		switch {
		case ps.State == pod.StateTerminated && ps.ExitCode != nil && *ps.ExitCode == 0:
			continue
		case ps.Sidecar && ps.Started:
			continue
		case ps.State == pod.StateTerminated && ps.Reason != "":
			return "Init:" + ps.Reason
		case ps.State == pod.StateWaiting && ps.Reason != "" && ps.Reason != pod.ReasonPodInitializing:
			return "Init:" + ps.Reason
		}
		if st.Phase == pod.PhaseInitializing || st.Phase == pod.PhasePending {
			return fmt.Sprintf("Init:%d/%d", i, len(st.Init))
		}
		break
	}
	running := false
	for i := len(st.Processes) - 1; i >= 0; i-- {
		ps := st.Processes[i]
		switch {
		case ps.State == pod.StateWaiting && ps.Reason != "":
			reason = ps.Reason
		case ps.State == pod.StateTerminated && ps.Reason != "":
			reason = ps.Reason
		case ps.State == pod.StateRunning && ps.Ready:
			running = true
		}
	}
	if reason == pod.ReasonCompleted && running {
		reason = "Running"
	}
	return reason
}
