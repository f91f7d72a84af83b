package kctl

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// generator builds the object a `create <kind>` subcommand creates.
type generator struct {
	use, short string
	aliases    []string
	// wrap is kubectl's error prefix ("failed to create configmap"), ""
	// for subcommands that print the server's error as is.
	wrap  string
	gvr   schema.GroupVersionResource
	flags func(cmd *cobra.Command)
	build func(cmd *cobra.Command, name string, args []string) (runtime.Object, error)
	// argsOK allows arguments after the name (job/cronjob command).
	argsOK bool
}

func createSubcommands(f *Factory) []*cobra.Command {
	var cmds []*cobra.Command
	for _, g := range generators() {
		cmds = append(cmds, g.command(f))
	}
	cmds = append(cmds, newCreateSecretCommand(f), newCreateServiceCommand(f), newCreateTokenCommand(f))
	return cmds
}

func (g generator) command(f *Factory) *cobra.Command {
	mf := &mutateFlags{}
	var saveConfig bool
	cmd := &cobra.Command{
		Use:     g.use,
		Short:   g.short,
		Aliases: g.aliases,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(cmd.CommandPath(), "NAME is required")
			}
			if len(args) > 1 && !g.argsOK {
				return usageError(cmd.CommandPath(), "exactly one NAME is required, got %d", len(args))
			}
			if err := mf.check(); err != nil {
				return err
			}
			obj, err := g.build(cmd, args[0], args[1:])
			if err != nil {
				return err
			}
			return createObject(f, cmd, mf, g.gvr, obj, g.wrap, saveConfig)
		},
	}
	if g.flags != nil {
		g.flags(cmd)
	}
	cmd.Flags().BoolVar(&saveConfig, "save-config", false, "If true, the configuration of current object will be saved in its annotation.")
	mf.add(cmd, "kubectl-create", true)
	return cmd
}

// createObject posts a generated object to its namespace (-n or the
// context's) and prints the result.
func createObject(f *Factory, cmd *cobra.Command, mf *mutateFlags, gvr schema.GroupVersionResource, obj runtime.Object, wrap string, saveConfig bool) error {
	return createObjectWord(f, cmd, mf, obj, wrap, saveConfig, "created")
}

// createObjectAs creates obj and reports it with another operation word
// (`exposed`, `autoscaled`).
func createObjectAs(f *Factory, cmd *cobra.Command, mf *mutateFlags, _ schema.GroupVersionResource, obj runtime.Object, word string) error {
	return createObjectWord(f, cmd, mf, obj, "", false, word)
}

