package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// code is the outcome of a filter, as upstream's framework status codes.
type code uint8

const (
	codeSuccess code = iota
	// codeUnschedulable: the pod does not fit this node now, but removing
	// pods (preemption) might help.
	codeUnschedulable
	// codeUnresolvable (UnschedulableAndUnresolvable upstream): preemption
	// cannot help on this node.
	codeUnresolvable
	// codeError: something went wrong; the pod is retried after back-off.
	codeError
)

// plugin names the filter that produced a status; queueing hints use it to
// decide which cluster events may make a pod schedulable.
type plugin uint8

const (
	pluginNone plugin = iota
	pluginNodeUnschedulable
	pluginNodeName
	pluginTaintToleration
	pluginNodeAffinity
	pluginNodePorts
	pluginNodeResourcesFit
	pluginVolumeBinding
	pluginPodTopologySpread
	pluginInterPodAffinity
	pluginDefaultPreemption
)

func (p plugin) String() string {
	switch p {
	case pluginNodeUnschedulable:
		return "NodeUnschedulable"
	case pluginNodeName:
		return "NodeName"
	case pluginTaintToleration:
		return "TaintToleration"
	case pluginNodeAffinity:
		return "NodeAffinity"
	case pluginNodePorts:
		return "NodePorts"
	case pluginNodeResourcesFit:
		return "NodeResourcesFit"
	case pluginVolumeBinding:
		return "VolumeBinding"
	case pluginPodTopologySpread:
		return "PodTopologySpread"
	case pluginInterPodAffinity:
		return "InterPodAffinity"
	case pluginDefaultPreemption:
		return "DefaultPreemption"
	}
	return ""
}

// pluginSet is a set of plugins.
type pluginSet uint16

func (s pluginSet) has(p plugin) bool { return s&(1<<p) != 0 }
func (s *pluginSet) add(p plugin)     { *s |= 1 << p }

func pluginsOf(ps ...plugin) pluginSet {
	var s pluginSet
	for _, p := range ps {
		s.add(p)
	}
	return s
}

// status is a filter's verdict on a node; nil means success.
type status struct {
	code    code
	plugin  plugin
	reasons []string
	err     error
}

func newStatus(c code, p plugin, reasons ...string) *status {
	return &status{code: c, plugin: p, reasons: reasons}
}

func errorStatus(p plugin, err error) *status {
	return &status{code: codeError, plugin: p, reasons: []string{err.Error()}, err: err}
}

func (s *status) ok() bool { return s == nil || s.code == codeSuccess }

// rejected reports an unschedulable outcome (either kind).
func (s *status) rejected() bool {
	return s != nil && (s.code == codeUnschedulable || s.code == codeUnresolvable)
}

// message joins the reasons as upstream's Status.Message.
func (s *status) message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// diagnosis records why a pod fits no node: each failed node's status,
// the status of the nodes not examined (absent), the plugins that rejected
// the pod, and the messages of pre-filter and post-filter (preemption).
type diagnosis struct {
	nodeStatus    map[string]*status
	absent        *status
	plugins       pluginSet
	preFilterMsg  string
	postFilterMsg string
}

func newDiagnosis() diagnosis { return diagnosis{nodeStatus: map[string]*status{}} }

func (d *diagnosis) set(node string, s *status) {
	d.nodeStatus[node] = s
	d.addPlugin(s)
}

func (d *diagnosis) addPlugin(s *status) {
	if s.rejected() && s.plugin != pluginNone {
		d.plugins.add(s.plugin)
	}
}

// statusOf returns the status of node (the absent status when unrecorded).
func (d *diagnosis) statusOf(node string) *status {
	if s, ok := d.nodeStatus[node]; ok {
		return s
	}
	return d.absent
}

// errNoNodesAvailable is upstream's message when the cluster has no nodes.
var errNoNodesAvailable = errors.New("no nodes available to schedule pods")

// fitError says a pod fits none of numAllNodes nodes. Its message is
// upstream's, byte for byte: "0/N nodes are available: <pre-filter msg>."
// or "0/N nodes are available: <count> <reason>, …." (reasons counted over
// nodes and sorted as strings), then " <post-filter msg>" when preemption
// said something.
type fitError struct {
	numAllNodes int
	diag        diagnosis
}

func (f *fitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", f.numAllNodes)
	if f.diag.preFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", f.diag.preFilterMsg)
	} else if hist := f.histogram(); len(hist) > 0 {
		fmt.Fprintf(&b, " %s.", strings.Join(hist, ", "))
	}
	if f.diag.postFilterMsg != "" {
		fmt.Fprintf(&b, " %s", f.diag.postFilterMsg)
	}
	return b.String()
}

func (f *fitError) histogram() []string {
	counts := map[string]int{}
	for _, s := range f.diag.nodeStatus {
		for _, r := range s.reasons {
			counts[r]++
		}
	}
	if n := f.numAllNodes - len(f.diag.nodeStatus); n > 0 && f.diag.absent != nil {
		for _, r := range f.diag.absent.reasons {
			counts[r] += n
		}
	}
	out := make([]string, 0, len(counts))
	for r, n := range counts {
		out = append(out, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(out)
	return out
}
