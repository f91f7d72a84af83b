// Package daemonset is the DaemonSet controller, behaving as upstream's:
//
//   - a node should run the daemon pod when the template's nodeName (if
//     any), nodeSelector and required node affinity match it and its
//     NoSchedule/NoExecute taints are tolerated; a pod already there keeps
//     running while only NoSchedule taints are untolerated;
//   - pods get the automatic DaemonSet tolerations (not-ready and
//     unreachable NoExecute; disk-, memory-, pid-pressure and unschedulable
//     NoSchedule; network-unavailable for hostNetwork pods) and a required
//     node affinity to their node (matchFields metadata.name), and are bound
//     by the scheduler like any pod;
//   - node additions, removals, label and taint changes are followed:
//     pods are created where they should run and deleted where they
//     should not, or whose node is gone; failed daemon pods are replaced;
//   - each template is a ControllerRevision ("<ds>-<hash>", the hash also
//     the pods' controller-revision-hash label, with the deprecated
//     pod-template-generation label); RollingUpdate replaces old pods
//     within maxUnavailable, or with maxSurge starts the new pod beside the
//     old one first; OnDelete waits for the user;
//   - status: desiredNumberScheduled, currentNumberScheduled,
//     numberMisscheduled, numberReady, numberAvailable (minReadySeconds),
//     numberUnavailable, updatedNumberScheduled, observedGeneration,
//     collisionCount.
package daemonset
