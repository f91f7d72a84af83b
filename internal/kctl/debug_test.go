package kctl

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func debugPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{
			NodeName:       "n1",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx",
				LivenessProbe: &corev1.Probe{}, ReadinessProbe: &corev1.Probe{}, StartupProbe: &corev1.Probe{}}},
		},
	}
}

func capabilities(sc *corev1.SecurityContext) string {
	if sc == nil || sc.Capabilities == nil {
		return ""
	}
	var s []string
	for _, c := range sc.Capabilities.Add {
		s = append(s, "+"+string(c))
	}
	for _, c := range sc.Capabilities.Drop {
		s = append(s, "-"+string(c))
	}
	return strings.Join(s, ",")
}

func TestDebugProfilesOnNodePods(t *testing.T) {
	for _, tc := range []struct {
		profile       string
		hostNS, mount bool
		caps          string
		privileged    bool
	}{
		{profile: "legacy", hostNS: true, mount: true},
		{profile: "general", hostNS: true, mount: true},
		{profile: "baseline"},
		{profile: "restricted", caps: "-ALL"},
		{profile: "netadmin", hostNS: true, caps: "+NET_ADMIN,+NET_RAW"},
		{profile: "sysadmin", hostNS: true, mount: true, privileged: true},
	} {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debugger", SecurityContext: &corev1.SecurityContext{}}}}}
		if err := applyDebugProfile(tc.profile, debugNode, p, "debugger", keepFlags{}); err != nil {
			t.Fatal(err)
		}
		c := p.Spec.Containers[0]
		if got := p.Spec.HostPID && p.Spec.HostNetwork && p.Spec.HostIPC; got != tc.hostNS {
			t.Errorf("%s: host namespaces %v, want %v", tc.profile, got, tc.hostNS)
		}
		mounted := len(c.VolumeMounts) == 1 && c.VolumeMounts[0].MountPath == "/host" && len(p.Spec.Volumes) == 1 && p.Spec.Volumes[0].HostPath.Path == "/"
		if mounted != tc.mount {
			t.Errorf("%s: host root mounted %v, want %v", tc.profile, mounted, tc.mount)
		}
		if got := capabilities(c.SecurityContext); got != tc.caps {
			t.Errorf("%s: capabilities %q, want %q", tc.profile, got, tc.caps)
		}
		if got := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged; got != tc.privileged {
			t.Errorf("%s: privileged %v", tc.profile, got)
		}
	}
	if err := applyDebugProfile("nope", debugNode, &corev1.Pod{}, "x", keepFlags{}); err == nil || err.Error() != "unknown profile: nope" {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestDebugEphemeralContainerGetsPtrace(t *testing.T) {
	p := debugPod()
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-x"}}}
	if err := applyDebugProfile("general", debugEphemeral, p, "debugger-x", keepFlags{}); err != nil {
		t.Fatal(err)
	}
	if got := capabilities(p.Spec.EphemeralContainers[0].SecurityContext); got != "+SYS_PTRACE" {
		t.Errorf("ephemeral capabilities %q", got)
	}
	if p.Spec.Containers[0].SecurityContext != nil || p.Labels == nil {
		t.Error("the profile changed more than the debug container")
	}
}

func TestDebugPodCopy(t *testing.T) {
	var out bytes.Buffer
	f := &Factory{IO: genericiooptions.IOStreams{Out: &out}}
	o := &debugOptions{copyTo: "web-debug", image: "busybox", profile: "general", setImages: map[string]string{"*": "nginx:2"},
		keep: keepFlags{readiness: true, initContainers: true}, stdin: true, tty: true}
	cp, name, err := o.podCopy(f, debugPod())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "debugger-") || out.String() != "Defaulting debug container name to "+name+".\n" {
		t.Errorf("debug container %q, message %q", name, out.String())
	}
	if cp.Name != "web-debug" || cp.Spec.NodeName != "" || cp.Labels != nil || cp.Annotations != nil {
		t.Errorf("copy metadata %+v node %q", cp.ObjectMeta, cp.Spec.NodeName)
	}
	app := cp.Spec.Containers[0]
	if app.Image != "nginx:2" || app.LivenessProbe != nil || app.StartupProbe != nil || app.ReadinessProbe == nil {
		t.Errorf("copied app container: image %q probes %v %v %v", app.Image, app.LivenessProbe, app.ReadinessProbe, app.StartupProbe)
	}
	if len(cp.Spec.InitContainers) != 1 || cp.Spec.ShareProcessNamespace == nil || !*cp.Spec.ShareProcessNamespace {
		t.Errorf("init containers %d, shareProcessNamespace %v", len(cp.Spec.InitContainers), cp.Spec.ShareProcessNamespace)
	}
	dbg := cp.Spec.Containers[1]
	if dbg.Name != name || dbg.Image != "busybox" || !dbg.Stdin || !dbg.TTY || capabilities(dbg.SecurityContext) != "+SYS_PTRACE" {
		t.Errorf("debug container %+v", dbg)
	}

	// -c naming an existing container changes that container instead.
	o = &debugOptions{copyTo: "web-debug", image: "nginx:3", container: "app", args: []string{"sh"}, profile: "legacy", keep: keepFlags{labels: true}}
	cp, name, err = o.podCopy(f, debugPod())
	if err != nil || name != "app" || len(cp.Spec.Containers) != 1 || cp.Spec.Containers[0].Image != "nginx:3" || cp.Spec.Containers[0].Command[0] != "sh" {
		t.Errorf("existing container: %v %q %+v", err, name, cp.Spec.Containers)
	}
	if cp.Labels != nil {
		t.Error("the legacy profile keeps labels of a copy (it never does)")
	}
}

func TestDebugValidation(t *testing.T) {
	f := &Factory{IO: genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}}
	for _, tc := range []struct {
		o    debugOptions
		want string
	}{
		{debugOptions{names: []string{"p"}, profile: "general"}, "you must specify --image when not using --copy-to."},
		{debugOptions{names: []string{"p"}, attach: true, attachChanged: true, profile: "general"}, "you must specify --container or create a new container using --image in order to attach."},
		{debugOptions{names: []string{"p"}, copyTo: "c", profile: "general"}, "you must specify --image, --set-image or command arguments."},
		{debugOptions{names: []string{"p"}, copyTo: "c", args: []string{"sh"}, profile: "general"}, "you must specify an existing container or a new image when specifying args."},
		{debugOptions{names: []string{"p"}, image: "x", replace: true, profile: "general"}, "--replace may only be used with --copy-to."},
		{debugOptions{names: []string{"p"}, image: "Bad:Image", profile: "general"}, `invalid image name "Bad:Image": invalid reference format`},
		{debugOptions{image: "busybox", profile: "general"}, "NAME or filename is required for debug"},
		{debugOptions{names: []string{"p"}, image: "busybox", pullPolicy: "Sometimes", profile: "general"}, "invalid image pull policy: Sometimes"},
		{debugOptions{names: []string{"p"}, copyTo: "c", image: "busybox", target: "app", profile: "general"}, "--target is incompatible with --copy-to. Use --share-processes instead."},
		{debugOptions{names: []string{"p"}, image: "busybox", tty: true, profile: "general"}, "-i/--stdin is required for containers with -t/--tty=true"},
		{debugOptions{names: []string{"p"}, image: "registry.local:5000/team/busybox:1.36@sha256:" + strings.Repeat("a", 64), profile: "x"}, "unknown profile: x"},
		{debugOptions{names: []string{"p"}, image: "busybox", profile: "general"}, ""},
	} {
		err := tc.o.validate(f)
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%+v: no error, want %q", tc.o, tc.want)
		}
	}
}
