package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Pod spec validation with upstream's field paths and messages
// (pkg/apis/core/validation): the checks users meet in practice. isPod
// enables the pod-only rules (activeDeadlineSeconds > 0).
func validatePodSpec(s *corev1.PodSpec, _ *metav1.ObjectMeta, p *field.Path, isPod bool) field.ErrorList {
	var errs field.ErrorList
	volumes, verrs := validateVolumes(s.Volumes, p.Child("volumes"))
	errs = append(errs, verrs...)
	names := sets.New[string]()
	errs = append(errs, validateContainers(s.InitContainers, volumes, names, p.Child("initContainers"), true)...)
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	errs = append(errs, validateContainers(s.Containers, volumes, names, p.Child("containers"), false)...)
	errs = append(errs, validateEnum(string(s.RestartPolicy), p.Child("restartPolicy"),
		string(corev1.RestartPolicyAlways), string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever))...)
	errs = append(errs, validateEnum(string(s.DNSPolicy), p.Child("dnsPolicy"),
		string(corev1.DNSClusterFirstWithHostNet), string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone))...)
	if s.DNSPolicy == corev1.DNSNone && (s.DNSConfig == nil || len(s.DNSConfig.Nameservers) == 0) {
		errs = append(errs, field.Required(p.Child("dnsConfig", "nameservers"),
			fmt.Sprintf("must provide at least one DNS nameserver when DNSPolicy is %s", corev1.DNSNone)))
	}
	for k, v := range s.NodeSelector {
		errs = append(errs, metav1validation.ValidateLabels(map[string]string{k: v}, p.Child("nodeSelector"))...)
	}
	if s.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.ServiceAccountName) {
			errs = append(errs, field.Invalid(p.Child("serviceAccountName"), s.ServiceAccountName, msg))
		}
	}
	if s.NodeName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.NodeName) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), s.NodeName, msg))
		}
	}
	if s.Hostname != "" {
		errs = append(errs, dns1123Label(s.Hostname, p.Child("hostname"))...)
	}
	if s.Subdomain != "" {
		errs = append(errs, dns1123Label(s.Subdomain, p.Child("subdomain"))...)
	}
	if isPod && s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *s.ActiveDeadlineSeconds, "must be between 1 and 2147483647, inclusive"))
	}
	errs = append(errs, validateTolerations(s.Tolerations, p.Child("tolerations"))...)
	return errs
}

func validateEnum(v string, p *field.Path, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

func dns1123Label(v string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	return errs
}

func validateVolumes(vols []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, v := range vols {
		ip := p.Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(v.Name, ip.Child("name"))...)
		}
		if names.Has(v.Name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), v.Name))
		}
		names.Insert(v.Name)
		if n := countVolumeSources(&v.VolumeSource); n == 0 {
			errs = append(errs, field.Required(ip, "must specify a volume type"))
		} else if n > 1 {
			errs = append(errs, field.Forbidden(ip, "may not specify more than 1 volume type"))
		}
	}
	return names, errs
}

// countVolumeSources counts the non-nil sources of a volume.
func countVolumeSources(src *corev1.VolumeSource) int {
	n := 0
	for _, set := range []bool{
		src.HostPath != nil, src.EmptyDir != nil, src.GCEPersistentDisk != nil, src.AWSElasticBlockStore != nil,
		src.GitRepo != nil, src.Secret != nil, src.NFS != nil, src.ISCSI != nil, src.Glusterfs != nil,
		src.PersistentVolumeClaim != nil, src.RBD != nil, src.FlexVolume != nil, src.Cinder != nil,
		src.CephFS != nil, src.Flocker != nil, src.DownwardAPI != nil, src.FC != nil, src.AzureFile != nil,
		src.ConfigMap != nil, src.VsphereVolume != nil, src.Quobyte != nil, src.AzureDisk != nil,
		src.PhotonPersistentDisk != nil, src.Projected != nil, src.PortworxVolume != nil, src.ScaleIO != nil,
		src.StorageOS != nil, src.CSI != nil, src.Ephemeral != nil, src.Image != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

func validateContainers(cs []corev1.Container, volumes, names sets.Set[string], p *field.Path, init bool) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		ip := p.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(c.Name, ip.Child("name"))...)
		}
		if c.Name != "" && names.Has(c.Name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), c.Name))
		}
		names.Insert(c.Name)
		if c.Image == "" {
			errs = append(errs, field.Required(ip.Child("image"), ""))
		} else if strings.TrimSpace(c.Image) != c.Image {
			errs = append(errs, field.Invalid(ip.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		errs = append(errs, validateEnum(string(c.ImagePullPolicy), ip.Child("imagePullPolicy"),
			string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever))...)
		errs = append(errs, validateEnum(string(c.TerminationMessagePolicy), ip.Child("terminationMessagePolicy"),
			string(corev1.TerminationMessageReadFile), string(corev1.TerminationMessageFallbackToLogsOnError))...)
		errs = append(errs, validateContainerPorts(c.Ports, ip.Child("ports"))...)
		errs = append(errs, validateEnv(c.Env, ip.Child("env"))...)
		errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, ip.Child("volumeMounts"))...)
		errs = append(errs, validateResources(&c.Resources, ip.Child("resources"))...)
		sidecar := init && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if init && !sidecar {
			for _, probe := range []struct {
				name string
				p    *corev1.Probe
			}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
				if probe.p != nil {
					errs = append(errs, field.Forbidden(ip.Child(probe.name), "may not be set for init containers without restartPolicy=Always"))
				}
			}
			continue
		}
		errs = append(errs, validateProbe(c.LivenessProbe, ip.Child("livenessProbe"), true)...)
		errs = append(errs, validateProbe(c.ReadinessProbe, ip.Child("readinessProbe"), false)...)
		errs = append(errs, validateProbe(c.StartupProbe, ip.Child("startupProbe"), true)...)
	}
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(ip.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(ip.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(ip.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(ip.Child("hostPort"), port.HostPort, msg))
			}
		}
		errs = append(errs, validateEnum(string(port.Protocol), ip.Child("protocol"),
			string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP))...)
	}
	return errs
}

func validateEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ip := p.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ip.Child("name"), e.Name, msg))
			}
		}
		if e.Value != "" && e.ValueFrom != nil {
			errs = append(errs, field.Invalid(ip.Child("valueFrom"), "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		ip := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(ip.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(ip.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(ip.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
	}
	return errs
}

// validateResources: names must be known or qualified, quantities
// non-negative, requests no greater than limits.
func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	for name, q := range r.Limits {
		errs = append(errs, validateQuantity(name, q.Sign() < 0, q.String(), limPath.Key(string(name)))...)
	}
	for name, q := range r.Requests {
		errs = append(errs, validateQuantity(name, q.Sign() < 0, q.String(), reqPath.Key(string(name)))...)
		if lim, ok := r.Limits[name]; ok && q.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

func validateQuantity(name corev1.ResourceName, negative bool, value string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !strings.Contains(string(name), "/") {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourceStorage:
		default:
			if !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
				errs = append(errs, field.Invalid(p, name, "must be a standard resource type or fully qualified"))
			}
		}
	}
	if negative {
		errs = append(errs, field.Invalid(p, value, "must be greater than or equal to 0"))
	}
	return errs
}

func validateProbe(pr *corev1.Probe, p *field.Path, successMustBeOne bool) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	for _, set := range []bool{pr.Exec != nil, pr.HTTPGet != nil, pr.TCPSocket != nil, pr.GRPC != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	if pr.HTTPGet != nil {
		errs = append(errs, validatePortNumOrName(pr.HTTPGet.Port, p.Child("httpGet", "port"))...)
	}
	if pr.TCPSocket != nil {
		errs = append(errs, validatePortNumOrName(pr.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if f.v < 0 {
			errs = append(errs, field.Invalid(p.Child(f.name), f.v, "must be greater than or equal to 0"))
		}
	}
	if successMustBeOne && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if pr.TerminationGracePeriodSeconds != nil && *pr.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

func validatePortNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.Int {
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(p, port.IntValue(), msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortName(port.StrVal) {
		errs = append(errs, field.Invalid(p, port.StrVal, msg))
	}
	return errs
}

func validateTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		ip := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(ip.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(ip.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(ip.Child("operator"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(ip.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(ip.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		if t.Effect != "" {
			errs = append(errs, validateEnum(string(t.Effect), ip.Child("effect"),
				string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute))...)
		}
	}
	return errs
}

// deprecatedNodeLabels are the node labels upstream warns about in pod
// node selectors and node affinity.
func deprecatedNodeLabels() map[string]string {
	return map[string]string{
		"beta.kubernetes.io/arch":                  `deprecated since v1.14; use "kubernetes.io/arch" instead`,
		"beta.kubernetes.io/os":                    `deprecated since v1.14; use "kubernetes.io/os" instead`,
		"failure-domain.beta.kubernetes.io/region": `deprecated since v1.17; use "topology.kubernetes.io/region" instead`,
		"failure-domain.beta.kubernetes.io/zone":   `deprecated since v1.17; use "topology.kubernetes.io/zone" instead`,
		"beta.kubernetes.io/instance-type":         `deprecated since v1.17; use "node.kubernetes.io/instance-type" instead`,
	}
}

// podSpecWarnings are the warnings upstream's pod warnings produce for the
// most common deprecated usages.
func podSpecWarnings(s *corev1.PodSpec, p *field.Path) []string {
	var out []string
	deprecated := deprecatedNodeLabels()
	for _, k := range sets.List(sets.KeySet(s.NodeSelector)) {
		if msg, ok := deprecated[k]; ok {
			out = append(out, fmt.Sprintf("%s: %s", p.Child("nodeSelector").Key(k), msg))
		}
	}
	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		termsPath := p.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		for i, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for j, e := range term.MatchExpressions {
				if msg, ok := deprecated[e.Key]; ok {
					out = append(out, fmt.Sprintf("%s: %s is %s", termsPath.Index(i).Child("matchExpressions").Index(j).Child("key"), e.Key, msg))
				}
			}
		}
	}
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		out = append(out, fmt.Sprintf("%s: must be >= 0; negative values are invalid and will be treated as 1", p.Child("terminationGracePeriodSeconds")))
	}
	for i, v := range s.Volumes {
		if v.GitRepo != nil {
			out = append(out, fmt.Sprintf("%s: deprecated in v1.11", p.Child("volumes").Index(i).Child("gitRepo")))
		}
	}
	return out
}
