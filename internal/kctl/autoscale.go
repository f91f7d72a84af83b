package kctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func newAutoscaleCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var min, max, cpu int32
	var name, cpuFlag string
	cmd := &cobra.Command{
		Use:   "autoscale (-f FILENAME | TYPE NAME | TYPE/NAME) [--min=MINPODS] --max=MAXPODS [--cpu-percent=CPU]",
		Short: "Auto-scale a deployment, replica set, stateful set, or replication controller",
		RunE: func(cmd *cobra.Command, args []string) error {
			if max < 1 {
				return fmt.Errorf("--max=MAXPODS is required and must be at least 1, max: %d", max)
			}
			if min > max {
				return fmt.Errorf("--max=MAXPODS must be larger or equal to --min=MINPODS, max: %d, min: %d", max, min)
			}
			if err := mf.check(); err != nil {
				return err
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			for _, s := range objs {
				n := name
				if n == "" {
					n = s.obj.GetName()
				}
				hpa := &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: tm("autoscaling/v2", "HorizontalPodAutoscaler"),
					ObjectMeta: metav1.ObjectMeta{Name: n},
					Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: max,
						ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: s.obj.GetAPIVersion(), Kind: s.obj.GetKind(), Name: s.obj.GetName()}}}
				if min > 0 {
					hpa.Spec.MinReplicas = &min
				}
				if strings.HasSuffix(cpuFlag, "%") {
					n, err := strconv.Atoi(strings.TrimSuffix(cpuFlag, "%"))
					if err != nil {
						return fmt.Errorf("invalid --cpu value %q", cpuFlag)
					}
					cpu = int32(n)
				} else if cpuFlag != "" {
					q, err := resource.ParseQuantity(cpuFlag)
					if err != nil {
						return fmt.Errorf("invalid --cpu value %q", cpuFlag)
					}
					hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType,
						Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
							Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}}}}
				}
				if cpu >= 0 {
					c := cpu
					hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType,
						Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
							Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &c}}}}
				}
				gvr := schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
				if err := createObjectAs(f, cmd, &mf, gvr, hpa, "autoscaled"); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&sel.filenames, "filename", "f", nil, "Filename, directory, or URL to files identifying the resource to autoscale.")
	fl.BoolVarP(&sel.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	fl.Int32Var(&min, "min", -1, "The lower limit for the number of pods that can be set by the autoscaler. If it's not specified or negative, the server will apply a default value.")
	fl.Int32Var(&max, "max", -1, "The upper limit for the number of pods that can be set by the autoscaler. Required.")
	fl.Int32Var(&cpu, "cpu-percent", -1, "The target average CPU utilization (represented as a percent of requested CPU) over all the pods. If it's not specified or negative, a default autoscaling policy will be used.")
	fl.StringVar(&cpuFlag, "cpu", "", "Target CPU utilization over all the pods. When specified as a percentage (e.g.\"70%\" for 70% of requested CPU) it will target average utilization. When specified as quantity (e.g.\"500m\" for 500 milliCPU) it will target average value.")
	fl.MarkDeprecated("cpu-percent", "Use --cpu with percentage or resource quantity format (e.g., '70%' for utilization or '500m' for milliCPU).")
	fl.StringVar(&name, "name", "", "The name for the newly created object. If not specified, the name of the input resource will be used.")
	mf.add(cmd, "kubectl-autoscale", false)
	return cmd
}