func createObjectWord(f *Factory, cmd *cobra.Command, mf *mutateFlags, obj runtime.Object, wrap string, saveConfig bool, word string) error {
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	r, err := f.resolver()
	if err != nil {
		return err
	}
	mapping, err := r.mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
	if err != nil {
		return err
	}
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	// kubectl leaves the namespace out of client dry-run output unless -n
	// was given.
	if mapping.Scope.Name() == "namespace" && (explicit || !mf.client()) {
		u.SetNamespace(ns)
	}
	if saveConfig {
		if err := setLastApplied(u); err != nil {
			return err
		}
	}
	if mf.client() {
		return mf.print(f.IO.Out, u, word)
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	out, err := resourceClient(dyn, mapping, ns).Create(cmd.Context(), u, mf.createOptions())
	if err != nil {
		if wrap != "" {
			return fmt.Errorf("%s%v", wrap, err)
		}
		return err
	}
	return mf.print(f.IO.Out, out, word)
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]`)

// containerName is kubectl's name for a container running image: the last
// path segment without tag or digest.
func containerName(image string) string {
	n := path.Base(image)
	n, _, _ = strings.Cut(n, "@")
	n, _, _ = strings.Cut(n, ":")
	return invalidNameChars.ReplaceAllString(strings.ToLower(n), "-")
}

func generators() []generator {
	return []generator{
		{use: "namespace NAME", aliases: []string{"ns"}, short: "Create a namespace with the specified name", gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
			build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
				return &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
			}},
		{use: "serviceaccount NAME", aliases: []string{"sa"}, short: "Create a service account with the specified name", wrap: "failed to create serviceaccount: ",
			gvr: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"},
			build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
				return &corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
			}},
		configMapGenerator(),
		deploymentGenerator(),
		roleGenerator("role", "Role"),
		roleGenerator("clusterrole", "ClusterRole"),
		bindingGenerator("rolebinding", "RoleBinding"),
		bindingGenerator("clusterrolebinding", "ClusterRoleBinding"),
		jobGenerator(),
		cronJobGenerator(),
	}
}

func deploymentGenerator() generator {
	return generator{use: "deployment NAME --image=image -- [COMMAND] [args...]", aliases: []string{"deploy"}, short: "Create a deployment with the specified name",
		wrap: "failed to create deployment: ", gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, argsOK: true,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringSlice("image", nil, "Image names to run. A deployment can have multiple images set for multi-container pod.")
			cmd.Flags().Int32("replicas", 1, "Number of replicas to create. Default is 1.")
			cmd.Flags().Int32("port", -1, "The containerPort that this deployment exposes.")
		},
		build: func(cmd *cobra.Command, name string, command []string) (runtime.Object, error) {
			images, _ := cmd.Flags().GetStringSlice("image")
			if len(images) == 0 {
				return nil, usageError(cmd.CommandPath(), "--image is required")
			}
			replicas, _ := cmd.Flags().GetInt32("replicas")
			port, _ := cmd.Flags().GetInt32("port")
			labels := map[string]string{"app": name}
			var cs []corev1.Container
			for i, img := range images {
				c := corev1.Container{Name: containerName(img), Image: img}
				if len(command) > 0 && len(images) == 1 {
					c.Command = command
				}
				if port >= 0 && i == 0 {
					c.Ports = []corev1.ContainerPort{{ContainerPort: port}}
				}
				cs = append(cs, c)
			}
			return &appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
				Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: cs}}}}, nil
		}}
}

func jobGenerator() generator {
	return generator{use: "job NAME --image=image [--from=cronjob/name] -- [COMMAND] [args...]", short: "Create a job with the specified name",
		wrap: "failed to create job: ", gvr: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, argsOK: true,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().String("image", "", "Image name to run.")
			cmd.Flags().String("from", "", "The name of the resource to create a Job from (only cronjob is supported).")
		},
		build: func(cmd *cobra.Command, name string, command []string) (runtime.Object, error) {
			image, _ := cmd.Flags().GetString("image")
			if image == "" {
				return nil, fmt.Errorf("--image must be specified")
			}
			return &batchv1.Job{TypeMeta: tm("batch/v1", "Job"), ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: name, Image: image, Command: command}}}}}}, nil
		}}
}

func cronJobGenerator() generator {
	return generator{use: "cronjob NAME --image=image --schedule='0/5 * * * ?' -- [COMMAND] [args...]", short: "Create a cron job with the specified name",
		wrap: "failed to create cronjob: ", gvr: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, argsOK: true,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().String("image", "", "Image name to run.")
			cmd.Flags().String("schedule", "", "A schedule in the Cron format the job should be run with.")
			cmd.Flags().String("restart", "", "job's restart policy. supported values: OnFailure, Never")
		},
		build: func(cmd *cobra.Command, name string, command []string) (runtime.Object, error) {
			image, _ := cmd.Flags().GetString("image")
			schedule, _ := cmd.Flags().GetString("schedule")
			restart, _ := cmd.Flags().GetString("restart")
			if image == "" {
				return nil, fmt.Errorf("--image must be specified")
			}
			if schedule == "" {
				return nil, fmt.Errorf("--schedule must be specified")
			}
			if restart == "" {
				restart = string(corev1.RestartPolicyOnFailure)
			}
			return &batchv1.CronJob{TypeMeta: tm("batch/v1", "CronJob"), ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: batchv1.CronJobSpec{Schedule: schedule, JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicy(restart),
						Containers: []corev1.Container{{Name: name, Image: image, Command: command}}}}}}}}, nil
		}}
}

func roleGenerator(use, kind string) generator {
	res := "roles"
	if kind == "ClusterRole" {
		res = "clusterroles"
	}
	return generator{use: use + " NAME --verb=verb --resource=resource.group/subresource [--resource-name=resourcename]", short: "Create a " + strings.ToLower(kind),
		gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: res},
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringSlice("verb", nil, "Verb that applies to the resources contained in the rule")
			cmd.Flags().StringSlice("resource", nil, "Resource that the rule applies to")
			cmd.Flags().StringArray("resource-name", nil, "Resource in the white list that the rule applies to, repeat this flag for multiple items")
			if kind == "ClusterRole" {
				cmd.Flags().StringSlice("non-resource-url", nil, "A partial url that user should have access to.")
			}
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			verbs, _ := cmd.Flags().GetStringSlice("verb")
			resources, _ := cmd.Flags().GetStringSlice("resource")
			names, _ := cmd.Flags().GetStringArray("resource-name")
			if len(verbs) == 0 {
				return nil, fmt.Errorf("at least one verb must be specified")
			}
			rules := groupRules(verbs, resources, names)
			if kind == "ClusterRole" {
				if urls, _ := cmd.Flags().GetStringSlice("non-resource-url"); len(urls) > 0 {
					rules = append(rules, rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls})
				}
				return &rbacv1.ClusterRole{TypeMeta: tm("rbac.authorization.k8s.io/v1", kind), ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, nil
			}
			if len(resources) == 0 {
				return nil, fmt.Errorf("at least one resource must be specified")
			}
			return &rbacv1.Role{TypeMeta: tm("rbac.authorization.k8s.io/v1", kind), ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, nil
		}}
}

// groupRules makes one rule per API group, in order of first appearance.
func groupRules(verbs, resources, names []string) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	idx := map[string]int{}
	for _, r := range resources {
		res, sub, _ := strings.Cut(r, "/")
		group := ""
		if i := strings.Index(res, "."); i >= 0 {
			res, group = res[:i], res[i+1:]
		}
		if sub != "" {
			res += "/" + sub
		}
		i, ok := idx[group]
		if !ok {
			i = len(rules)
			idx[group] = i
			rules = append(rules, rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, ResourceNames: names})
		}
		rules[i].Resources = append(rules[i].Resources, res)
	}
	return rules
}

func bindingGenerator(use, kind string) generator {
	res := "rolebindings"
	if kind == "ClusterRoleBinding" {
		res = "clusterrolebindings"
	}
	return generator{use: use + " NAME --clusterrole=NAME|--role=NAME [--user=username] [--group=groupname] [--serviceaccount=namespace:serviceaccountname]",
		short: "Create a " + strings.ToLower(kind) + " for a particular role or cluster role", wrap: "failed to create " + use + ": ",
		gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: res},
		flags: func(cmd *cobra.Command) {
			cmd.Flags().String("clusterrole", "", "ClusterRole this "+kind+" should reference")
			if kind == "RoleBinding" {
				cmd.Flags().String("role", "", "Role this RoleBinding should reference")
			}
			cmd.Flags().StringArray("user", nil, "Usernames to bind to the role. The flag can be repeated to add multiple users.")
			cmd.Flags().StringArray("group", nil, "Groups to bind to the role. The flag can be repeated to add multiple groups.")
			cmd.Flags().StringArray("serviceaccount", nil, "Service accounts to bind to the role, in the format <namespace>:<name>. The flag can be repeated to add multiple service accounts.")
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			cr, _ := cmd.Flags().GetString("clusterrole")
			role := ""
			if kind == "RoleBinding" {
				role, _ = cmd.Flags().GetString("role")
			}
			ref := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr}
			switch {
			case cr != "" && role != "":
				return nil, fmt.Errorf("exactly one of clusterrole or role must be specified")
			case role != "":
				ref.Kind, ref.Name = "Role", role
			case cr == "":
				if kind == "RoleBinding" {
					return nil, fmt.Errorf("exactly one of clusterrole or role must be specified")
				}
				return nil, fmt.Errorf("clusterrole must be specified")
			}
			subjects, err := bindingSubjects(cmd)
			if err != nil {
				return nil, err
			}
			meta := metav1.ObjectMeta{Name: name}
			if kind == "ClusterRoleBinding" {
				return &rbacv1.ClusterRoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", kind), ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, nil
			}
			return &rbacv1.RoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", kind), ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, nil
		}}
}

func bindingSubjects(cmd *cobra.Command) ([]rbacv1.Subject, error) {
	users, _ := cmd.Flags().GetStringArray("user")
	groups, _ := cmd.Flags().GetStringArray("group")
	sas, _ := cmd.Flags().GetStringArray("serviceaccount")
	var out []rbacv1.Subject
	for _, u := range users {
		out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	for _, g := range groups {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	for _, sa := range sas {
		ns, name, ok := strings.Cut(sa, ":")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("serviceaccount must be <namespace>:<name>")
		}
		out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name})
	}
	return out, nil
}
